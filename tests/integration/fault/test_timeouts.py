"""Timeouts, in both eras: the caller gets a clear tool error at the deadline (a tool's own
``timeout_s``, or the fleet's ``worker.default_timeout_s`` for a tool that sets none), the
handler is really stopped (an async one cancelled, a sync one seeing ``ctx.cancelled``),
the worker keeps serving, and a sync handler that overran keeps its slot until its thread
ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from mcp import Client
from mcp_types import TextContent

from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer

MODES = ["legacy", "2026-07-28"]
DEFAULT_TIMEOUT_S = 0.5


def text_of(result: object) -> str:
    return next(b.text for b in result.content if isinstance(b, TextContent))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def timeout_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    """One worker serving the test tools, with the fleet's default timeout lowered."""
    running = start_fleet(
        redis_server, "f" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app="tests.fixtures.tools:app",
        env={"MCPFLEET_WORKER__DEFAULT_TIMEOUT_S": str(DEFAULT_TIMEOUT_S)},
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


@pytest.mark.parametrize("mode", MODES)
async def test_timeouts_are_tool_errors_and_the_worker_survives(
    timeout_fleet: RunningFleet, mode: str
) -> None:
    fleet = timeout_fleet
    overruns = len(fleet.find("call.overrun_finished", tool="slow_sync"))
    cancelled = len(fleet.find("test_tool.cancelled", tool="slow_async"))
    async with Client(fleet.url, mode=mode, read_timeout_seconds=30) as client:
        sync = await client.call_tool("slow_sync", {"ms": 1500})
        async_ = await client.call_tool("slow_async", {"ms": 5000})
        after = await client.call_tool("echo", {"text": "still serving"})
        # The async handler was cancelled at its timeout, not left to sleep on.
        await fleet.wait_for_async(
            "test_tool.cancelled", count=cancelled + 1, tool="slow_async", deadline_s=10
        )
        await fleet.wait_for_async(
            "call.overrun_finished", count=overruns + 1, tool="slow_sync", deadline_s=10
        )
    assert sync.is_error and text_of(sync) == "Tool 'slow_sync' timed out after 0.3 s"
    assert async_.is_error and text_of(async_) == "Tool 'slow_async' timed out after 0.3 s"
    assert text_of(after) == "still serving"
    assert fleet.find("worker.exited") == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_without_a_timeout_gets_the_fleets_default(
    timeout_fleet: RunningFleet, mode: str
) -> None:
    fleet = timeout_fleet
    cancelled = len(fleet.find("test_tool.cancelled", tool="wait_for_cancel"))
    async with Client(fleet.url, mode=mode, read_timeout_seconds=30) as client:
        result = await client.call_tool("wait_for_cancel", {"seconds": 30})
        await fleet.wait_for_async(
            "test_tool.cancelled", count=cancelled + 1, tool="wait_for_cancel", deadline_s=10
        )
    assert result.is_error
    assert text_of(result) == f"Tool 'wait_for_cancel' timed out after {DEFAULT_TIMEOUT_S:g} s"


@pytest.mark.parametrize("mode", MODES)
async def test_a_sync_handler_sees_the_flag_once_its_timeout_passed(
    timeout_fleet: RunningFleet, mode: str
) -> None:
    fleet = timeout_fleet
    saw = len(fleet.find("test_tool.saw_cancel", tool="spin_until_cancelled"))
    overruns = len(fleet.find("call.overrun_finished", tool="spin_until_cancelled"))
    async with Client(fleet.url, mode=mode, read_timeout_seconds=30) as client:
        result = await client.call_tool("spin_until_cancelled", {"seconds": 30})
        # The thread saw ctx.cancelled and returned, its 30 s of spinning cut short.
        await fleet.wait_for_async(
            "test_tool.saw_cancel", count=saw + 1, tool="spin_until_cancelled", deadline_s=10
        )
        await fleet.wait_for_async(
            "call.overrun_finished", count=overruns + 1, tool="spin_until_cancelled",
            deadline_s=10,
        )  # fmt: skip
        after = await client.call_tool("echo", {"text": "still serving"})
    assert result.is_error
    assert text_of(result) == (
        f"Tool 'spin_until_cancelled' timed out after {DEFAULT_TIMEOUT_S:g} s"
    )
    assert text_of(after) == "still serving"
