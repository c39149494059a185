"""``mcpfleet status``: a running fleet's processes, load and queues, as a table and as
JSON; exit 1 (said on stderr) when no supervisor runs for the fleet, 2 for usage errors."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import msgspec
import trio
from mcp import Client

from supervisor.config import FleetConfig
from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until, wait_until_async


def _status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MCPFLEET, "status", *args],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=30, check=False,
    )  # fmt: skip


def _of(fleet: RunningFleet, *flags: str) -> subprocess.CompletedProcess[str]:
    return _status("--redis", fleet.redis_url, "--fleet", fleet.fleet, *flags)


def _json(fleet: RunningFleet) -> dict[str, object]:
    result = _of(fleet, "--json")
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


def _settled(fleet: RunningFleet) -> subprocess.CompletedProcess[str]:
    """``mcpfleet status`` once the document shows every process ready: the supervisor
    writes it every second, so the first one may predate the front's ready report."""
    last: list[subprocess.CompletedProcess[str]] = []

    def all_ready() -> bool:
        last[:] = [_of(fleet)]
        rows = [line.split() for line in last[0].stdout.splitlines()]
        states = [row[3] for row in rows if row[1:2] in (["front"], ["worker"])]
        return bool(states) and all(state == "ready" for state in states)

    wait_until(all_ready, deadline_s=15, what="every process ready in the status document")
    return last[0]


def test_the_table_lists_every_process_of_a_running_fleet(shared_fleet: RunningFleet) -> None:
    result = _settled(shared_fleet)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"fleet '{shared_fleet.fleet}': 1 supervisor running"
    assert "2 workers (fixed at 2)" in result.stdout
    header = next(line for line in lines if line.strip().startswith("ID"))
    assert header.split() == [
        "ID", "ROLE", "PID", "STATE", "UPTIME", "RESTARTS", "SERVED", "INFLIGHT", "WAITING",
        "TASKS",
    ]  # fmt: skip
    rows = {int(row[2]): row for row in (line.split() for line in lines) if row[1:2] in (
        ["supervisor"], ["front"], ["worker"])}  # fmt: skip
    assert {pid for pid, row in rows.items() if row[1] == "supervisor"} == {
        shared_fleet.process.pid
    }
    assert {pid for pid, row in rows.items() if row[1] == "front"} == set(shared_fleet.front_pids())
    assert {pid for pid, row in rows.items() if row[1] == "worker"} == set(
        shared_fleet.worker_pids()
    )
    assert all(row[3] in ("ready", "running") for row in rows.values())
    assert "  calls  0 queued" in result.stdout
    assert "scale events: none" in result.stdout


async def test_json_counts_the_calls_each_worker_served(shared_fleet: RunningFleet) -> None:
    async with Client(shared_fleet.url, mode="auto", read_timeout_seconds=30) as client:
        for _ in range(3):
            await client.call_tool("echo", {"text": "counted"})

    def served() -> int:
        status = _json(shared_fleet)
        (supervisor,) = status["supervisors"]  # type: ignore[misc]
        return sum(p["calls_served"] or 0 for p in supervisor["processes"] if p["role"] == "worker")

    last = -1

    def enough() -> bool:
        nonlocal last
        last = served()
        return last >= 3

    # Workers report what they served with each heartbeat (every 3 s by default).
    await wait_until_async(enough, deadline_s=15, what="the served calls in the status")
    status = await trio.to_thread.run_sync(_json, shared_fleet)
    assert status["fleet"] == shared_fleet.fleet
    (supervisor,) = status["supervisors"]  # type: ignore[misc]
    assert supervisor["state"] == "running"
    assert supervisor["pid"] == shared_fleet.process.pid
    assert (supervisor["workers_min"], supervisor["workers_max"], supervisor["workers"]) == (
        2, 2, 2,
    )  # fmt: skip
    for process in supervisor["processes"]:
        assert set(process) == {
            "id", "role", "pid", "state", "started_ms", "uptime_s", "restarts", "inflight",
            "calls_served", "waiting", "tasks_running",
        }  # fmt: skip
        assert process["uptime_s"] > 0
    workers = [p for p in supervisor["processes"] if p["role"] == "worker"]
    assert all(p["inflight"] == 0 and p["waiting"] == 0 for p in workers)
    assert status["queues"] == {
        "calls_queued": 0,
        "calls_taken": 0,
        "oldest_call_wait_s": 0.0,
        "tasks_queued": 0,
        "oldest_task_wait_s": 0.0,
    }
    assert status["scale_events"] == []


def test_a_fleet_without_a_supervisor_exits_1_and_says_so(redis_server: RedisServer) -> None:
    name = "s" + uuid.uuid4().hex[:10]
    result = _status("--redis", redis_server.url, "--fleet", name)
    assert result.returncode == 1
    assert result.stderr == f"mcpfleet: no supervisor is running for fleet '{name}'\n"
    assert f"fleet '{name}': 0 supervisors running" in result.stdout
    as_json = _status("--redis", redis_server.url, "--fleet", name, "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["supervisors"] == []


def test_a_data_dir_where_no_fleet_runs_exits_1(tmp_path: Path) -> None:
    result = _status("--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"no fleet runs from {tmp_path}" in result.stderr
    assert result.stdout == ""


def test_a_stopped_fleets_data_dir_exits_1(tmp_path: Path) -> None:
    # What a stopped `mcpfleet up` leaves: its record, naming a Redis that is gone.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = FleetConfig(redis_url="redis://127.0.0.1:1/0", fleet="gone")
    (run_dir / "fleet.json").write_bytes(msgspec.json.encode(record))
    result = _status("--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no supervisor is running for fleet 'gone'" in result.stderr
    assert "does not answer" in result.stderr


def test_a_given_redis_that_does_not_answer_is_an_error() -> None:
    result = _status("--redis", "redis://127.0.0.1:1/0")
    assert result.returncode == 2
    assert result.stderr.startswith("mcpfleet: error: cannot connect to Redis")


def test_usage_errors_exit_2() -> None:
    assert _status("--no-such-flag").returncode == 2
    bad = _status("--redis", "ftp://nowhere")
    assert bad.returncode == 2
    assert "mcpfleet: error:" in bad.stderr
