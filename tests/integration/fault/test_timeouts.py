"""Per-tool timeouts: the caller gets a clear tool error at the deadline, the worker keeps
serving, and a sync handler that overran keeps its slot until its thread ends."""

from __future__ import annotations

from pathlib import Path

from mcp import Client
from mcp_types import TextContent

from tests.fixtures.fleet import start_fleet
from tests.fixtures.redis_server import RedisServer


def text_of(result: object) -> str:
    return next(b.text for b in result.content if isinstance(b, TextContent))  # type: ignore[attr-defined]


async def test_timeouts_are_tool_errors_and_the_worker_survives(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = start_fleet(
        redis_server, fleet_name, tmp_path, workers=1, app="tests.fixtures.tools:app"
    )
    try:
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
            sync = await client.call_tool("slow_sync", {"ms": 1500})
            async_ = await client.call_tool("slow_async", {"ms": 5000})
            after = await client.call_tool("echo", {"text": "still serving"})
        assert sync.is_error and text_of(sync) == "Tool 'slow_sync' timed out after 0.3 s"
        assert async_.is_error and text_of(async_) == "Tool 'slow_async' timed out after 0.3 s"
        assert text_of(after) == "still serving"
        fleet.wait_for("call.overrun_finished", tool="slow_sync")
        assert fleet.find("worker.exited") == []
    finally:
        assert fleet.stop() == 0
