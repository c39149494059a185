"""Graceful drain of ``mcpfleet up`` on SIGTERM (ADR-0015): readiness 503 at once, no new
connections, every call a front accepted answered (finished, or "The server is shutting
down" once the grace period ends: 503 with Retry-After, or the last event of its SSE
stream), streams ended cleanly, queued tasks kept for the next start, exit 0, and no
process left behind."""

from __future__ import annotations

import collections
import json
import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import trio

from tests.e2e.test_tasks import modern_poll, modern_submit
from tests.fixtures.fleet import start_embedded_fleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sse import events
from tests.fixtures.waiting import wait_until_async

APP = "tests.fixtures.drain_tools:app"
MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}
ACCEPT = "application/json, text/event-stream"
SHUTTING_DOWN = {
    "code": -32603,
    "message": "The server is shutting down",
    "data": {"reason": "shutting_down"},
}


def call(tool: str, ms: int, *, progress: bool = False) -> dict[str, object]:
    """A 2026-07-28 ``tools/call``; with ``progress`` it asks for progress (SSE)."""
    meta: dict[str, object] = {**ENVELOPE, "progressToken": "p"} if progress else ENVELOPE
    params = {"name": tool, "arguments": {"ms": ms}, "_meta": meta}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


def call_headers(tool: str) -> dict[str, str]:
    return {
        "accept": ACCEPT,
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }


def assert_shutting_down(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"] == SHUTTING_DOWN


async def test_sigterm_during_load_answers_every_accepted_call_exits_0_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    """Two fronts, an embedded Redis and 32 clients calling a 300 ms tool in a loop, each
    until its first failure. Every call a worker started is answered with its result;
    what failed was never started (refused connections, a request racing the close of its
    idle connection) or was refused as shutting down."""
    ms = 300
    fleet = start_embedded_fleet(
        tmp_path / "state", workers=2, app=APP, env={"MCPFLEET_FRONTS": "2"}
    )
    answered: list[str] = []
    refused: list[httpx.Response] = []
    failed: collections.Counter[str] = collections.Counter()
    try:
        await fleet.wait_for_async("fleet.ready")
        redis_pid = int(str(fleet.find("redis.started")[0]["redis_pid"]))
        children = [*fleet.front_pids(), *fleet.worker_pids()]
        assert len(children) == 4

        async def client(http: httpx.AsyncClient) -> None:
            while True:
                try:
                    response = await http.post(
                        fleet.url, json=call("traced_wait", ms), headers=call_headers("traced_wait")
                    )
                except httpx.TransportError as exc:
                    failed[type(exc).__name__] += 1
                    return
                if response.status_code != 200:
                    refused.append(response)
                    return
                answered.append(response.json()["result"]["content"][0]["text"])

        clients = [httpx.AsyncClient(timeout=60) for _ in range(32)]
        async with trio.open_nursery() as nursery:
            for http in clients:
                nursery.start_soon(client, http)
            await wait_until_async(lambda: len(answered) >= 64, deadline_s=60, what="64 calls")
            at_signal = len(answered)
            fleet.process.send_signal(signal.SIGTERM)
        for http in clients:
            await http.aclose()
        code = await trio.to_thread.run_sync(lambda: fleet.process.wait(timeout=60))
    finally:
        fleet.stop()
    assert code == 0, "".join(fleet.lines[-40:])
    fleet.join_log()
    started = {str(e["seen"]) for e in fleet.find("test_tool.started", ms=ms)}
    assert started == set(answered)  # every call a worker started was answered
    assert len(answered) > at_signal  # the calls in flight at the signal among them
    for response in refused:
        assert_shutting_down(response)
    assert set(failed) <= {"ConnectError", "RemoteProtocolError", "ReadError"}, failed
    assert sum(failed.values()) + len(refused) == 32  # each client ended once, that way
    # The fronts drained side by side, then the workers stopped, then Redis.
    assert len(fleet.find("front.draining")) == 2
    fronts_done = max(_at(e) for e in fleet.find("front.stopped"))
    assert fronts_done <= min(_at(e) for e in fleet.find("worker.stopped"))
    assert fleet.find("redis.stopped", exit_code=0)
    for pid in [*children, redis_pid]:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} outlived the fleet"
    assert fleet.errors() == [], fleet.errors()


async def test_readiness_turns_503_at_once_while_the_accept_grace_still_serves(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = start_fleet(
        redis_server, fleet_name, tmp_path, "--fronts", "2", app=APP,
        env={"MCPFLEET_FRONT__ACCEPT_GRACE_S": "5"},
    )  # fmt: skip
    base = fleet.base_url
    try:
        # A connection each: the probe and the call may reach either front.
        async with httpx.AsyncClient(timeout=30, headers={"connection": "close"}) as http:
            assert (await http.get(base + "/health/ready")).status_code == 200
            fleet.process.send_signal(signal.SIGTERM)
            await fleet.wait_for_async("front.draining", count=2)
            probe = await http.get(base + "/health/ready")
            assert probe.status_code == 503
            assert probe.headers["retry-after"] == "1"
            assert probe.json()["checks"]["draining"] == "yes"
            served = await http.post(
                fleet.url, json=call("traced_wait", 0), headers=call_headers("traced_wait")
            )
            assert served.status_code == 200  # still accepting, still serving
            await fleet.wait_for_async("front.stopped_accepting", count=2)
            code = await trio.to_thread.run_sync(lambda: fleet.process.wait(timeout=30))
    finally:
        fleet.stop()
    assert code == 0
    fleet.join_log()
    assert fleet.errors() == [], fleet.errors()


async def test_calls_running_at_the_end_of_the_grace_are_answered_shutting_down(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    """A 1 s grace and two 60 s calls: the JSON one is answered 503 with Retry-After, the
    SSE one gets the error as its last event, the workers stop both, a GET stream ends
    cleanly at once, and the fleet is gone long before the calls would have ended."""
    fleet = start_fleet(
        redis_server, fleet_name, tmp_path, workers=1, app=APP,
        env={"MCPFLEET_FRONT__GRACEFUL_TIMEOUT_S": "1"},
    )  # fmt: skip
    outcome: dict[str, object] = {}
    sse_started = trio.Event()
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            session = await _open_session(http, fleet.url)

            async def get_stream() -> None:
                async with http.stream("GET", fleet.url, headers=session) as response:
                    assert response.status_code == 200
                    outcome["get"] = [line async for line in response.aiter_lines()]

            async def json_call() -> None:
                outcome["json"] = await http.post(
                    fleet.url, json=call("traced_wait", 60_000), headers=call_headers("traced_wait")
                )

            async def sse_call() -> None:
                tool = "progress_then_wait"
                async with http.stream(
                    "POST", fleet.url, json=call(tool, 60_000, progress=True),
                    headers=call_headers(tool),
                ) as response:  # fmt: skip
                    assert response.headers["content-type"] == "text/event-stream"
                    sse_started.set()  # committed to SSE: its progress event was sent
                    lines = [line async for line in response.aiter_lines()]
                outcome["sse"] = [
                    json.loads(e["data"]) for e in events(iter(lines)) if e.get("data")
                ]

            async with trio.open_nursery() as nursery:
                nursery.start_soon(get_stream)
                nursery.start_soon(json_call)
                nursery.start_soon(sse_call)
                await fleet.wait_for_calls_taken(2)
                await sse_started.wait()
                signalled = time.monotonic()
                fleet.process.send_signal(signal.SIGTERM)
        code = await trio.to_thread.run_sync(lambda: fleet.process.wait(timeout=30))
        stopped_after_s = time.monotonic() - signalled
    finally:
        fleet.stop()
    assert code == 0
    assert stopped_after_s < 15  # the grace (1 s) and the workers' stop, not the 60 s calls
    response = outcome["json"]
    assert isinstance(response, httpx.Response)
    assert_shutting_down(response)
    sse = outcome["sse"]
    assert isinstance(sse, list)
    assert sse[0]["method"] == "notifications/progress"
    assert sse[-1] == {"jsonrpc": "2.0", "id": 1, "error": SHUTTING_DOWN}
    assert isinstance(outcome["get"], list)  # ended by the server, without an error
    fleet.join_log()
    (ended,) = fleet.find("front.grace_ended")
    assert ended["answered_shutting_down"] == 2
    assert len(fleet.find("call.cancelled")) == 2  # the workers stopped both calls
    assert fleet.errors() == [], fleet.errors()


def test_a_task_submitted_while_the_fleet_stops_stays_queued_for_the_next_start(
    tmp_path: Path,
) -> None:
    """Workers take no task from the queue once the stop began, though they could: the
    task waits in Redis (the embedded one's append-only file) and runs at the next start."""
    data_dir = tmp_path / "state"
    env = {"MCPFLEET_FRONT__ACCEPT_GRACE_S": "5"}
    first = start_embedded_fleet(data_dir, workers=1, app="tests.fixtures.task_tools:app", env=env)
    marker = uuid.uuid4().hex[:12]
    try:
        first.wait_for("fleet.ready")
        with first.http() as http:
            first.process.send_signal(signal.SIGTERM)
            first.wait_for("task_lane.stopped_taking")
            task_id = modern_submit(http, "add_later", {"a": 1, "b": 2, "marker": marker})
        assert first.process.wait(timeout=60) == 0
    finally:
        first.stop()
    first.join_log()
    assert first.find("task_tool.ran", marker=marker) == []
    assert first.errors() == [], first.errors()

    second = start_embedded_fleet(data_dir, workers=1, app="tests.fixtures.task_tools:app")
    try:
        second.wait_for("fleet.ready")
        with second.http() as http:
            task = modern_poll(http, task_id)
        assert task["status"] == "completed"
        assert task["result"]["structuredContent"] == 3
        assert second.find("task_tool.ran", marker=marker)
    finally:
        assert second.stop() == 0


async def _open_session(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """A 2025-11-25 session; the headers of its requests."""
    params = {"protocolVersion": "2025-11-25", "capabilities": {},
              "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
    init = await http.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params},
        headers={"accept": ACCEPT},
    )
    session = {
        "mcp-session-id": init.headers["mcp-session-id"],
        "mcp-protocol-version": "2025-11-25",
        "accept": ACCEPT,
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post(url, json=initialized, headers=session)).status_code == 202
    return session


def _at(event: dict[str, object]) -> str:
    return str(event["timestamp"])


def test_a_worker_restarted_while_the_fleet_stops_takes_no_queued_task(tmp_path: Path) -> None:
    """A worker that dies once the stop began is restarted with ``--hold-tasks``: it never
    starts its task lane, so a task submitted during the accept grace stays queued."""
    env = {"MCPFLEET_FRONT__ACCEPT_GRACE_S": "8"}
    fleet = start_embedded_fleet(
        tmp_path / "state", workers=1, app="tests.fixtures.task_tools:app", env=env
    )
    marker = uuid.uuid4().hex[:12]
    try:
        fleet.wait_for("fleet.ready")
        (first,) = fleet.worker_pids()
        with fleet.http() as http:
            fleet.process.send_signal(signal.SIGTERM)
            fleet.wait_for("task_lane.stopped_taking")
            os.kill(first, signal.SIGKILL)
            fleet.wait_for("task_lane.held")
            (second,) = fleet.worker_pids()
            cmdline = Path(f"/proc/{second}/cmdline").read_bytes().split(b"\0")
            assert b"--hold-tasks" in cmdline
            modern_submit(http, "add_later", {"a": 1, "b": 2, "marker": marker})
        assert fleet.process.wait(timeout=60) == 0
    finally:
        fleet.stop()
    fleet.join_log()
    assert fleet.find("task_tool.ran", marker=marker) == []
    assert len(fleet.find("task_lane.started")) == 1  # the first worker's only
    assert fleet.errors() == [], fleet.errors()
