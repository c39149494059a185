"""How fast a caller hears of a lost worker (ADR-0014).

Starts ``mcpfleet up`` (2 workers, the recovery test tools) on a throwaway redis-server and,
for each sample, starts one call over HTTP (2026-07-28, one POST), waits until a worker holds
it, then ends that worker, and times until the caller has its answer:

* ``kill -> error``: SIGKILL, a tool not declared idempotent: the "worker lost" error.
* ``kill -> redelivered reply``: SIGKILL, an idempotent tool that naps 200 ms: the second
  run's reply, less those 200 ms (the cost of redelivery itself).
* ``stop -> error``: SIGSTOP, then the supervisor finds the worker hung and kills it; once
  with the default heartbeat (3 s, hung after 12 s), once with 0.3 s (hung after 1.2 s).

Run with ``python -m bench.worker_loss``.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import redis

from bench.loadgen.mcp_flows import stateless_call
from bench.redis_server import bench_redis
from proto import CALL_GROUP, Keyspace

ROOT = Path(__file__).resolve().parents[1]
APP = "tests.fixtures.recovery_tools:app"
FLEET = "bench"


def body(tool: str, arguments: dict[str, object]) -> bytes:
    return json.dumps(stateless_call(tool, arguments)).encode()


@contextmanager
def fleet(url: str, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "up", "--app", APP, "--redis", url,
             "--http", "127.0.0.1:0", "--data-dir", tmp, "--workers", "2", "--fleet", FLEET],
            cwd=ROOT, stderr=subprocess.PIPE, text=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MCPFLEET_")},
                 **env},
        )  # fmt: skip
        assert proc.stderr is not None
        for line in proc.stderr:
            note_ready([line])
            if '"fleet.ready"' in line:
                endpoint = json.loads(line)["urls"][0]
                break
        else:
            raise SystemExit("the fleet did not start")
        threading.Thread(target=note_ready, args=(proc.stderr,), daemon=True).start()
        try:
            yield endpoint, proc
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


READY: set[str] = set()
"""Ids of the workers that logged ``worker.ready``."""


def note_ready(lines: Iterable[str]) -> None:
    """Drain the fleet's log (a full pipe would block it), noting ready workers."""
    for line in lines:
        if '"worker.ready"' in line:
            READY.add(json.loads(line)["worker_id"])


def worker_pids(supervisor_pid: int) -> dict[str, int]:
    """Worker id → pid of the supervisor's worker children."""
    out = subprocess.run(
        ["ps", "-ewwo", "pid=,ppid=,args="], capture_output=True, text=True, check=True
    )
    found: dict[str, int] = {}
    for line in out.stdout.splitlines():
        pid, ppid, args = line.split(None, 2)
        if int(ppid) == supervisor_pid and "mcpfleet worker " in args:
            found[args.split("--id ", 1)[1].split()[0]] = int(pid)
    return found


def wait(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)


def sample(
    endpoint: str, proc: subprocess.Popen[str], url: str, payload: bytes, signum: int
) -> tuple[float, dict[str, object]]:
    """Seconds from the signal to the caller's answer, and the answer."""
    client = redis.Redis.from_url(url)
    stream = Keyspace(FLEET).call_stream()

    def two_ready() -> bool:
        ids = set(worker_pids(proc.pid))
        return len(ids) == 2 and ids <= READY

    # Both workers read calls (the previous sample's replacement too), or a redelivered run
    # would wait for a worker to start.
    wait(two_ready, "two ready workers")
    answer: list[tuple[float, dict[str, object]]] = []

    def call() -> None:
        response = httpx.post(
            endpoint,
            content=payload,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2026-07-28",
                "Mcp-Method": "tools/call",
                "Mcp-Name": json.loads(payload)["params"]["name"],
            },
            timeout=120,
        )
        answer.append((time.perf_counter(), response.json()))

    caller = threading.Thread(target=call)
    caller.start()
    wait(lambda: client.xpending(stream, CALL_GROUP)["pending"] == 1, "the call to be taken")
    holder = client.xpending_range(stream, CALL_GROUP, "-", "+", 1)[0]["consumer"]
    pid = worker_pids(proc.pid)[holder.decode() if isinstance(holder, bytes) else str(holder)]
    os.kill(pid, signum)
    signalled = time.perf_counter()
    caller.join()
    if signum == signal.SIGSTOP:
        with suppress(ProcessLookupError):  # killed as hung, as it should be
            os.kill(pid, signal.SIGCONT)
    done, message = answer[0]
    return done - signalled, message


def report(name: str, seconds: list[float], offset_s: float = 0.0) -> None:
    ms = sorted((s - offset_s) * 1000 for s in seconds)
    print(
        f"{name:<34} n={len(ms):<3} median {statistics.median(ms):8.1f} ms"
        f"  min {ms[0]:8.1f} ms  max {ms[-1]:8.1f} ms"
    )


def main() -> None:
    with bench_redis() as (url, _redis_pid):
        with fleet(url, {}) as (endpoint, proc):
            lost = [sample(endpoint, proc, url, body("nap", {"ms": 60_000}), signal.SIGKILL)
                    for _ in range(10)]  # fmt: skip
            assert all("error" in m for _, m in lost), lost
            report("kill -> error", [s for s, _ in lost])
            again = [sample(endpoint, proc, url, body("nap_safely", {"ms": 200}), signal.SIGKILL)
                     for _ in range(10)]  # fmt: skip
            assert all("result" in m for _, m in again), again
            report("kill -> redelivered reply (-200ms)", [s for s, _ in again], 0.2)
            hung = [sample(endpoint, proc, url, body("nap", {"ms": 60_000}), signal.SIGSTOP)
                    for _ in range(3)]  # fmt: skip
            report("stop -> error (beat 3 s)", [s for s, _ in hung])
        fast = {"MCPFLEET_WORKER__HEARTBEAT_INTERVAL_S": "0.3"}
        with fleet(url, fast) as (endpoint, proc):
            hung = [sample(endpoint, proc, url, body("nap", {"ms": 60_000}), signal.SIGSTOP)
                    for _ in range(10)]  # fmt: skip
            report("stop -> error (beat 0.3 s)", [s for s, _ in hung])


if __name__ == "__main__":
    main()
