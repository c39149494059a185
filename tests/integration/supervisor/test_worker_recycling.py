"""Recycling (ADR-0014): a worker past ``worker.max_calls`` or ``worker.max_rss_mb`` is
replaced, the new one ready first, the old one drained, and no call is dropped."""

from __future__ import annotations

from pathlib import Path

import trio
from mcp import Client, MCPError
from mcp_types import TextContent

from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.metrics import Samples, scrape_async, total
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async, wait_until_true_async

APP = "tests.fixtures.recovery_tools:app"
RESTARTS = "mcpfleet_worker_restarts_total"


def recycling_fleet(
    redis_server: RedisServer, fleet_name: str, tmp_path: Path, **env: str
) -> RunningFleet:
    """One worker of the recovery tools, heartbeating every 0.5 s, configured by ``env``."""
    return start_fleet(
        redis_server, fleet_name, tmp_path, app=APP, workers=1,
        env={"MCPFLEET_WORKER__HEARTBEAT_INTERVAL_S": "0.5", **env},
    )  # fmt: skip


def text_of(result: object) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]  # type: ignore[attr-defined]
    return blocks[0].text


async def test_max_calls_recycles_workers_while_every_call_is_answered(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = recycling_fleet(redis_server, fleet_name, tmp_path, MCPFLEET_WORKER__MAX_CALLS="8")
    (first,) = fleet.worker_pids()
    answers: list[str] = []
    failures: list[BaseException] = []

    async def drive() -> None:
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
            # Until two workers have been recycled and drained (calls are in flight on the
            # old worker when it gets SIGTERM, and queued while the new one takes over) and
            # the third has answered: the second's last calls may be the ones in hand.
            while not failures and (len(fleet.find("worker.stopped")) < 2 or len(set(answers)) < 3):
                try:
                    answers.append(text_of(await client.call_tool("nap_here", {"ms": 100})))
                except MCPError as exc:
                    failures.append(exc)

    try:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for _ in range(4):
                    nursery.start_soon(drive)
        assert failures == []
        recycled = fleet.find("worker.recycling", reason="max_calls")
        assert len(recycled) >= 2
        assert all(int(e["value"]) >= 8 and e["limit"] == 8 for e in recycled)  # type: ignore[call-overload]
        retired = [e["child_id"] for e in fleet.find("worker.retiring", reason="recycled")]
        assert retired[:2] == [e["child_id"] for e in recycled[:2]]
        # The old workers had calls in hand when told to drain; they finished them.
        assert any(int(e["inflight"]) > 0 for e in fleet.find("worker.draining"))  # type: ignore[call-overload]
        stopped = fleet.find("worker.stopped")
        assert all(int(e["calls_served"]) >= 8 for e in stopped[:2])  # type: ignore[call-overload]
        # Three workers served in turn, each after the one before it had started.
        served_by = list(dict.fromkeys(answers))
        assert len(served_by) >= 3 and served_by[0] == str(first)
        assert first not in fleet.worker_pids()
        assert fleet.find("worker.recycle_failed") == []
        assert fleet.find("worker.calls_settled") == []  # nothing was left to settle
        # Each recycle is a restart of that position in the metrics, by its reason.
        counted: list[Samples] = []

        async def recycles_counted() -> bool:
            counted[:] = [await scrape_async(fleet.url)]
            return total(counted[0], RESTARTS, reason="recycled") >= 2

        await wait_until_true_async(recycles_counted, deadline_s=10, what="recycles counted")
        recycles = total(counted[0], RESTARTS, reason="recycled")
        assert recycles <= len(fleet.find("worker.retiring", reason="recycled"))
        assert total(counted[0], RESTARTS) == recycles  # no other reason
    finally:
        assert fleet.stop() == 0
    assert fleet.errors() == []


async def test_max_rss_recycles_a_worker_holding_too_much_memory(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = recycling_fleet(redis_server, fleet_name, tmp_path, MCPFLEET_WORKER__MAX_RSS_MB="300")
    try:
        (first,) = fleet.worker_pids()
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
            assert text_of(await client.call_tool("hoard", {"mb": 350})) == "hoarding 350 MiB"
            await fleet.wait_for_async("worker.stopped", deadline_s=20)
            await wait_until_async(
                lambda: len(pids := fleet.worker_pids()) == 1 and first not in pids,
                deadline_s=10,
                what="the replacement worker alone",
            )
            assert text_of(await client.call_tool("pid", {})) != str(first)
        (recycling,) = fleet.find("worker.recycling")
        assert recycling["reason"] == "max_rss" and recycling["limit"] == 300
        assert float(recycling["value"]) > 300  # type: ignore[arg-type]
        assert first not in fleet.worker_pids()
    finally:
        assert fleet.stop() == 0
    assert fleet.errors() == []


async def test_a_recycled_worker_answers_a_call_longer_than_the_shutdown_drain_timeout(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    """A retire is not a shutdown: the worker's calls run to their own deadlines, though
    ``worker.drain_timeout_s`` (what a shutdown grants them) is far shorter."""
    fleet = recycling_fleet(
        redis_server,
        fleet_name,
        tmp_path,
        MCPFLEET_WORKER__MAX_CALLS="2",
        MCPFLEET_WORKER__DRAIN_TIMEOUT_S="0.3",
    )
    try:
        (first,) = fleet.worker_pids()
        long_answer: list[str] = []
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:

            async def hold_long() -> None:
                long_answer.append(text_of(await client.call_tool("nap_here", {"ms": 5000})))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(hold_long)
                # Two short calls, sent after it, reach max_calls while it still runs.
                for _ in range(2):
                    assert text_of(await client.call_tool("nap_here", {"ms": 10})) == str(first)
                await fleet.wait_for_async("worker.retiring", reason="recycled", deadline_s=20)
        assert long_answer == [str(first)]
        (draining,) = fleet.find("worker.draining")
        assert int(draining["inflight"]) == 1  # type: ignore[call-overload]
        assert float(draining["timeout_s"]) > 0.3  # type: ignore[arg-type]
        await wait_until_async(
            lambda: first not in fleet.worker_pids(), deadline_s=20, what="the old worker gone"
        )
        (stopped,) = fleet.find("worker.stopped")
        assert int(stopped["calls_served"]) == 3  # type: ignore[call-overload]
    finally:
        assert fleet.stop() == 0
    assert fleet.errors() == []
