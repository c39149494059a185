"""The one reader of both lanes' depths (server/queue_depths.py) against a real Redis:
untaken and taken calls, the oldest untaken call's wait, queued tasks and the head task's
wait; missing keys (no stream, no group, a vanished head job) read as empty, never as an
error, whatever the other lane holds."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import pytest
import redis
from rq import Queue
from rq.job import Job

from proto import CALL_GROUP, CALL_PAYLOAD_FIELD, Keyspace
from server.queue_depths import LaneDepth, QueueDepths, QueueSnapshot
from server.redis_client import RedisClient, open_redis, parse_redis_url
from tests.fixtures.redis_server import RedisServer


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[RedisClient]:
    async with open_redis(parse_redis_url(redis_server.url)) as opened:
        yield opened


async def test_an_empty_fleet_has_empty_lanes(client: RedisClient, fleet_name: str) -> None:
    assert await QueueDepths(client, Keyspace(fleet_name)).read() == QueueSnapshot()


async def test_calls_untaken_and_taken_and_the_oldest_untaken_wait(
    client: RedisClient, redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    depths = QueueDepths(client, keys)
    sync = redis_server.client()
    stream = keys.call_stream()
    sync.xgroup_create(stream, CALL_GROUP, id="0", mkstream=True)
    assert await depths.read() == QueueSnapshot()  # the group's empty stream
    now_ms = _redis_now_ms(sync)
    # Five calls: three of them added 4 s ago (ids stamped in the past), two just now.
    for n in range(3):
        sync.xadd(stream, {CALL_PAYLOAD_FIELD: b"x"}, id=f"{now_ms - 4000}-{n}")
    for _ in range(2):
        sync.xadd(stream, {CALL_PAYLOAD_FIELD: b"x"})
    # Before any worker took one, the first waited longest.
    snapshot = await depths.read()
    assert (snapshot.calls.depth, snapshot.calls_taken) == (5, 0)
    assert 3.9 <= snapshot.calls.oldest_age_s <= 6.0
    # A worker takes the first two; one of them is answered (acknowledged and deleted).
    taken = sync.xreadgroup(CALL_GROUP, "worker-a", {stream: ">"}, count=2)
    first_id = taken[0][1][0][0]
    sync.xack(stream, CALL_GROUP, first_id)
    sync.xdel(stream, first_id)
    snapshot = await depths.read()
    assert snapshot.calls_taken == 1
    assert snapshot.calls.depth == 3
    assert 3.9 <= snapshot.calls.oldest_age_s <= 6.0  # the third old call heads the line
    # Once every call is taken, nothing waits.
    sync.xreadgroup(CALL_GROUP, "worker-b", {stream: ">"}, count=10)
    snapshot = await depths.read()
    assert (snapshot.calls, snapshot.calls_taken) == (LaneDepth(0, 0.0), 4)


async def test_a_stream_without_the_group_counts_every_call_as_untaken(
    client: RedisClient, redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    sync.xadd(keys.call_stream(), {CALL_PAYLOAD_FIELD: b"x"}, id=f"{_redis_now_ms(sync) - 2000}-0")
    snapshot = await QueueDepths(client, keys).read()
    assert (snapshot.calls.depth, snapshot.calls_taken) == (1, 0)
    assert 1.9 <= snapshot.calls.oldest_age_s <= 4.0


async def test_queued_tasks_and_the_head_tasks_wait(
    client: RedisClient, redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    depths = QueueDepths(client, keys)
    sync = redis_server.client()
    # rq's own records: the head job enqueued 10 s ago (on Redis's clock here), then two.
    enqueued = datetime.datetime.fromtimestamp(_redis_now_ms(sync) / 1000 - 10, datetime.UTC)
    _enqueue(sync, keys, fleet_name, [enqueued, enqueued, enqueued + datetime.timedelta(seconds=5)])
    snapshot = await depths.read()
    assert snapshot.tasks.depth == 3
    assert 9.9 <= snapshot.tasks.oldest_age_s <= 12.0
    # A head job whose record is gone has no known age.
    sync.lpush(Queue(keys.task_queue(), connection=sync).key, f"{fleet_name}-vanished")
    assert (await depths.read()).tasks == LaneDepth(4, 0.0)


async def test_tasks_are_read_when_the_call_stream_is_gone(
    client: RedisClient, redis_server: RedisServer, fleet_name: str
) -> None:
    """No stream (no worker made it yet, or Redis lost its data): ``XINFO GROUPS`` fails,
    and the calls lane reads empty while the tasks lane is still read."""
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    enqueued = datetime.datetime.fromtimestamp(_redis_now_ms(sync) / 1000 - 3, datetime.UTC)
    _enqueue(sync, keys, fleet_name, [enqueued])
    snapshot = await QueueDepths(client, keys).read()
    assert (snapshot.calls, snapshot.calls_taken) == (LaneDepth(0, 0.0), 0)
    assert snapshot.tasks.depth == 1
    assert 2.9 <= snapshot.tasks.oldest_age_s <= 5.0


def _enqueue(
    sync: redis.Redis, keys: Keyspace, fleet_name: str, stamps: list[datetime.datetime]
) -> None:
    queue = Queue(keys.task_queue(), connection=sync)
    for n, stamp in enumerate(stamps):
        job_id = f"{fleet_name}-job-{n}"
        sync.hset(Job.key_for(job_id), "enqueued_at", stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        sync.rpush(queue.key, job_id)


def _redis_now_ms(sync: redis.Redis) -> int:
    seconds, micros = sync.time()
    return int(seconds) * 1000 + int(micros) // 1000
