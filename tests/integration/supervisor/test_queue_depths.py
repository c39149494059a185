"""Reading both lanes' depths against a real Redis: untaken and taken calls, the oldest
untaken call's wait, queued tasks and the head task's wait; missing keys are empty lanes."""

from __future__ import annotations

import datetime

import redis
from rq import Queue
from rq.job import Job

from proto import CALL_GROUP, CALL_PAYLOAD_FIELD, Keyspace
from server.redis_client import open_redis, parse_redis_url
from supervisor.queue_depths import QueueDepths, read_queue_depths
from tests.fixtures.redis_server import RedisServer


async def _depths(redis_server: RedisServer, keys: Keyspace) -> QueueDepths:
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        return await read_queue_depths(client, keys)


async def test_an_empty_fleet_has_empty_lanes(redis_server: RedisServer, fleet_name: str) -> None:
    assert await _depths(redis_server, Keyspace(fleet_name)) == QueueDepths()


async def test_calls_untaken_and_taken_and_the_oldest_untaken_wait(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    stream = keys.call_stream()
    sync.xgroup_create(stream, CALL_GROUP, id="0", mkstream=True)
    now_ms = _redis_now_ms(sync)
    # Five calls: three of them added 4 s ago (ids stamped in the past), two just now.
    for n in range(3):
        sync.xadd(stream, {CALL_PAYLOAD_FIELD: b"x"}, id=f"{now_ms - 4000}-{n}")
    for _ in range(2):
        sync.xadd(stream, {CALL_PAYLOAD_FIELD: b"x"})
    # A worker takes the first two; a third is answered (acknowledged and deleted).
    taken = sync.xreadgroup(CALL_GROUP, "worker-a", {stream: ">"}, count=2)
    first_id = taken[0][1][0][0]
    sync.xack(stream, CALL_GROUP, first_id)
    sync.xdel(stream, first_id)
    depths = await _depths(redis_server, keys)
    assert depths.calls_taken == 1
    assert depths.calls_queued == 3
    assert 3.9 <= depths.oldest_call_wait_s <= 6.0  # the third old call heads the line
    # Once every call is taken, nothing waits.
    sync.xreadgroup(CALL_GROUP, "worker-b", {stream: ">"}, count=10)
    depths = await _depths(redis_server, keys)
    assert (depths.calls_queued, depths.calls_taken, depths.oldest_call_wait_s) == (0, 4, 0.0)


async def test_a_stream_without_the_group_counts_every_call_as_untaken(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    sync.xadd(keys.call_stream(), {CALL_PAYLOAD_FIELD: b"x"})
    depths = await _depths(redis_server, keys)
    assert (depths.calls_queued, depths.calls_taken) == (1, 0)


async def test_queued_tasks_and_the_head_tasks_wait(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    queue = Queue(keys.task_queue(), connection=sync)
    # rq's own records: the head job enqueued 10 s ago (on the front's clock), then two.
    enqueued = datetime.datetime.fromtimestamp(_redis_now_ms(sync) / 1000 - 10, datetime.UTC)
    stamps = [enqueued, enqueued, enqueued + datetime.timedelta(seconds=5)]
    for n, stamp in enumerate(stamps):
        job_id = f"{fleet_name}-job-{n}"
        sync.hset(Job.key_for(job_id), "enqueued_at", stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        sync.rpush(queue.key, job_id)
    depths = await _depths(redis_server, keys)
    assert depths.tasks_queued == 3
    assert 9.9 <= depths.oldest_task_wait_s <= 12.0
    # A head job whose record is gone has no known age.
    sync.lpush(queue.key, f"{fleet_name}-vanished")
    depths = await _depths(redis_server, keys)
    assert (depths.tasks_queued, depths.oldest_task_wait_s) == (4, 0.0)


def _redis_now_ms(sync: redis.Redis) -> int:
    seconds, micros = sync.time()
    return int(seconds) * 1000 + int(micros) // 1000
