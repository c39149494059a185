"""What the limits add to a foreground call's enqueue (ADR-0017; DESIGN.md section 6): the
exact code the front's call queue runs to append a call (``server/call_queue.py``), with no
limit (its plain ``XADD``) and with ``ADMIT`` checking one, two or three token buckets (the
caller's; plus a tool's; plus the fleet's), then also the lane's bound (``max_queued``).

    python -m bench.limits_overhead

One trio client on a throwaway redis-server: per append, the round trip's p50 at one
caller (sequential), at 64 concurrent callers the front's and Redis's CPU per append (the
buckets never run dry: the rates are set far above what is sent), and the front's own
Python work per append measured alone (no socket). Best of several rounds: on a shared
machine the noise only ever adds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

import redis
import trio

from bench.redis_server import bench_redis, process_cpu_s
from proto import ADMIT, CALL_GROUP, CALL_PAYLOAD_FIELD, Keyspace, Principal, encode_command
from server.admission import AdmissionControl, Caller
from server.limits_config import LimitsConfig, ToolRate
from server.metrics import FrontMetrics
from server.redis_client import RedisClient, open_redis, parse_redis_url

ROUNDS = 5
LOOPS = 50_000
SEQUENTIAL = 5_000
CONCURRENT = 64
PER_TASK = 400
PAYLOAD = b"x" * 200  # about an encoded echo call
FAST = 1_000_000.0  # tokens per second: never refuses
CALLER = Caller(Principal.bearer("alice", "https://idp.example", ()), "127.0.0.1", "front-1")

CONFIGS: dict[str, LimitsConfig] = {
    "no limit (XADD)": LimitsConfig(),
    "caller bucket": LimitsConfig(rate=FAST, burst=1_000_000_000),
    "caller + tool": LimitsConfig(
        rate=FAST, burst=1_000_000_000, tool_rates={"echo": ToolRate(rate=FAST, burst=10**9)}
    ),
    "lane bound": LimitsConfig(max_queued=10**7),
    "caller bucket + lane bound": LimitsConfig(rate=FAST, burst=10**9, max_queued=10**7),
    "caller + tool + fleet": LimitsConfig(
        rate=FAST,
        burst=10**9,
        tool_rates={"echo": ToolRate(rate=FAST, burst=10**9)},
        global_rate=FAST,
        global_burst=10**9,
    ),
}


def appender(
    client: RedisClient, admission: AdmissionControl, keys: Keyspace
) -> Callable[[], Awaitable[object]]:
    """One append as ``CallQueue._append`` makes it (without the refusal's error path)."""
    stream = keys.call_stream()

    async def append() -> object:
        admit = admission.call_command(CALLER, "echo")
        if admit is None:
            return await client.execute(
                "XADD", stream, "NOMKSTREAM", "*", CALL_PAYLOAD_FIELD, PAYLOAD
            )
        return admit.read(await client.execute_encoded(admit.encoded(PAYLOAD)))

    return append


def front_work_ns(admission: AdmissionControl, stream: str) -> float:
    """The front's own work for one append, without the socket: building (or finding) the
    command, encoding it, reading a reply; best of several runs, in ns."""
    admit = admission.call_command(CALLER, "echo")
    reply: object = [b"ok", b"1-0"] if admit is not None else b"1-0"

    def once() -> object:
        found = admission.call_command(CALLER, "echo")
        if found is None:
            encode_command(["XADD", stream, "NOMKSTREAM", "*", CALL_PAYLOAD_FIELD, PAYLOAD])
            return reply
        found.encoded(PAYLOAD)
        return found.read(reply)

    best = float("inf")
    for _ in range(7):
        started = time.perf_counter_ns()
        for _ in range(LOOPS):
            once()
        best = min(best, (time.perf_counter_ns() - started) / LOOPS)
    return best


async def measure(
    url: str, redis_pid: int, config: LimitsConfig, fleet: str
) -> tuple[float, float, float, float]:
    """p50 at one caller (µs), front and Redis CPU per append at 64 (µs), front work (ns)."""
    keys = Keyspace(fleet)
    sync = redis.Redis.from_url(url)
    sync.xgroup_create(keys.call_stream(), CALL_GROUP, id="0", mkstream=True)
    admission = AdmissionControl(config, keys, FrontMetrics(()), task_slots_ttl_ms=1000)
    async with open_redis(parse_redis_url(url)) as client:
        append = appender(client, admission, keys)
        await client.execute("SCRIPT", "LOAD", ADMIT.source)
        for _ in range(500):  # warm-up
            await append()
        sequential: list[float] = []
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            await append()
            sequential.append(time.perf_counter() - started)
        sync.xtrim(keys.call_stream(), maxlen=0)
        cpu0, redis0 = time.process_time(), process_cpu_s(redis_pid)

        async def caller() -> None:
            for _ in range(PER_TASK):
                await append()

        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENT):
                nursery.start_soon(caller)
        count = CONCURRENT * PER_TASK
        front_us = (time.process_time() - cpu0) / count * 1e6
        redis_us = (process_cpu_s(redis_pid) - redis0) / count * 1e6
    sync.delete(keys.call_stream())
    work = front_work_ns(admission, keys.call_stream())
    return statistics.median(sequential) * 1e6, front_us, redis_us, work


def main() -> None:
    best: dict[str, list[float]] = {}
    with bench_redis() as (url, pid):
        for round_no in range(ROUNDS):
            for n, (name, config) in enumerate(CONFIGS.items()):
                got = trio.run(measure, url, pid, config, f"bench{round_no}{n}")
                best[name] = [min(a, b) for a, b in zip(best.get(name, got), got, strict=True)]
    print(f"best of {ROUNDS} rounds:")
    for name, (p50, front, redis_cpu, work) in best.items():
        print(
            f"{name:<24} p50 {p50:6.1f} µs at one caller;  at {CONCURRENT}: front {front:5.1f} µs,"
            f" redis {redis_cpu:5.1f} µs CPU per append;  front work {work / 1000:5.2f} µs"
        )


if __name__ == "__main__":
    main()
