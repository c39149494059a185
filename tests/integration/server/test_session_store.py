"""The session store's log level against a real Redis: stored in the record, read back by
any front, never resurrecting an ended session."""

from __future__ import annotations

import pytest

from proto import InvalidRequestError, Keyspace
from server.log_level_setting import SessionLogLevel
from server.redis_client import open_redis, parse_redis_url
from server.session_store import SessionStore
from tests.fixtures.redis_server import RedisServer


async def test_a_set_level_is_in_the_record_every_front_reads(
    redis_server: RedisServer, fleet_name: str
) -> None:
    async with (
        open_redis(parse_redis_url(redis_server.url)) as one,
        open_redis(parse_redis_url(redis_server.url)) as two,
    ):
        writer = SessionStore(one, Keyspace(fleet_name), idle_ttl_s=60)
        reader = SessionStore(two, Keyspace(fleet_name), idle_ttl_s=60)
        session_id = await writer.create("2025-11-25", "client")
        fresh = await reader.touch(session_id)
        assert fresh is not None and fresh.log_level is None
        assert await writer.set_log_level(session_id, "warning") is True
        record = await reader.touch(session_id)
        assert record is not None
        assert (record.log_level, record.protocol_version, record.client_name) == (
            "warning", "2025-11-25", "client",
        )  # fmt: skip
        ttl = await two.execute("TTL", Keyspace(fleet_name).session(session_id))
        assert isinstance(ttl, int) and 0 < ttl <= 60


async def test_an_ended_session_is_not_brought_back(
    redis_server: RedisServer, fleet_name: str
) -> None:
    async with open_redis(parse_redis_url(redis_server.url)) as redis:
        store = SessionStore(redis, Keyspace(fleet_name), idle_ttl_s=60)
        session_id = await store.create("2025-06-18", "")
        setting = SessionLogLevel(store, session_id, None)
        await setting.set("info")
        assert setting.level == "info"
        assert await store.delete(session_id) is True
        assert await store.set_log_level(session_id, "debug") is False
        assert await store.touch(session_id) is None
        with pytest.raises(InvalidRequestError, match="Session not found"):
            await setting.set("debug")
        assert setting.level == "info"
        assert await store.set_log_level("not-a-session-id", "debug") is False
