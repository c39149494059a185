"""``mcpfleet up --stdio`` as a desktop client runs it: one process on the client's pipes,
its front a supervised child that owns them; the end of input (or a signal) stops the
whole fleet, and the exit code says whether the front crashed."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.fixtures.fleet import MCPFLEET
from tests.fixtures.stdio_process import StdioProcess, call, initialize, notification
from tests.fixtures.waiting import wait_until

STOP_DEADLINE_S = 20.0


def up_stdio(data_dir: Path, *extra: str, app: str = "examples.demo:app") -> StdioProcess:
    return StdioProcess(
        [*MCPFLEET, "up", "--stdio", "--app", app, "--data-dir", str(data_dir),
         "--workers", "1", *extra]
    )  # fmt: skip


def fleet_processes(data_dir: Path) -> list[str]:
    """Command lines of live processes of this fleet: supervisor, front, workers (Redis
    rewrites its process title; see :func:`redis_pid`)."""
    out = subprocess.run(["ps", "-ewwo", "args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if str(data_dir) in line]


def redis_pid(fleet: StdioProcess) -> int:
    (started,) = fleet.find("redis.started")
    pid = started["redis_pid"]
    assert isinstance(pid, int)
    return pid


def nothing_left(fleet: StdioProcess, data_dir: Path) -> bool:
    return fleet_processes(data_dir) == [] and not Path(f"/proc/{redis_pid(fleet)}").exists()


def stdio_front_pid(data_dir: Path) -> int:
    out = subprocess.run(
        ["pgrep", "-f", f"mcpfleet front --stdio --config-json {data_dir}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    (pid,) = out.stdout.split()
    return int(pid)


def test_end_of_input_stops_the_whole_fleet_and_stdout_carries_only_the_protocol(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "state"
    fleet = up_stdio(data_dir, app="tests.fixtures.noisy_tools:app")
    try:
        fleet.send(initialize(0), notification("notifications/initialized"))
        fleet.send(call(1, "shout", {"text": "hello"}))
        assert fleet.result(1)["content"] == [{"type": "text", "text": "hello"}]
        assert len(fleet_processes(data_dir)) == 3  # supervisor, front, worker
        assert Path(f"/proc/{redis_pid(fleet)}").exists()
        fleet.close_stdin()
        assert fleet.wait_exit(deadline_s=STOP_DEADLINE_S) == 0
    finally:
        fleet.kill()
    fleet.assert_stdout_was_protocol_only()
    assert [m["id"] for m in fleet.snapshot()] == [0, 1]
    # The app's writes to stdout all went to stderr: from the supervisor and the front (at
    # import) and from the worker (import and handler).
    noise = [line for line in fleet.stderr_lines if line.startswith(b"noise: ")]
    assert noise.count(b"noise: imported\n") == 3
    assert noise.count(b"noise: imported, raw\n") == 3
    assert b"noise: handling hello\n" in noise
    assert b"noise: handling, raw\n" in noise
    wait_until(lambda: nothing_left(fleet, data_dir), deadline_s=5, what="no process left")
    assert fleet.find("fleet.connection_closed")
    assert fleet.find("redis.stopped")
    assert fleet.errors() == []


def test_a_crashed_stdio_front_is_not_restarted_and_the_fleet_exits_1(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    fleet = up_stdio(data_dir)
    try:
        fleet.send(initialize(0))
        fleet.result(0)
        os.kill(stdio_front_pid(data_dir), signal.SIGKILL)
        assert fleet.wait_exit(deadline_s=STOP_DEADLINE_S) == 1
    finally:
        fleet.kill()
    (crash,) = fleet.find("front.crashed")
    assert crash["exit_code"] == -signal.SIGKILL
    assert fleet.find("fleet.stopped")
    wait_until(lambda: nothing_left(fleet, data_dir), deadline_s=5, what="no process left")


def test_sigterm_stops_the_fleet_in_order_and_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    fleet = up_stdio(data_dir)
    try:
        fleet.send(initialize(0))
        fleet.result(0)
        fleet.terminate()
        assert fleet.wait_exit(deadline_s=STOP_DEADLINE_S) == 0
    finally:
        fleet.kill()
    events = [e["event"] for e in fleet.events]
    assert events.index("front.stopped") < events.index("worker.stopped")
    assert events.index("worker.stopped") < events.index("redis.stopped")
    assert fleet.errors() == []
    wait_until(lambda: nothing_left(fleet, data_dir), deadline_s=5, what="no process left")


def test_http_and_stdio_exclude_each_other(tmp_path: Path) -> None:
    fleet = up_stdio(tmp_path, "--http", "127.0.0.1:0")
    assert fleet.wait_exit(deadline_s=STOP_DEADLINE_S) == 2
    assert "not allowed with argument" in fleet.log()
