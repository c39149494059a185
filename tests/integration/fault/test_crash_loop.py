"""A tool module that crashes its worker: at the first start, ``mcpfleet up`` fails with one
clear error; after the fleet started, the slot keeps restarting with growing delays,
reports its crash loop once (and ``mcpfleet status`` flags it), and the healthy workers
keep serving."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
from pathlib import Path

import trio
from mcp import Client
from mcp_types import TextContent

from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until

APP = "tests.fixtures.recovery_tools:app"


def test_a_worker_crashing_at_its_first_start_fails_up_with_one_clear_error(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [*MCPFLEET, "up", "--app", APP, "--redis", redis_server.url, "--fleet", fleet_name,
         "--http", "127.0.0.1:0", "--data-dir", str(data_dir), "--workers", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
        env={**clean_env(), "RECOVERY_TOOLS_BROKEN_IMPORT": "1"},
    )  # fmt: skip
    assert result.returncode == 2
    # The worker says why; the supervisor says which worker, once, and stops.
    assert "RuntimeError: recovery tools: broken on purpose at import" in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("mcpfleet: error: worker")]
    assert line.endswith("did not start (exit code 2); see its log above")
    assert '"event": "worker.exited"' not in result.stderr  # no restart was tried
    leftovers = subprocess.run(
        ["pgrep", "-f", f"--config-json {data_dir}"], capture_output=True, check=False
    )
    assert leftovers.stdout == b""


def _time(event: dict[str, object]) -> float:
    stamp = str(event["timestamp"]).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(stamp).timestamp()


async def test_a_worker_crashing_after_start_restarts_with_growing_delays_and_is_reported(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    marker = tmp_path / "crash"
    fleet = start_fleet(
        redis_server,
        fleet_name,
        tmp_path,
        app=APP,
        env={
            "RECOVERY_TOOLS_CRASH_MARKER": str(marker),
            "RECOVERY_TOOLS_CRASH_AFTER_S": "0.3",
            "MCPFLEET_SUPERVISOR__RESTART_BACKOFF_MAX_S": "1.0",
        },
    )
    try:
        healthy, doomed = fleet.worker_pids()
        # From now on every worker that starts crashes shortly after; the running ones
        # already imported the tools and stay healthy. Kill one: its slot starts looping.
        marker.touch()
        os.kill(doomed, signal.SIGKILL)
        (killed,) = [e for e in fleet.find("worker.ready") if e["pid"] == doomed]
        slot = str(killed["worker_id"]).rpartition("-")[0] + "-"
        served: list[str] = []
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
            # The healthy worker keeps serving throughout (an idempotent tool: a call taken
            # by a doomed worker just before it dies is run again elsewhere).
            with trio.move_on_after(60):
                while len(_exits(fleet, slot)) < 6:
                    served.append(text_of(await client.call_tool("pid", {})))
        exits = _exits(fleet, slot)
        assert len(exits) >= 6, fleet.lines[-40:]
        assert str(healthy) in served and len(served) >= 10
        assert healthy in fleet.worker_pids()
        _assert_status_flags_the_crash_loop(fleet, slot, healthy)
    finally:
        assert fleet.stop() == 0
    delays = [float(e["restart_in_s"]) for e in exits]  # type: ignore[arg-type]
    assert delays[:6] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert [e["reason"] for e in exits[1:]] == ["crashed"] * (len(exits) - 1)
    assert {e["exit_code"] for e in exits[1:]} == {3}
    # Each restart really waited its delay before the child that died next was spawned.
    times = [_time(e) for e in exits]
    for before, after, delay in zip(times, times[1:], delays, strict=False):
        assert after - before >= delay
    (looping,) = fleet.find("worker.crash_looping")  # reported once, not per restart
    assert looping["level"] == "error"
    assert (looping["consecutive_deaths"], looping["slot"]) == (5, slot.rstrip("-"))
    assert exits.index(next(e for e in exits if e["consecutive_deaths"] == 5)) == 4


def _assert_status_flags_the_crash_loop(fleet: RunningFleet, slot: str, healthy: int) -> None:
    """``mcpfleet status`` flags the looping slot's row, as JSON and in the table, and no
    other (the document is rewritten every second: read until it shows)."""
    rows: list[dict[str, object]] = []

    def flagged() -> bool:
        result = _status(fleet, "--json")
        (supervisor,) = json.loads(result.stdout)["supervisors"]
        rows[:] = supervisor["processes"]
        return any(r["crash_looping"] for r in rows if str(r["id"]).startswith(slot))

    wait_until(flagged, deadline_s=20, what=f"{slot}* crash_looping in mcpfleet status --json")
    others = [r for r in rows if not str(r["id"]).startswith(slot)]
    assert [r["role"] for r in others] == ["supervisor", "front", "worker"]
    assert not any(r["crash_looping"] for r in others)
    assert next(r for r in others if r["role"] == "worker")["pid"] == healthy
    table: list[list[str]] = []

    def marked() -> bool:
        lines = _status(fleet).stdout.splitlines()
        table[:] = [line.split() for line in lines if line.strip().startswith(slot)]
        return bool(table) and table[0][3].endswith("/CRASH-LOOP")

    wait_until(marked, deadline_s=20, what=f"{slot}* CRASH-LOOP in mcpfleet status")
    assert table[0][3].split("/")[0] in ("starting", "ready", "backoff")


def _status(fleet: RunningFleet, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MCPFLEET, "status", "--redis", fleet.redis_url, "--fleet", fleet.fleet, *flags],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=30, check=True,
    )  # fmt: skip


def _exits(fleet: RunningFleet, slot: str) -> list[dict[str, object]]:
    return [e for e in fleet.find("worker.exited") if str(e["child_id"]).startswith(slot)]


def text_of(result: object) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]  # type: ignore[attr-defined]
    return blocks[0].text
