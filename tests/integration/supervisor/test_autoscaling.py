"""Autoscaling with real processes (ADR-0013): a backlog of slow calls grows the pool from
MIN to MAX within the configured reaction time, every call is answered, and once idle the
pool shrinks back to MIN; sync calls waiting for a thread grow it too. ``mcpfleet status``
shows the processes and the scale events throughout."""

from __future__ import annotations

import datetime
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from mcp import Client
from mcp_types import TextContent

from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env, start_fleet
from tests.fixtures.metrics import scrape_async, total
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until, wait_until_async, wait_until_true_async

UP_WAIT_S = 0.5
INTERVAL_S = 0.25
REACTION_S = UP_WAIT_S + INTERVAL_S
"""The configured reaction time: the oldest call waits up_wait_s, then at most one check
interval passes before the decision."""
SLACK_S = 1.0
"""For a loaded test machine (the whole suite runs in parallel with other work)."""
IDLE_S = 2.0
DOWN_COOLDOWN_S = 0.5
HOLD_S = 3.0
CALLS = 8
SCALE_EVENTS = "mcpfleet_scale_events_total"


def _scaling_env(**extra: str) -> dict[str, str]:
    return {
        "MCPFLEET_SCALING__UP_WAIT_S": str(UP_WAIT_S),
        "MCPFLEET_SCALING__INTERVAL_S": str(INTERVAL_S),
        "MCPFLEET_SCALING__IDLE_S": str(IDLE_S),
        "MCPFLEET_SCALING__DOWN_COOLDOWN_S": str(DOWN_COOLDOWN_S),
        **extra,
    }


@pytest.fixture
def scaling_fleet(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> Iterator[RunningFleet]:
    """MIN 1, MAX 3; a worker runs two calls at once, so a backlog forms quickly."""
    running = start_fleet(
        redis_server,
        fleet_name,
        tmp_path,
        workers="1-3",
        app="tests.fixtures.tools:app",
        env=_scaling_env(MCPFLEET_WORKER__MAX_CONCURRENT_CALLS="2"),
    )
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


def _status(fleet: RunningFleet, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MCPFLEET, "status", "--redis", fleet.redis_url, "--fleet", fleet.fleet, *flags],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=30, check=False,
    )  # fmt: skip


def _status_json(fleet: RunningFleet) -> dict[str, object]:
    result = _status(fleet, "--json")
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


def _epoch_s(event: dict[str, object]) -> float:
    stamp = event["timestamp"]
    assert isinstance(stamp, str)
    return datetime.datetime.fromisoformat(stamp).timestamp()


async def _call_all(url: str, tool: str, arguments: dict[str, object], count: int) -> list[str]:
    answers: list[str] = []
    async with Client(url, mode="auto", read_timeout_seconds=60) as client:

        async def one() -> None:
            result = await client.call_tool(tool, arguments)
            answers.extend(b.text for b in result.content if isinstance(b, TextContent))

        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(one)
    return answers


async def test_a_backlog_grows_the_pool_to_max_and_idling_shrinks_it_to_min(
    scaling_fleet: RunningFleet,
) -> None:
    fleet = scaling_fleet
    assert len(fleet.worker_pids()) == 1
    (ready,) = fleet.find("fleet.ready")
    assert ready["workers"] == 1

    answers: list[str] = []

    async def backlog() -> None:
        answers.extend(await _call_all(fleet.url, "wait_for_cancel", {"seconds": HOLD_S}, CALLS))

    async with trio.open_nursery() as nursery:
        sent_at = time.time()
        nursery.start_soon(backlog)
        # Two calls run on the one worker; six wait in the stream: every new worker is
        # counted to take two, so the pool goes straight to MAX.
        await fleet.wait_for_async("pool.scaled", direction="up", deadline_s=10)
        (up,) = fleet.find("pool.scaled", direction="up")
        assert (up["from"], up["to"]) == (1, 3)
        reason = up["reason"]
        assert isinstance(reason, str) and "calls queued" in reason
        # Decided within the reaction time; recorded once the new workers are ready.
        (growing,) = fleet.find("pool.growing")
        assert (growing["from"], growing["adding"], growing["reason"]) == (1, 2, reason)
        assert _epoch_s(growing) - sent_at <= REACTION_S + SLACK_S
        await wait_until_async(
            lambda: len(fleet.worker_pids()) == 3, deadline_s=15, what="three live workers"
        )
        await fleet.wait_for_async("worker.ready", count=3)

        status = await trio.to_thread.run_sync(_status_json, fleet)
        (supervisor,) = status["supervisors"]  # type: ignore[misc]
        assert supervisor["workers"] == 3
        assert (supervisor["workers_min"], supervisor["workers_max"]) == (1, 3)
        roles = [p["role"] for p in supervisor["processes"]]
        assert roles == ["supervisor", "front", "worker", "worker", "worker"]
        worker_pids = {p["pid"] for p in supervisor["processes"] if p["role"] == "worker"}
        assert worker_pids == set(fleet.worker_pids())
        events = status["scale_events"]
        assert isinstance(events, list)
        assert (events[0]["direction"], events[0]["from"], events[0]["to"]) == ("up", 1, 3)
        scaled = await scrape_async(fleet.url)
        assert total(scaled, SCALE_EVENTS, direction="up") == 1
        assert total(scaled, SCALE_EVENTS, direction="down") == 0

    assert answers == ["finished"] * CALLS

    # Idle workers (the new ones finish first): after the idle period, one retires per
    # cooldown, down to MIN.
    await fleet.wait_for_async("pool.scaled", direction="down", to=1, deadline_s=20)
    downs = fleet.find("pool.scaled", direction="down")
    assert [(d["from"], d["to"]) for d in downs] == [(3, 2), (2, 1)]
    assert _epoch_s(downs[0]) - _epoch_s(growing) >= HOLD_S + IDLE_S - SLACK_S
    assert _epoch_s(downs[1]) - _epoch_s(downs[0]) >= DOWN_COOLDOWN_S - 0.05
    assert all("idle" in str(d["reason"]) for d in downs)
    await wait_until_async(
        lambda: len(fleet.worker_pids()) == 1, deadline_s=15, what="one live worker"
    )
    assert len(fleet.find("worker.retiring", reason="stopped")) == 2
    shrunk = await scrape_async(fleet.url)
    assert total(shrunk, SCALE_EVENTS, direction="up") == 1
    assert total(shrunk, SCALE_EVENTS, direction="down") == 2

    # The status document is rewritten every second: wait for one written after the drain.
    shown: list[subprocess.CompletedProcess[str]] = []

    async def one_worker_shown() -> bool:
        shown[:] = [await trio.to_thread.run_sync(_status, fleet)]
        rows = [line.split() for line in shown[0].stdout.splitlines()]
        return sum(1 for row in rows if row[1:2] == ["worker"]) == 1

    await wait_until_true_async(
        one_worker_shown, deadline_s=10, what="a status document showing one worker"
    )
    table = shown[0]
    assert table.returncode == 0, table.stderr
    assert "1 workers (scaling 1-3)" in table.stdout
    events_shown = [line for line in table.stdout.splitlines() if " -> " in line]
    assert [line.split()[1:4] for line in events_shown] == [
        ["down", "2", "->"],
        ["down", "3", "->"],
        ["up", "1", "->"],
    ]


async def test_sync_calls_waiting_for_a_thread_grow_the_pool(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = start_fleet(
        redis_server,
        fleet_name,
        tmp_path,
        workers="1-2",
        app="tests.fixtures.tools:app",
        env=_scaling_env(MCPFLEET_WORKER__SYNC_THREADS="1", MCPFLEET_SCALING__IDLE_S="600"),
    )
    try:
        # The one worker takes all four calls (it may run ten at once) but has one thread.
        answers = await _call_all(fleet.url, "spin_until_cancelled", {"seconds": 1.0}, 4)
        assert answers == ["finished"] * 4
        (up,) = fleet.find("pool.scaled", direction="up")
        assert (up["from"], up["to"]) == (1, 2)
        assert "waiting for a sync thread" in str(up["reason"])
        wait_until(lambda: len(fleet.worker_pids()) == 2, deadline_s=15, what="two workers")
    finally:
        assert fleet.stop() == 0
    assert fleet.errors() == []
    # Stopped: no supervisor runs for that fleet any more.
    after = _status(fleet)
    assert after.returncode == 1
    assert f"no supervisor is running for fleet '{fleet.fleet}'" in after.stderr
