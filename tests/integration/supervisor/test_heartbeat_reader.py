"""Reading workers' recent heartbeats against a real Redis: a record whose beat (its
``live_workers`` score less the TTL) is older than the bound is left out, as are workers
without a record."""

from __future__ import annotations

import time

import msgspec

from proto import Keyspace, WorkerHeartbeat
from server.redis_client import open_redis, parse_redis_url
from supervisor.heartbeat_reader import read_recent_heartbeats
from tests.fixtures.redis_server import RedisServer

TTL_MS = 15_000


async def test_only_heartbeats_written_within_the_bound_are_read(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    now_ms = int(time.time() * 1000)
    written = {"worker-fresh": now_ms - 500, "worker-stale": now_ms - 10_000}
    for worker_id, at_ms in written.items():
        record = WorkerHeartbeat(pid=1, inflight=0, calls_served=7)
        sync.set(keys.worker_heartbeat(worker_id), msgspec.json.encode(record), px=TTL_MS)
        sync.zadd(keys.live_workers(), {worker_id: at_ms + TTL_MS})
    ids = ["worker-fresh", "worker-stale", "worker-gone"]
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        beats = await read_recent_heartbeats(client, keys, ids, ttl_ms=TTL_MS, within_ms=6_000)
        assert await read_recent_heartbeats(client, keys, [], ttl_ms=TTL_MS, within_ms=1) == {}
    assert beats == {"worker-fresh": WorkerHeartbeat(pid=1, inflight=0, calls_served=7)}
