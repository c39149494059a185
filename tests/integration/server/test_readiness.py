"""The readiness probe against a real Redis: workers, Redis, draining, and (when bounded)
the lanes' room."""

from __future__ import annotations

from proto import CALL_GROUP, CALL_PAYLOAD_FIELD, Keyspace
from server.limits_config import LimitsConfig
from server.readiness import Readiness
from server.redis_client import open_redis, parse_redis_url
from tests.fixtures.redis_server import RedisServer


async def test_no_live_worker_means_not_ready(redis_server: RedisServer, fleet_name: str) -> None:
    async with open_redis(parse_redis_url(redis_server.url)) as redis:
        readiness = Readiness(
            redis, Keyspace(fleet_name), subscribed=lambda: True, draining=lambda: False
        )
        report = await readiness.check()
    assert report.ready is False
    assert report.checks["workers"] == "none"
    assert report.checks["redis"] == "ok"


async def test_unreachable_redis_or_draining_means_not_ready(fleet_name: str) -> None:
    async with open_redis(parse_redis_url("redis://127.0.0.1:1/0"), connect_timeout_s=0.5) as redis:
        readiness = Readiness(
            redis, Keyspace(fleet_name), subscribed=lambda: False, draining=lambda: True
        )
        report = await readiness.check()
    assert report.ready is False
    assert report.checks == {
        "draining": "yes",
        "subscription": "down",
        "redis": "unreachable",
        "workers": "unknown",
    }


async def test_a_full_lane_makes_the_front_unready_while_it_lasts(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    sync.zadd(keys.live_workers(), {"w1": 2**62})  # a worker beating
    stream = keys.call_stream()
    sync.xgroup_create(stream, CALL_GROUP, id="0", mkstream=True)
    limits = LimitsConfig(max_queued=2, max_queued_tasks=5)
    async with open_redis(parse_redis_url(redis_server.url)) as redis:
        readiness = Readiness(
            redis, keys, subscribed=lambda: True, draining=lambda: False, limits=limits
        )
        assert (await readiness.check()).checks["queue"] == "ok"
        for _ in range(3):
            sync.xadd(stream, {CALL_PAYLOAD_FIELD: b"x"})
        sync.xreadgroup(CALL_GROUP, "w1", {stream: ">"}, count=1)  # taken: not waiting
        report = await readiness.check()
        assert report.ready is False
        assert report.checks["queue"] == "full: 2 calls waiting (max 2)"
        sync.rpush("rq:queue:" + keys.task_queue(), *"abcde")
        report = await readiness.check()
        assert report.checks["queue"] == ("full: 2 calls waiting (max 2), 5 tasks waiting (max 5)")
        # It drains: ready again.
        sync.delete(stream, "rq:queue:" + keys.task_queue())
        report = await readiness.check()
        assert report.ready is True
        assert report.checks["queue"] == "ok"
        # Told not to turn unready, it still reports the full lane.
        sync.rpush("rq:queue:" + keys.task_queue(), *"abcde")
        kept = Readiness(
            redis,
            keys,
            subscribed=lambda: True,
            draining=lambda: False,
            limits=LimitsConfig(max_queued=5, unready_when_full=False),
        )
        report = await kept.check()
        assert report.ready is True
        assert report.checks["queue"] == "full: 5 tasks waiting (max 5)"


async def test_unbounded_lanes_are_not_read(redis_server: RedisServer, fleet_name: str) -> None:
    async with open_redis(parse_redis_url(redis_server.url)) as redis:
        readiness = Readiness(
            redis, Keyspace(fleet_name), subscribed=lambda: True, draining=lambda: False
        )
        assert "queue" not in (await readiness.check()).checks
