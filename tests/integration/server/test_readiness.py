"""The readiness probe against a real Redis."""

from __future__ import annotations

from proto import Keyspace
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
