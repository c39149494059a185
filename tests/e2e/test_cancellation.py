"""Cancellation reaches the worker running the call (issue 3): closing the response stream at
2026-07-28 (also once it streams progress), ``notifications/cancelled`` in a handshake-era
session (through any front) and on stdio, and a call cancelled while still queued is never
run. An async handler is cancelled; a sync one sees ``ctx.cancelled`` or gets
``CancelledByClientError`` from ``ctx.check_cancelled()``. The caller gets no result
afterwards."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import trio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import TextContent

from proto import CALL_GROUP, Keyspace
from tests.e2e.test_stdio_mcp_client import mcpfleet
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sse import events
from tests.fixtures.stdio_process import ENVELOPE, MODERN
from tests.fixtures.waiting import wait_until, wait_until_async

TOOLS = "tests.fixtures.tools:app"
ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def one_slot_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    """One worker that runs one call at a time, so a second call stays queued."""
    running = start_fleet(
        redis_server, "c" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app=TOOLS, env={"MCPFLEET_WORKER__MAX_CONCURRENT_CALLS": "1"},
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


def pending_calls(fleet: RunningFleet) -> int:
    client = redis.Redis.from_url(fleet.redis_url)
    return int(client.xpending(Keyspace(fleet.fleet).call_stream(), CALL_GROUP)["pending"])


def call_stream_length(fleet: RunningFleet) -> int:
    return int(redis.Redis.from_url(fleet.redis_url).xlen(Keyspace(fleet.fleet).call_stream()))


def cancel_stream_length(fleet: RunningFleet) -> int:
    return int(redis.Redis.from_url(fleet.redis_url).xlen(Keyspace(fleet.fleet).cancel_stream()))


async def call_then_cancel(
    client: Client,
    fleet: RunningFleet,
    tool: str,
    arguments: dict[str, Any],
    *,
    started: int | None = None,
) -> list[object]:
    """Start a call, cancel it once a worker holds it (and, with ``started``, once the
    tool logged its ``started + 1``-th ``test_tool.started``: a sync handler cancelled
    before its thread runs never runs at all); returns what the caller received."""
    received: list[object] = []
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:

            async def call() -> None:
                received.append(await client.call_tool(tool, arguments))

            nursery.start_soon(call)
            await fleet.wait_for_calls_taken(1)
            if started is not None:
                await fleet.wait_for_async("test_tool.started", count=started + 1, tool=tool)
            scope.cancel()
    return received


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_a_cancelled_async_call_stops_its_handler(
    one_slot_fleet: RunningFleet, mode: str
) -> None:
    fleet = one_slot_fleet
    before = len(fleet.find("test_tool.cancelled"))
    async with Client(fleet.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        received = await call_then_cancel(client, fleet, "wait_for_cancel", {"seconds": 60})
        # The handler was cancelled (not left to run its 60 s) and the entry was settled.
        await fleet.wait_for_async("test_tool.cancelled", count=before + 1, deadline_s=10)
        await wait_until_async(
            lambda: pending_calls(fleet) == 0, deadline_s=10, what="no pending call"
        )
        after = await client.call_tool("echo", {"text": "still serving"})
    assert received == []
    assert isinstance(after.content[0], TextContent) and after.content[0].text == "still serving"


def stdio_server(fleet: RunningFleet) -> StdioServerParameters:
    """``mcpfleet stdio`` for ``fleet``, launched by the official client."""
    return mcpfleet("stdio", "--app", TOOLS, "--redis", fleet.redis_url, "--fleet", fleet.fleet)


@pytest.mark.parametrize("transport", ["http", "stdio"])
@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_a_cancelled_sync_call_sees_the_flag(
    one_slot_fleet: RunningFleet, mode: str, transport: str
) -> None:
    """The cancel is a closed stream (HTTP, 2026-07-28) or ``notifications/cancelled``."""
    fleet = one_slot_fleet
    before = len(fleet.find("test_tool.saw_cancel"))
    target = fleet.url if transport == "http" else stdio_server(fleet)
    async with Client(target, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        received = await call_then_cancel(client, fleet, "spin_until_cancelled", {"seconds": 60})
        await fleet.wait_for_async("test_tool.saw_cancel", count=before + 1, deadline_s=10)
        await wait_until_async(
            lambda: pending_calls(fleet) == 0, deadline_s=10, what="no pending call"
        )
    assert received == []


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_check_cancelled_stops_a_sync_handler(
    one_slot_fleet: RunningFleet, mode: str
) -> None:
    fleet = one_slot_fleet
    tool = "step_until_cancelled"
    stopped = len(fleet.find("test_tool.stopped", tool=tool))
    started = len(fleet.find("test_tool.started", tool=tool))
    async with Client(fleet.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        received = await call_then_cancel(client, fleet, tool, {"seconds": 60}, started=started)
        # check_cancelled() raised in the handler's thread, and the call's slot came back:
        # the entry was settled, and the one slot serves the next call. (Whether the runner
        # logs call.overrun_finished depends on whether the thread ended before or after the
        # cancel reached the call's task: a race, not a property.)
        await fleet.wait_for_async("test_tool.stopped", count=stopped + 1, tool=tool)
        await wait_until_async(
            lambda: pending_calls(fleet) == 0, deadline_s=10, what="no pending call"
        )
        after = await client.call_tool("echo", {"text": "still serving"})
    assert received == []
    assert isinstance(after.content[0], TextContent) and after.content[0].text == "still serving"


def test_closing_a_2026_stream_already_sending_progress_cancels_the_call(
    one_slot_fleet: RunningFleet,
) -> None:
    fleet = one_slot_fleet
    cancelled = len(fleet.find("test_tool.cancelled", tool="ticker"))
    meta = {**ENVELOPE, "progressToken": "tick"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "ticker", "arguments": {"steps": 1000}, "_meta": meta}}  # fmt: skip
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call",
               "mcp-name": "ticker"}  # fmt: skip
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", fleet.url, json=body, headers=headers) as response:
            assert response.headers["content-type"] == "text/event-stream"
            first = json.loads(next(events(response.iter_lines()))["data"])
            assert first["method"] == "notifications/progress"
            assert first["params"]["progress"] == 1
        # Closing the stream (here: the connection with it) is the 2026-07-28 cancel.
        fleet.wait_for("test_tool.cancelled", count=cancelled + 1, tool="ticker", deadline_s=10)
        wait_until(lambda: pending_calls(fleet) == 0, deadline_s=10, what="no pending call")
        after = http.post(
            fleet.url,
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                  "params": {"name": "echo", "arguments": {"text": "next"}, "_meta": ENVELOPE}},
            headers={**headers, "mcp-name": "echo"},
        )  # fmt: skip
    assert after.json()["result"]["content"] == [{"type": "text", "text": "next"}]


async def test_a_call_cancelled_while_queued_never_runs(one_slot_fleet: RunningFleet) -> None:
    fleet = one_slot_fleet
    started = len(fleet.find("test_tool.cancelled"))
    unrun = len(fleet.find("call.cancelled_unrun"))
    async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
        running, queued = trio.CancelScope(), trio.CancelScope()

        async def call_in(scope: trio.CancelScope) -> None:
            with scope:
                await client.call_tool("wait_for_cancel", {"seconds": 60})

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call_in, running)
            await fleet.wait_for_calls_taken(1)  # the worker's one slot is taken
            nursery.start_soon(call_in, queued)
            await wait_until_async(
                lambda: call_stream_length(fleet) == 2, deadline_s=10, what="2 queued"
            )
            # The queued call's cancel goes first: the worker reads cancels in order, so it
            # knows of this one before the next cancel frees the slot the call waits for.
            cancels = cancel_stream_length(fleet)
            queued.cancel()
            await wait_until_async(
                lambda: cancel_stream_length(fleet) == cancels + 1, deadline_s=10, what="cancel"
            )
            running.cancel()
        # The running call is cancelled, then the queued one is taken and dropped unrun.
        await fleet.wait_for_async("call.cancelled_unrun", count=unrun + 1, deadline_s=10)
        await fleet.wait_for_async("test_tool.cancelled", count=started + 1, deadline_s=10)
        await wait_until_async(
            lambda: call_stream_length(fleet) == 0, deadline_s=10, what="empty lane"
        )
        assert len(fleet.find("test_tool.cancelled")) == started + 1  # the queued one never ran


async def test_a_cancel_sent_through_another_front_stops_the_call(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    one = start_fleet(redis_server, fleet_name, tmp_path / "one", workers=1, app=TOOLS)
    two = start_fleet(redis_server, fleet_name, tmp_path / "two", workers=1, app=TOOLS)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            params = {"protocolVersion": "2025-11-25", "capabilities": {},
                      "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
            init = await http.post(
                one.url,
                json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params},
                headers={"accept": ACCEPT},
            )
            session = {"mcp-session-id": init.headers["mcp-session-id"], "accept": ACCEPT}
            arguments = {"name": "wait_for_cancel", "arguments": {"seconds": 60}}
            call = {"jsonrpc": "2.0", "id": "call-7", "method": "tools/call", "params": arguments}
            answers: list[httpx.Response] = []
            async with trio.open_nursery() as nursery:

                async def post_call() -> None:
                    answers.append(await http.post(one.url, json=call, headers=session))

                nursery.start_soon(post_call)
                await one.wait_for_calls_taken(1)
                # Another session's cancel for the same id must not touch this call.
                reason = {"requestId": "call-7", "reason": "changed my mind"}
                cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": reason}
                stranger = {**session, "mcp-session-id": await _new_session(http, two.url)}
                assert (await http.post(two.url, json=cancel, headers=stranger)).status_code == 202
                assert (await http.post(two.url, json=cancel, headers=session)).status_code == 202
        (answer,) = answers
        # No JSON-RPC response for a cancelled request: an event stream without events.
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/event-stream"
        assert answer.text == ""
        wait_until(
            lambda: len(one.find("test_tool.cancelled") + two.find("test_tool.cancelled")) == 1,
            deadline_s=10,
            what="the handler cancelled",
        )
        wait_until(lambda: pending_calls(one) == 0, deadline_s=10, what="no pending call")
    finally:
        assert one.stop() == 0
        assert two.stop() == 0


async def _new_session(http: httpx.AsyncClient, url: str) -> str:
    params = {"protocolVersion": "2025-11-25", "capabilities": {},
              "clientInfo": {"name": "other", "version": "1"}}  # fmt: skip
    init = await http.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params},
        headers={"accept": ACCEPT},
    )
    return init.headers["mcp-session-id"]
