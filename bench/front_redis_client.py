"""Which Redis client should the trio front use? (ADR-0001)

Measures, in one trio process against one redis-server, the same workload through:
  * ``trio-hiredis``: our client (server/redis_client.py): trio sockets, hiredis parser,
    automatic pipelining of concurrent commands on one connection;
  * ``redis-py+thread``: redis-py's sync client through ``trio.to_thread.run_sync`` per
    command (limiter and connection pool of 16), the engineering notes' first suggestion.
Workload: each of C tasks runs XADD of a 120-byte payload to a stream (what the front does
per call), N times. Reported: commands/s, client CPU µs per command, Redis CPU µs per
command, and p50 latency at C=1. Run with ``make bench`` or ``python -m bench.front_redis_client``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

import redis
import trio

from bench.redis_server import bench_redis, process_cpu_s
from server.redis_client import open_redis, parse_redis_url

PAYLOAD = b"x" * 120
TOTAL = 20_000


async def run_case(
    name: str, command: Callable[[], Awaitable[object]], concurrency: int, redis_pid: int
) -> None:
    per_task = TOTAL // concurrency
    latencies: list[float] = []

    async def worker() -> None:
        for _ in range(per_task):
            t0 = time.perf_counter()
            await command()
            latencies.append(time.perf_counter() - t0)

    cpu0, rcpu0, wall0 = time.process_time(), process_cpu_s(redis_pid), time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    rcpu = process_cpu_s(redis_pid) - rcpu0
    n = per_task * concurrency
    print(
        f"{name:16} c={concurrency:<3} {n / wall:9.0f} cmd/s  client {cpu / n * 1e6:6.1f} µs/cmd"
        f"  redis {rcpu / n * 1e6:5.1f} µs/cmd  p50 {statistics.median(latencies) * 1e3:6.3f} ms"
    )


async def main() -> None:
    with bench_redis() as (url, redis_pid):
        sync = redis.Redis(
            connection_pool=redis.BlockingConnectionPool.from_url(url, max_connections=16)
        )
        limiter = trio.CapacityLimiter(16)
        async with open_redis(parse_redis_url(url)) as ours:
            for concurrency in (1, 64):
                await run_case(
                    "trio-hiredis",
                    lambda: ours.execute("XADD", "bench:a", "MAXLEN", "~", 1000, "*", "m", PAYLOAD),
                    concurrency,
                    redis_pid,
                )
                await run_case(
                    "redis-py+thread",
                    lambda: trio.to_thread.run_sync(
                        lambda: sync.xadd("bench:b", {"m": PAYLOAD}, maxlen=1000),
                        limiter=limiter,
                    ),
                    concurrency,
                    redis_pid,
                )


if __name__ == "__main__":
    trio.run(main)
