"""Prometheus metrics of a real fleet (ADR-0012): a front's ``GET /metrics`` adds up every
process's values from the supervisor's metrics directory (emptied at start), so tool calls
add up across a worker killed midway, and still do once exited workers' files are folded
into the directory's archives; requests are counted per method and outcome in both
eras and on stdio; the queue gauges show the work waiting for a worker in both lanes; an
app's own metrics land there too; and no label ever carries an id."""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import trio
from mcp import Client
from mcp_types import TextContent

from proto import (
    TERMINAL_STATUSES,
    AuthFailure,
    Keyspace,
    QueueLane,
    RejectionReason,
    RequestOutcome,
    ToolOutcome,
)
from server.dispatch import SERVED_METHODS
from supervisor.child_slot import ExitReason, SlotState
from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE, modern_headers, open_session
from tests.fixtures.fleet import MCPFLEET, RunningFleet, start_fleet
from tests.fixtures.metrics import (
    Samples,
    metrics_url,
    read_dir,
    read_files,
    scrape,
    scrape_async,
    total,
)
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.stdio_process import StdioProcess, call, initialize, notification, request
from tests.fixtures.tools import app as test_tools
from tests.fixtures.waiting import wait_until_async, wait_until_true_async

TOOLS = "tests.fixtures.tools:app"
TOOL_CALLS = "mcpfleet_tool_calls_total"
REQUESTS = "mcpfleet_requests_total"
LEFTOVER = "counter_999999.db"
"""A file an earlier run of the fleet left in its metrics directory."""


def metrics_dir(fleet: RunningFleet) -> Path:
    return Path(fleet.data_dir) / "run" / "metrics"


@pytest.fixture(scope="module")
def metrics_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    """Two workers that run one call at a time each, so concurrent calls reach both."""
    workdir = tmp_path_factory.mktemp("fleet")
    leftover = workdir / "data" / "run" / "metrics" / LEFTOVER
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"values of an earlier run")
    running = start_fleet(
        redis_server, "y" + uuid.uuid4().hex[:10], workdir,
        workers=2, app=TOOLS, env={"MCPFLEET_WORKER__MAX_CONCURRENT_CALLS": "1"},
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


async def run_calls(client: Client, count: int) -> None:
    """``count`` calls at once, each holding its worker's one slot for a moment."""

    async def one() -> None:
        result = await client.call_tool("wait_for_cancel", {"seconds": 0.1})
        blocks = [b for b in result.content if isinstance(b, TextContent)]
        assert blocks[0].text == "finished"

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(one)


def test_the_directory_was_emptied_at_start_and_every_process_writes_there(
    metrics_fleet: RunningFleet,
) -> None:
    fleet = metrics_fleet
    names = {path.name for path in metrics_dir(fleet).iterdir()}
    assert LEFTOVER not in names
    for pid in [fleet.process.pid, *fleet.front_pids(), *fleet.worker_pids()]:
        assert f"counter_{pid}.db" in names, (pid, names)


async def test_tool_calls_add_up_across_a_worker_killed_midway(
    metrics_fleet: RunningFleet,
) -> None:
    fleet, half = metrics_fleet, 6
    before = await scrape_async(fleet.url)
    async with Client(fleet.url, mode="legacy", read_timeout_seconds=30) as client:
        await run_calls(client, half)
    # Both workers served some (each worker's own file says how many).
    workers = fleet.worker_pids()
    served = {
        pid: total(read_files([metrics_dir(fleet) / f"counter_{pid}.db"]), TOOL_CALLS)
        for pid in workers
    }
    assert len(served) == 2 and all(served.values()), served
    victim = workers[0]
    ready = len(fleet.find("worker.ready"))
    os.kill(victim, signal.SIGKILL)
    await fleet.wait_for_async("worker.ready", count=ready + 1)
    await wait_until_async(
        lambda: len(fleet.worker_pids()) == 2 and victim not in fleet.worker_pids(),
        deadline_s=10,
        what="the killed worker replaced",
    )
    async with Client(fleet.url, mode="legacy", read_timeout_seconds=30) as client:
        await run_calls(client, half)
    after = await scrape_async(fleet.url)
    assert delta(after, before, TOOL_CALLS, tool="wait_for_cancel") == 2 * half
    assert delta(after, before, TOOL_CALLS, tool="wait_for_cancel", outcome="ok") == 2 * half
    assert delta(after, before, "mcpfleet_tool_duration_seconds_count") == 2 * half
    assert delta(after, before, REQUESTS, method="tools/call", outcome="ok") == 2 * half
    assert delta(after, before, "mcpfleet_worker_restarts_total", reason="killed") == 1
    assert delta(after, before, "mcpfleet_worker_restarts_total") == 1

    async def pool_ready() -> bool:
        return total(await scrape_async(fleet.url), "mcpfleet_workers", state="ready") == 2

    await wait_until_true_async(pool_ready, deadline_s=10, what="2 workers ready")


def exited_pids_left(fleet: RunningFleet) -> dict[str, str]:
    """The directory's files whose process is no longer running (file name → pid part);
    archives are nobody's."""
    running = {fleet.process.pid, *fleet.front_pids(), *fleet.worker_pids()}
    left = {}
    for path in metrics_dir(fleet).glob("*.db"):
        pid = path.stem.rpartition("_")[2]
        if not pid.startswith("archive") and int(pid) not in running:
            left[path.name] = pid
    return left


async def test_exited_workers_files_are_folded_and_every_call_still_counts(
    metrics_fleet: RunningFleet,
) -> None:
    fleet, rounds, per_round = metrics_fleet, 3, 4
    before = await scrape_async(fleet.url)
    for _ in range(rounds):
        async with Client(fleet.url, mode="legacy", read_timeout_seconds=30) as client:
            await run_calls(client, per_round)
        ready = len(fleet.find("worker.ready"))
        os.kill(fleet.worker_pids()[0], signal.SIGKILL)
        await fleet.wait_for_async("worker.ready", count=ready + 1)
    async with Client(fleet.url, mode="legacy", read_timeout_seconds=30) as client:
        await run_calls(client, per_round)
    await wait_until_async(
        lambda: exited_pids_left(fleet) == {}, deadline_s=10, what="exited workers' files folded"
    )
    files = {path.name for path in metrics_dir(fleet).glob("*.db")}
    assert {"counter_archive.db", "histogram_archive.db"} <= files
    # One counter file per running process (supervisor, front, 2 workers) and the archive's.
    counters = [name for name in files if name.startswith("counter_")]
    assert len([name for name in counters if "archive" not in name]) == 4, files
    after = await scrape_async(fleet.url)
    calls = (rounds + 1) * per_round
    assert delta(after, before, TOOL_CALLS, tool="wait_for_cancel", outcome="ok") == calls
    assert delta(after, before, "mcpfleet_tool_duration_seconds_count") == calls
    assert delta(after, before, REQUESTS, method="tools/call", outcome="ok") == calls
    assert delta(after, before, "mcpfleet_worker_restarts_total", reason="killed") == rounds
    # Every sample of a counter or histogram only ever grew, none fell (a reset to Prometheus).
    for key, value in before.items():
        if key[0].endswith(("_total", "_count", "_sum", "_bucket")):
            assert after[key] >= value, key


def test_requests_are_counted_by_method_and_outcome_in_both_eras(
    metrics_fleet: RunningFleet,
) -> None:
    fleet = metrics_fleet
    before = scrape(fleet.url)
    with httpx.Client(base_url=fleet.url.rsplit("/", 1)[0], timeout=30) as http:
        legacy = {
            "accept": ACCEPT,
            "mcp-protocol-version": "2025-06-18",
            "mcp-session-id": open_session(http, "2025-06-18"),
        }

        def handshake(method: str, params: dict[str, object]) -> dict[str, object]:
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            response = http.post("/mcp", json=body, headers=legacy)
            assert response.status_code == 200, response.text
            answer: dict[str, object] = response.json()
            return answer

        def modern(method: str, params: dict[str, object], name: str | None = None) -> int:
            body = {"jsonrpc": "2.0", "id": 2, "method": method,
                    "params": {**params, "_meta": ENVELOPE}}  # fmt: skip
            headers = {"accept": ACCEPT, **modern_headers(method, name)}
            return http.post("/mcp", json=body, headers=headers).status_code

        assert "result" in handshake("tools/list", {})
        assert "result" in handshake("tools/call", {"name": "echo", "arguments": {"text": "a"}})
        assert "error" in handshake("tools/call", {"name": "echo", "arguments": [1]})
        assert "error" in handshake("no/such-method", {})
        assert modern("tools/call", {"name": "echo", "arguments": {"text": "b"}}, "echo") == 200
        assert modern("server/discover", {}) == 200
        assert modern("ping", {}) == 404  # not served at 2026-07-28
    after = scrape(fleet.url)
    counted = {
        ("initialize", "ok"): 1,
        ("tools/list", "ok"): 1,
        ("tools/call", "ok"): 2,
        ("tools/call", "refused"): 1,
        ("other", "refused"): 1,
        ("server/discover", "ok"): 1,
        ("ping", "refused"): 1,
    }
    for (method, outcome), count in counted.items():
        assert delta(after, before, REQUESTS, method=method, outcome=outcome) == count, method
    assert delta(after, before, REQUESTS) == sum(counted.values())
    assert delta(after, before, "mcpfleet_request_duration_seconds_count") == sum(counted.values())


def test_no_label_value_is_an_id(metrics_fleet: RunningFleet) -> None:
    allowed = {
        "method": {*SERVED_METHODS, "other"},
        "outcome": {*(o.value for o in RequestOutcome), *(o.value for o in ToolOutcome)},
        "tool": set(test_tools.tools),
        "status": {status.value for status in TERMINAL_STATUSES},
        # A restart's why, a limit's refusal (mcpfleet_rejections_total) or an
        # authentication failure's (mcpfleet_auth_failures_total).
        "reason": {
            *(r.value for r in ExitReason),
            *(r.value for r in RejectionReason),
            *(r.value for r in AuthFailure),
        },
        "direction": {"up", "down"},
        "state": {state.value for state in SlotState},
        "lane": {lane.value for lane in QueueLane},
    }
    samples = scrape(metrics_fleet.url)
    ours = [(name, dict(labels)) for name, labels in samples if name.startswith("mcpfleet_")]
    assert {name for name, _ in ours} >= {
        "mcpfleet_requests_total", "mcpfleet_request_duration_seconds_count",
        "mcpfleet_tool_calls_total", "mcpfleet_tool_duration_seconds_count",
        "mcpfleet_tasks_total", "mcpfleet_worker_restarts_total",
        "mcpfleet_scale_events_total", "mcpfleet_workers", "mcpfleet_queue_depth",
        "mcpfleet_queue_oldest_age_seconds",
    }  # fmt: skip
    for name, labels in ours:
        for label, value in labels.items():
            if label == "le":
                float(value)  # a bucket bound
                continue
            assert value in allowed[label], (name, label, value)
            assert not re.search(r"[0-9a-f]{6,}|\d{3,}", value), (name, label, value)


def test_other_methods_than_get_are_refused(metrics_fleet: RunningFleet) -> None:
    response = httpx.post(metrics_url(metrics_fleet.url), content=b"", timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


# --- the queue gauges --------------------------------------------------------------------


@pytest.fixture(scope="module")
def stalled_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    """One worker that runs one call at a time and no tasks: work waits deterministically."""
    running = start_fleet(
        redis_server, "q" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app="tests.fixtures.task_tools:app",
        env={"MCPFLEET_WORKER__MAX_CONCURRENT_CALLS": "1", "MCPFLEET_WORKER__TASK_SLOTS": "0"},
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


def lane(samples: Samples, name: str, which: QueueLane) -> float:
    return samples[(name, frozenset({("lane", which.value)}))]


async def test_queue_gauges_show_the_work_waiting_in_both_lanes(
    stalled_fleet: RunningFleet,
) -> None:
    fleet = stalled_fleet
    stream = Keyspace(fleet.fleet).call_stream()
    sync_redis = redis.Redis.from_url(fleet.redis_url)
    before = await scrape_async(fleet.url)
    for which in QueueLane:
        assert lane(before, "mcpfleet_queue_depth", which) == 0
        assert lane(before, "mcpfleet_queue_oldest_age_seconds", which) == 0
    async with (
        httpx.AsyncClient(base_url=fleet.url.rsplit("/", 1)[0], timeout=30) as http,
        Client(fleet.url, mode="2026-07-28", read_timeout_seconds=60) as client,
    ):
        session = await _session(http)
        running, *queued = [trio.CancelScope() for _ in range(3)]

        async def call_in(scope: trio.CancelScope) -> None:
            with scope:
                await client.call_tool("nap_once", {"seconds": 60})

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call_in, running)
            await fleet.wait_for_calls_taken(1)  # the worker's one slot is taken
            for scope in queued:
                nursery.start_soon(call_in, scope)
            await wait_until_async(lambda: sync_redis.xlen(stream) == 3, deadline_s=10, what="3")
            tasks = [await _create_task(http, session) for _ in range(2)]

            async def both_lanes_waiting() -> bool:
                now = await scrape_async(fleet.url)
                return all(
                    lane(now, "mcpfleet_queue_depth", which) == 2
                    and lane(now, "mcpfleet_queue_oldest_age_seconds", which) >= 0.05
                    for which in QueueLane
                )

            await wait_until_true_async(both_lanes_waiting, deadline_s=10, what="gauges")
            for task_id in tasks:
                await _cancel_task(http, session, task_id)
            # The queued calls' cancels first (as in tests/e2e/test_cancellation.py), so the
            # worker drops them unrun once the running one is cancelled.
            cancels = sync_redis.xlen(Keyspace(fleet.fleet).cancel_stream())
            for scope in queued:
                scope.cancel()
            await wait_until_async(
                lambda: sync_redis.xlen(Keyspace(fleet.fleet).cancel_stream()) == cancels + 2,
                deadline_s=10,
                what="2 cancels",
            )
            running.cancel()
    await wait_until_async(lambda: sync_redis.xlen(stream) == 0, deadline_s=10, what="no calls")

    async def settled() -> bool:
        now = await scrape_async(fleet.url)
        return delta(now, before, TOOL_CALLS, tool="nap_once", outcome="cancelled") == 1

    await wait_until_true_async(settled, deadline_s=10, what="the running call counted")
    after = await scrape_async(fleet.url)
    assert lane(after, "mcpfleet_queue_depth", QueueLane.CALLS) == 0
    assert lane(after, "mcpfleet_queue_oldest_age_seconds", QueueLane.CALLS) == 0
    # No worker here takes tasks: cancelled, their jobs still wait in rq's queue.
    assert lane(after, "mcpfleet_queue_depth", QueueLane.TASKS) == 2
    assert delta(after, before, "mcpfleet_tasks_total", status="cancelled") == 2
    assert delta(after, before, TOOL_CALLS) == 1  # the queued ones never ran
    assert delta(after, before, REQUESTS, method="tools/call", outcome="cancelled") == 3
    assert delta(after, before, REQUESTS, method="tools/call", outcome="ok") == 2  # the tasks
    assert delta(after, before, REQUESTS, method="tasks/cancel", outcome="ok") == 2


async def _session(http: httpx.AsyncClient) -> dict[str, str]:
    params = {"protocolVersion": "2025-11-25", "capabilities": {},
              "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
    response = await http.post("/mcp", json=init, headers={"accept": ACCEPT})
    assert response.status_code == 200, response.text
    return {
        "accept": ACCEPT,
        "mcp-protocol-version": "2025-11-25",
        "mcp-session-id": response.headers["mcp-session-id"],
    }


async def _create_task(http: httpx.AsyncClient, session: dict[str, str]) -> str:
    params = {"name": "add_later", "arguments": {"a": 1, "b": 2}, "task": {"ttl": 60_000}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    response = await http.post("/mcp", json=body, headers=session)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["result"]["task"]["taskId"]
    return task_id


async def _cancel_task(http: httpx.AsyncClient, session: dict[str, str], task_id: str) -> None:
    body = {"jsonrpc": "2.0", "id": 2, "method": "tasks/cancel", "params": {"taskId": task_id}}
    response = await http.post("/mcp", json=body, headers=session)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["status"] == "cancelled", response.text


# --- stdio ---------------------------------------------------------------------------------


def test_requests_on_stdio_and_an_apps_own_metrics_are_in_the_fleets_directory(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "state"
    fleet = StdioProcess(
        [*MCPFLEET, "up", "--stdio", "--app", "tests.fixtures.metered_tools:app",
         "--data-dir", str(data_dir), "--workers", "1"]
    )  # fmt: skip
    try:
        fleet.send(initialize(0), notification("notifications/initialized"))
        fleet.send(call(1, "echo", {"text": "hello"}), request(2, "tools/list"))
        fleet.send(request(3, "no/such-method"), call(4, "greet", {"name": "you"}))
        assert fleet.result(1)["content"] == [{"type": "text", "text": "hello"}]
        assert fleet.result(2)["tools"]
        assert fleet.error(3)["code"] == -32601
        assert fleet.result(4)["content"] == [{"type": "text", "text": "hello you"}]
        fleet.close_stdin()
        assert fleet.wait_exit(deadline_s=20) == 0
    finally:
        fleet.kill()
    assert fleet.errors() == []
    # The files outlive the fleet (emptied at the next start).
    samples = read_dir(data_dir / "run" / "metrics")
    assert total(samples, REQUESTS, method="initialize", outcome="ok") == 1
    assert total(samples, REQUESTS, method="tools/call", outcome="ok") == 2
    assert total(samples, REQUESTS, method="tools/list", outcome="ok") == 1
    assert total(samples, REQUESTS, method="other", outcome="refused") == 1
    assert total(samples, TOOL_CALLS, tool="echo", outcome="ok") == 1
    # The app imported prometheus_client itself, in every process (the supervisor before
    # any of its own metrics): no process logged a mode mismatch, and its count is there.
    assert total(samples, "test_app_greetings_total") == 1
