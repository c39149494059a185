"""A scale-up whose new workers die at start (code broken on disk under a running fleet):
nothing is recorded as growth, one ``pool.grow_failed`` is logged for the streak, further
attempts are held off with a doubling backoff, and growth resumes once workers start."""

from __future__ import annotations

from pathlib import Path

import trio
from mcp import Client
from mcp_types import TextContent

from tests.fixtures.fleet import start_fleet
from tests.fixtures.metrics import scrape_async, total
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async

UP_COOLDOWN_S = 0.5
BACKOFF_MAX_S = 2.0
NAP_MS = 12_000
CALLS = 3


async def test_workers_dying_at_start_are_not_counted_and_hold_growth_until_fixed(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    broken = tmp_path / "broken"
    fleet = start_fleet(
        redis_server,
        fleet_name,
        tmp_path,
        workers="1-3",
        app="tests.fixtures.recovery_tools:app",
        env={
            "RECOVERY_TOOLS_BROKEN_IMPORT_MARKER": str(broken),
            "MCPFLEET_WORKER__MAX_CONCURRENT_CALLS": "1",
            "MCPFLEET_SCALING__UP_WAIT_S": "0.3",
            "MCPFLEET_SCALING__UP_COOLDOWN_S": str(UP_COOLDOWN_S),
            "MCPFLEET_SCALING__IDLE_S": "600",
            "MCPFLEET_SUPERVISOR__RESTART_BACKOFF_MAX_S": str(BACKOFF_MAX_S),
        },
    )
    answers: list[str] = []
    try:
        broken.touch()  # new workers now die at import; the running one is fine
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=60) as client:

            async def one() -> None:
                result = await client.call_tool("nap", {"ms": NAP_MS})
                answers.extend(b.text for b in result.content if isinstance(b, TextContent))

            async with trio.open_nursery() as nursery:
                for _ in range(CALLS):
                    nursery.start_soon(one)
                # Two growths of two workers each fail, one after the other (the second
                # after a hold of up_cooldown_s), with one pool.grow_failed for both.
                await fleet.wait_for_async("worker.start_failed", count=4, deadline_s=30)
                assert fleet.find("pool.scaled") == []
                (failed,) = fleet.find("pool.grow_failed")
                assert (failed["asked"], failed["added"], failed["failed"]) == (2, 0, 2)
                assert failed["hold_s"] == UP_COOLDOWN_S
                assert failed["level"] == "error"
                scraped = await scrape_async(fleet.url)
                assert total(scraped, "mcpfleet_scale_events_total", direction="up") == 0
                growths = fleet.find("pool.growing")
                assert len(growths) >= 2 and growths[0]["from"] == growths[1]["from"] == 1

                broken.unlink()  # fixed: the next growths (after the hold) start workers
                await fleet.wait_for_async("pool.scaled", direction="up", to=3, deadline_s=30)
                # A growth under way at the fix may have started one of its two workers.
                ups = fleet.find("pool.scaled", direction="up")
                assert ups[0]["from"] == 1
                assert sum(int(u["to"]) - int(u["from"]) for u in ups) == 2  # type: ignore[call-overload]
                await wait_until_async(
                    lambda: len(fleet.worker_pids()) == 3, deadline_s=15, what="three workers"
                )
                assert len(fleet.find("pool.grow_failed")) == 1  # once for the whole streak
    finally:
        assert fleet.stop() == 0
    assert answers == [f"napped {NAP_MS} ms"] * CALLS
    unexpected = [
        e for e in fleet.errors() if e["event"] not in {"worker.start_failed", "pool.grow_failed"}
    ]
    assert unexpected == []
