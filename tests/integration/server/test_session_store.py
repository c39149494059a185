"""The session store against a real Redis: the log level stored in the record, read back by
any front, never resurrecting an ended session; resource subscriptions next to the record."""

from __future__ import annotations

import pytest

from proto import InvalidParamsError, InvalidRequestError, Keyspace
from server.log_level_setting import SessionLogLevel
from server.redis_client import open_redis, parse_redis_url
from server.resource_subscriptions import SessionSubscriptions
from server.session_store import MAX_SUBSCRIPTIONS, SessionStore
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


async def test_subscriptions_live_next_to_the_session_with_its_idle_ttl(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    async with (
        open_redis(parse_redis_url(redis_server.url)) as one,
        open_redis(parse_redis_url(redis_server.url)) as two,
    ):
        taker = SessionStore(one, keys, idle_ttl_s=60)
        holder = SessionStore(two, keys, idle_ttl_s=60)  # the front holding the GET stream
        session_id = await taker.create("2025-11-25", "c")
        subscriptions = SessionSubscriptions(taker, session_id)
        await subscriptions.add("test://a")
        await subscriptions.add("test://b")
        await subscriptions.add("test://a")  # again: no change
        assert sorted(await holder.subscriptions(session_id)) == ["test://a", "test://b"]
        assert await holder.is_subscribed(session_id, "test://b") is True
        await subscriptions.remove("test://b")
        await subscriptions.remove("test://never")  # not subscribed: no change
        assert await holder.is_subscribed(session_id, "test://b") is False
        key = keys.session_subscriptions(session_id)
        await two.execute("EXPIRE", key, 5)
        await holder.keep_subscriptions(session_id)  # the GET stream's keep-alive
        ttl = await two.execute("TTL", key)
        assert isinstance(ttl, int) and 5 < ttl <= 60
        assert await taker.delete(session_id) is True
        assert await two.execute("EXISTS", key) == 0
        assert await holder.subscriptions(session_id) == []


async def test_a_session_subscribes_to_a_bounded_number_of_resources(
    redis_server: RedisServer, fleet_name: str
) -> None:
    async with open_redis(parse_redis_url(redis_server.url)) as redis:
        store = SessionStore(redis, Keyspace(fleet_name), idle_ttl_s=60)
        session_id = await store.create("2025-11-25", "c")
        key = Keyspace(fleet_name).session_subscriptions(session_id)
        await redis.execute("SADD", key, *(f"test://{n}" for n in range(MAX_SUBSCRIPTIONS)))
        subscriptions = SessionSubscriptions(store, session_id)
        with pytest.raises(InvalidParamsError, match="Too many subscriptions"):
            await subscriptions.add("test://one-more")
        await subscriptions.add("test://7")  # already there: fine
        assert await redis.execute("SCARD", key) == MAX_SUBSCRIPTIONS
        assert await store.is_subscribed(session_id, "test://one-more") is False


async def test_the_owner_is_kept_with_the_record_and_through_a_level_change(
    redis_server: RedisServer, fleet_name: str
) -> None:
    async with open_redis(parse_redis_url(redis_server.url)) as redis:
        store = SessionStore(redis, Keyspace(fleet_name), idle_ttl_s=60)
        owned = await store.create("2025-11-25", "c", owner='bearer:["https://i","alice"]')
        anonymous = await store.create("2025-11-25", "c")
        assert await store.set_log_level(owned, "info") is True
        record = await store.touch(owned)
        assert record is not None and record.owner == 'bearer:["https://i","alice"]'
        assert record.log_level == "info"
        other = await store.touch(anonymous)
        assert other is not None and other.owner == ""
