"""``ADMIT`` (proto/lua/admit.lua) against a real Redis: token buckets on Redis's clock that
refill continuously up to their burst, expire when they would be full again, refuse with
how long to wait, charge nothing (and append nothing) when any bucket refuses; a lane's
bound counted as the queue depths count it (calls no worker took, queued tasks)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from proto import (
    ADMIT,
    CALL_GROUP,
    CALL_PAYLOAD_FIELD,
    AdmitRefusal,
    Bucket,
    Keyspace,
    RejectionReason,
    admit_call_script,
    admit_task_script,
    read_admit_reply,
)
from server.redis_client import RedisClient, open_redis, parse_redis_url
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[RedisClient]:
    async with open_redis(parse_redis_url(redis_server.url)) as opened:
        yield opened


@pytest.fixture
def keys(fleet_name: str) -> Keyspace:
    return Keyspace(fleet_name)


@pytest.fixture
def sync(redis_server: RedisServer, keys: Keyspace) -> redis.Redis:
    """A plain client, the call lane's stream and group made (as a front finds them)."""
    opened = redis_server.client()
    opened.xgroup_create(keys.call_stream(), CALL_GROUP, id="0", mkstream=True)
    return opened


def bucket(keys: Keyspace, rate: float, burst: int, name: str = "alice") -> Bucket:
    return Bucket(RejectionReason.RATE_LIMITED, keys.rate_bucket(name), rate, burst)


async def call(
    client: RedisClient, keys: Keyspace, *buckets: Bucket, max_queued: int = 0
) -> AdmitRefusal | bytes | bool | None:
    script_keys, argv = admit_call_script(
        buckets,
        stream=keys.call_stream(),
        group=CALL_GROUP,
        field=CALL_PAYLOAD_FIELD,
        max_queued=max_queued,
    )
    reply = await client.run_script(ADMIT, script_keys, [*argv, b"call"])
    return read_admit_reply(reply, buckets)


def redis_now_us(sync: redis.Redis) -> int:
    seconds, micros = sync.time()
    return seconds * 1_000_000 + micros


def set_bucket(sync: redis.Redis, key: str, tokens: float, at_us: int) -> None:
    sync.hset(key, mapping={"tokens": repr(tokens), "ts": str(at_us)})


async def test_a_burst_is_admitted_then_refused_with_the_wait_and_nothing_appended(
    client: RedisClient, keys: Keyspace, sync: redis.Redis
) -> None:
    alice = bucket(keys, rate=1.0, burst=3)
    for _ in range(3):
        assert isinstance(await call(client, keys, alice), bytes)  # the entry's id
    refusal = await call(client, keys, alice)
    assert isinstance(refusal, AdmitRefusal)
    assert refusal.reason is RejectionReason.RATE_LIMITED
    assert refusal.bucket == alice
    assert refusal.retry_after_s == 1  # up to 1000 ms to the next token: one whole second
    assert refusal.remaining == 0
    assert refusal.reset_s == 3  # ~2.99 s to refill three tokens, rounded up
    assert sync.xlen(keys.call_stream()) == 3


async def test_the_bucket_refills_continuously_on_redis_clock(
    client: RedisClient, keys: Keyspace, sync: redis.Redis
) -> None:
    alice = bucket(keys, rate=2.0, burst=10)
    # Empty 1.25 s ago: 2.5 tokens since, one taken now.
    set_bucket(sync, alice.key, 0.0, redis_now_us(sync) - 1_250_000)
    assert isinstance(await call(client, keys, alice), bytes)
    tokens, stamped = sync.hmget(alice.key, ["tokens", "ts"])
    assert 1.5 <= float(tokens) < 1.6
    assert abs(int(stamped) - redis_now_us(sync)) < 1_000_000
    # A fifth of a token: 0.8 more at 2 per second is 400 ms away.
    set_bucket(sync, alice.key, 0.2, redis_now_us(sync))
    script_keys, argv = admit_call_script(
        [alice], stream=keys.call_stream(), group=CALL_GROUP, field=CALL_PAYLOAD_FIELD
    )
    reply = await client.run_script(ADMIT, script_keys, [*argv, b"call"])
    verdict, index, wait_ms, remaining, full_ms = reply
    assert (verdict, index, remaining) == (b"bucket", 1, 0)
    assert 390 <= wait_ms <= 400
    assert 4890 <= full_ms <= 4900  # 9.8 tokens at 2 per second
    # Never above the burst, however long it idled.
    set_bucket(sync, alice.key, 0.0, redis_now_us(sync) - 3_600_000_000)
    assert isinstance(await call(client, keys, alice), bytes)
    assert float(sync.hget(alice.key, "tokens")) == 9.0


async def test_a_clock_stepping_back_refills_nothing_and_owes_nothing(
    client: RedisClient, keys: Keyspace, sync: redis.Redis
) -> None:
    alice = bucket(keys, rate=1.0, burst=5)
    set_bucket(sync, alice.key, 2.0, redis_now_us(sync) + 60_000_000)  # stamped "later"
    assert isinstance(await call(client, keys, alice), bytes)
    assert float(sync.hget(alice.key, "tokens")) == 1.0


async def test_an_idle_bucket_expires_when_it_would_be_full_again(
    client: RedisClient, keys: Keyspace, sync: redis.Redis
) -> None:
    alice = bucket(keys, rate=20.0, burst=2)
    assert isinstance(await call(client, keys, alice), bytes)
    assert 0 < sync.pttl(alice.key) <= 50  # one token at 20 per second
    assert isinstance(await call(client, keys, alice), bytes)
    assert 50 < sync.pttl(alice.key) <= 100  # two tokens
    await wait_until_async(
        lambda: not sync.exists(alice.key), deadline_s=5.0, what="the full bucket to expire"
    )
    # Gone means full: a burst again.
    assert isinstance(await call(client, keys, alice), bytes)
    assert isinstance(await call(client, keys, alice), bytes)


async def test_every_bucket_must_hold_a_token_and_none_is_charged_otherwise(
    client: RedisClient, keys: Keyspace, sync: redis.Redis
) -> None:
    fleet = Bucket(RejectionReason.GLOBAL_RATE_LIMITED, keys.global_rate_bucket(), 100.0, 100)
    alice = bucket(keys, rate=1.0, burst=1)
    tool = Bucket(RejectionReason.TOOL_RATE_LIMITED, keys.rate_bucket("alice", "t"), 0.5, 1)
    assert isinstance(await call(client, keys, fleet, alice, tool), bytes)
    fleet_tokens = sync.hget(fleet.key, "tokens")
    # Both caller buckets are empty: the refusal names the longer wait (the tool's 2 s).
    refusal = await call(client, keys, fleet, alice, tool)
    assert isinstance(refusal, AdmitRefusal)
    assert refusal.reason is RejectionReason.TOOL_RATE_LIMITED
    assert refusal.retry_after_s == 2
    assert sync.hget(fleet.key, "tokens") == fleet_tokens  # the fleet's token was not taken
    assert sync.xlen(keys.call_stream()) == 1
    # Another caller is not limited by Alice's buckets.
    assert isinstance(await call(client, keys, fleet, bucket(keys, 1.0, 1, "bob")), bytes)


async def test_no_call_stream_means_no_lane_and_no_charge(
    client: RedisClient, redis_server: RedisServer, keys: Keyspace
) -> None:
    alice = bucket(keys, rate=1.0, burst=1)
    assert await call(client, keys, alice) is None
    assert not redis_server.client().exists(alice.key, keys.call_stream())


async def test_a_task_is_only_charged_for(
    client: RedisClient, redis_server: RedisServer, keys: Keyspace
) -> None:
    alice = bucket(keys, rate=1.0, burst=1)
    script_keys, argv = admit_task_script([alice], queue="rq:queue:" + keys.task_queue())
    argv.append("task-1")
    assert read_admit_reply(await client.run_script(ADMIT, script_keys, argv), [alice]) is True
    refusal = read_admit_reply(await client.run_script(ADMIT, script_keys, argv), [alice])
    assert isinstance(refusal, AdmitRefusal)
    assert refusal.reason is RejectionReason.RATE_LIMITED
    assert not redis_server.client().exists("rq:queue:" + keys.task_queue())


async def test_the_call_lane_is_full_at_its_bound_of_untaken_calls(
    client: RedisClient, keys: Keyspace, sync: redis.Redis
) -> None:
    stream = keys.call_stream()
    for _ in range(3):
        assert isinstance(await call(client, keys, max_queued=3), bytes)
    refusal = await call(client, keys, max_queued=3)
    assert refusal == AdmitRefusal(reason=RejectionReason.QUEUE_FULL, retry_after_s=1, waiting=3)
    assert sync.xlen(stream) == 3  # nothing appended
    # A worker takes two: taken calls do not wait, so two more fit (and no more).
    sync.xreadgroup(CALL_GROUP, "worker-a", {stream: ">"}, count=2)
    assert isinstance(await call(client, keys, max_queued=3), bytes)
    assert isinstance(await call(client, keys, max_queued=3), bytes)
    assert isinstance(await call(client, keys, max_queued=3), AdmitRefusal)
    assert sync.xlen(stream) == 5


async def test_a_stream_without_the_group_has_every_entry_waiting(
    client: RedisClient, redis_server: RedisServer, keys: Keyspace
) -> None:
    sync = redis_server.client()
    sync.xadd(keys.call_stream(), {CALL_PAYLOAD_FIELD: b"x"})
    sync.xgroup_create(keys.call_stream(), "someone-else", id="0")
    refusal = await call(client, keys, max_queued=1)
    assert isinstance(refusal, AdmitRefusal)
    assert refusal.waiting == 1


async def test_a_bucket_refusal_comes_before_a_full_lane_and_a_full_lane_charges_nothing(
    client: RedisClient, keys: Keyspace, sync: redis.Redis
) -> None:
    alice = bucket(keys, rate=1.0, burst=2)
    assert isinstance(await call(client, keys, alice, max_queued=1), bytes)
    tokens = sync.hget(alice.key, "tokens")
    full = await call(client, keys, alice, max_queued=1)
    assert isinstance(full, AdmitRefusal)
    assert full.reason is RejectionReason.QUEUE_FULL
    assert sync.hget(alice.key, "tokens") == tokens  # not charged
    set_bucket(sync, alice.key, 0.0, redis_now_us(sync))
    empty = await call(client, keys, alice, max_queued=1)
    assert isinstance(empty, AdmitRefusal)
    assert empty.reason is RejectionReason.RATE_LIMITED


async def test_the_task_lane_is_full_at_its_queue_length(
    client: RedisClient, redis_server: RedisServer, keys: Keyspace
) -> None:
    queue = "rq:queue:" + keys.task_queue()
    sync = redis_server.client()
    script_keys, argv = admit_task_script([], queue=queue, max_queued=2)
    argv.append("task-1")
    assert read_admit_reply(await client.run_script(ADMIT, script_keys, argv), []) is True
    sync.rpush(queue, "a", "b")
    refusal = read_admit_reply(await client.run_script(ADMIT, script_keys, argv), [])
    assert refusal == AdmitRefusal(reason=RejectionReason.QUEUE_FULL, retry_after_s=1, waiting=2)


async def test_a_task_takes_one_of_its_callers_slots_and_none_past_the_bound(
    client: RedisClient, redis_server: RedisServer, keys: Keyspace
) -> None:
    sync = redis_server.client()
    alice = bucket(keys, rate=1.0, burst=5)
    slots = keys.task_slots("alice")
    script_keys, argv = admit_task_script(
        [alice], queue="rq:queue:" + keys.task_queue(), slots=slots, max_tasks=2,
        slots_ttl_ms=60_000,
    )  # fmt: skip
    for task_id in ("t1", "t2"):
        reply = await client.run_script(ADMIT, script_keys, [*argv, task_id])
        assert read_admit_reply(reply, [alice]) is True
    assert [m for m, _ in sync.zrange(slots, 0, -1, withscores=True)] == [b"t1", b"t2"]
    assert 59_000 < sync.pttl(slots) <= 60_000
    tokens = sync.hget(alice.key, "tokens")
    refusal = read_admit_reply(await client.run_script(ADMIT, script_keys, [*argv, "t3"]), [alice])
    assert isinstance(refusal, AdmitRefusal)
    assert refusal.reason is RejectionReason.TOO_MANY_TASKS
    assert [task_id for task_id, _ in refusal.held] == ["t1", "t2"]
    assert all(0 <= refusal.now_ms - admitted < 5_000 for _, admitted in refusal.held)
    assert sync.hget(alice.key, "tokens") == tokens  # nothing charged
    assert sync.zcard(slots) == 2
