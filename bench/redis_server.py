"""A throwaway redis-server for benchmarks (free loopback port, no persistence)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from supervisor.embedded_redis import find_redis_server, free_loopback_port


@contextmanager
def bench_redis() -> Iterator[tuple[str, int]]:
    """Yield ``(url, pid)`` of a fresh redis-server; stopped on exit."""
    port = free_loopback_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [str(find_redis_server()), "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        try:
            yield url, proc.pid
        finally:
            proc.terminate()
            proc.wait()


def process_cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process (and its reaped children) from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / 100.0
