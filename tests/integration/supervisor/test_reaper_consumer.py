"""The orphan sweep and the supervisor's own reaper consumer (``supervisor-reaper``): it has
no heartbeat, yet it is never deleted as an orphan, which could drop calls an on-exit reap
claimed a moment ago; only calls it held for long (a supervisor that died mid-reap) are
answered. A real Redis, the stream written as fronts and workers write it."""

from __future__ import annotations

import msgspec
import redis

from proto import CALL_GROUP, CALL_PAYLOAD_FIELD, CallMessage, Keyspace, encode_wire
from server.redis_client import open_redis, parse_redis_url
from supervisor.call_reaper import settle_orphaned_consumers
from tests.fixtures.redis_server import RedisServer

REAPER = "supervisor-reaper"
FRONT = "front-0-abcdef"
HOUR_MS = 3_600_000


def add_call(client: redis.Redis, keys: Keyspace, call_id: int) -> bytes:
    call = CallMessage(
        call_id=call_id,
        front_id=FRONT,
        tool="lookup",
        arguments=msgspec.Raw(b"{}"),
        protocol_version="2026-07-28",
        deadline_ms=2**50,
        request_id=f"req-{call_id}",
        cancel_key=f"c{call_id}",
    )
    entry = client.xadd(keys.call_stream(), {CALL_PAYLOAD_FIELD: encode_wire(call)})
    assert isinstance(entry, bytes)
    return entry


def take(client: redis.Redis, keys: Keyspace, consumer: str) -> None:
    """``consumer`` reads the next new entry (a worker taking a call)."""
    client.xreadgroup(CALL_GROUP, consumer, {keys.call_stream(): ">"}, count=1)


def pending_of(client: redis.Redis, keys: Keyspace, consumer: str) -> list[bytes]:
    rows = client.xpending_range(keys.call_stream(), CALL_GROUP, "-", "+", 100, consumer)
    return [row["message_id"] for row in rows]  # type: ignore[misc]  # sync client


def consumers(client: redis.Redis, keys: Keyspace) -> set[str]:
    return {c["name"].decode() for c in client.xinfo_consumers(keys.call_stream(), CALL_GROUP)}


async def test_the_sweep_leaves_the_reaper_consumer_and_settles_only_its_stale_calls(
    redis_server: RedisServer, fleet_name: str
) -> None:
    client = redis_server.client()
    keys = Keyspace(fleet_name)
    client.xgroup_create(keys.call_stream(), CALL_GROUP, id="0", mkstream=True)
    dead_worker = "worker-0-dead00"
    # A dead worker's call (no heartbeat): an orphan.
    orphaned = add_call(client, keys, 1)
    take(client, keys, dead_worker)
    # A call a live supervisor's reap claimed just now, settling it this very moment.
    in_hand = add_call(client, keys, 2)
    take(client, keys, "worker-1-gone00")
    client.xclaim(keys.call_stream(), CALL_GROUP, REAPER, 0, [in_hand])
    client.xgroup_delconsumer(keys.call_stream(), CALL_GROUP, "worker-1-gone00")
    # A call the reaper has held for an hour: its supervisor died mid-reap.
    stale = add_call(client, keys, 3)
    take(client, keys, "worker-2-gone00")
    client.xclaim(keys.call_stream(), CALL_GROUP, REAPER, 0, [stale], idle=HOUR_MS)
    client.xgroup_delconsumer(keys.call_stream(), CALL_GROUP, "worker-2-gone00")
    assert consumers(client, keys) == {dead_worker, REAPER}

    async with open_redis(parse_redis_url(redis_server.url)) as supervisor_redis:
        assert await settle_orphaned_consumers(supervisor_redis, keys) == 2

    # The reaper stays, still holding the call it is settling; the dead worker is gone.
    assert consumers(client, keys) == {REAPER}
    assert pending_of(client, keys, REAPER) == [in_hand]
    # The orphan and the stale call were answered "worker lost" (kept: no front listens).
    kept = client.hgetall(keys.kept_replies(FRONT))
    assert set(kept) == {b"1", b"3"}
    assert all(b"worker_lost" in reply for reply in kept.values())
    remaining = [entry_id for entry_id, _ in client.xrange(keys.call_stream()) or []]
    assert remaining == [in_hand]
    assert orphaned not in remaining
