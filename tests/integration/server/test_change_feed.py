"""The fleet's change feed against a real redis-server: the start-up announcement script,
delivery to the inboxes that want a change, coalescing, and what a subscription gap does."""

from __future__ import annotations

from collections.abc import Callable

import trio

from proto import (
    ANNOUNCE_CATALOG,
    TOOLS_CHANGED,
    ChangeAnnouncement,
    ChangeKind,
    Implementation,
    Keyspace,
    decode_announcement,
    encode_announcement,
)
from server.catalog_visibility import CatalogVisibility
from server.change_feed import ChangeFeed
from server.redis_client import RedisClient, open_redis, parse_redis_url
from server.redis_subscriber import RedisSubscriber
from server.tool_catalog import ToolCatalog
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async

SERVED = frozenset({ChangeKind.TOOLS})


def no_overrides(client: RedisClient, keys: Keyspace) -> CatalogVisibility:
    """The visibility of an app without tools (nothing to turn on or off)."""
    catalog = ToolCatalog(
        server_info=Implementation(name="t", version="1"),
        instructions=None,
        tools=[],
        list_ttl_ms=0,
        page_size=10,
    )
    return CatalogVisibility(catalog, client, keys)


async def announce(client: RedisClient, keys: Keyspace, digest: str) -> object:
    """What a front does at start-up."""
    return await client.run_script(
        ANNOUNCE_CATALOG,
        [keys.catalog_digest()],
        [digest, keys.change_channel(), encode_announcement(TOOLS_CHANGED)],
    )


async def subscribed(
    nursery: trio.Nursery,
    url: str,
    channel: str,
    on_message: Callable[[bytes], None] = lambda payload: None,
) -> RedisSubscriber:
    """A running subscriber on ``channel`` (gaps ignored)."""
    subscriber = RedisSubscriber(
        parse_redis_url(url), channel, on_message=on_message, on_gap=lambda: None
    )
    await nursery.start(subscriber.run)
    return subscriber


async def start_feed(
    nursery: trio.Nursery, client: RedisClient, url: str, keys: Keyspace, digest: str
) -> ChangeFeed:
    subscriber = await subscribed(nursery, url, keys.reply_channel("front-1"))
    feed = ChangeFeed(
        redis=client,
        keys=keys,
        subscriber=subscriber,
        catalog_digests={ChangeKind.TOOLS: digest},
        served=SERVED,
        visibility=no_overrides(client, keys),
    )
    await nursery.start(feed.run)
    return feed


async def test_the_script_announces_a_catalog_unlike_the_one_before(
    redis_server: RedisServer, fleet_name: str, nursery: trio.Nursery
) -> None:
    keys = Keyspace(fleet_name)
    heard: list[bytes] = []
    await subscribed(nursery, redis_server.url, keys.change_channel(), on_message=heard.append)
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        # None recorded yet (a new fleet, or Redis lost its data): announced, to be safe.
        outcomes = [await announce(client, keys, digest) for digest in "aabba"]
        assert outcomes == [1, 0, 1, 0, 1]
        assert await client.execute("GET", keys.catalog_digest()) == b"a"
    await wait_until_async(lambda: len(heard) == 3, deadline_s=5, what="three announcements")
    assert [decode_announcement(p) for p in heard] == [TOOLS_CHANGED] * 3


async def test_changes_reach_the_inboxes_that_want_them_once_each(
    redis_server: RedisServer, fleet_name: str, nursery: trio.Nursery
) -> None:
    keys = Keyspace(fleet_name)
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        feed = await start_feed(nursery, client, redis_server.url, keys, "mine")
        seen: list[ChangeAnnouncement] = []

        def counting(announcement: ChangeAnnouncement) -> bool:
            seen.append(announcement)
            return True

        with (
            feed.inbox(counting) as everything,
            feed.inbox(lambda a: a.kind == ChangeKind.TOOLS) as tools,
            feed.inbox(lambda a: False) as nothing,
        ):
            assert feed.open_inboxes == 3
            # The feed's own start-up announcement (the key was empty) was not heard: the
            # first thing to arrive is what another front publishes now.
            marker = ChangeAnnouncement("marker")
            await client.execute("PUBLISH", keys.change_channel(), encode_announcement(marker))
            with trio.fail_after(5):
                assert await everything.receive() == marker
            # Two fronts of other deployments start before anyone reads: one pending change.
            assert await announce(client, keys, "theirs") == 1
            assert await announce(client, keys, "newer") == 1
            await wait_until_async(lambda: len(seen) == 3, deadline_s=5, what="both changes")
            assert await tools.receive() == TOOLS_CHANGED
            assert tools.receive_nowait() is None
            assert nothing.receive_nowait() is None
        assert feed.open_inboxes == 0


async def test_each_list_kind_is_recorded_and_announced_on_its_own(
    redis_server: RedisServer, fleet_name: str, nursery: trio.Nursery
) -> None:
    keys = Keyspace(fleet_name)
    heard: list[bytes] = []
    await subscribed(nursery, redis_server.url, keys.change_channel(), on_message=heard.append)
    digests = {ChangeKind.TOOLS: "t1", ChangeKind.RESOURCES: "r1", ChangeKind.PROMPTS: "p1"}

    async def start_front(changed: dict[str, str]) -> None:
        async with (
            open_redis(parse_redis_url(redis_server.url)) as client,
            trio.open_nursery() as n,
        ):
            own = await subscribed(n, redis_server.url, keys.reply_channel("front-x"))
            feed = ChangeFeed(
                redis=client,
                keys=keys,
                subscriber=own,
                catalog_digests={**digests, **changed},
                served=frozenset(digests),
                visibility=no_overrides(client, keys),
            )
            await n.start(feed.run)
            n.cancel_scope.cancel()

    await start_front({})  # a new fleet: every kind announced once
    await wait_until_async(lambda: len(heard) == 3, deadline_s=5, what="three first announcements")
    await start_front({})  # the same deployment again: nothing
    await start_front({ChangeKind.PROMPTS: "p2"})  # only the prompts changed
    await wait_until_async(lambda: len(heard) == 4, deadline_s=5, what="the prompts change")
    kinds = [decode_announcement(p).kind for p in heard]
    assert sorted(kinds[:3]) == ["prompts", "resources", "tools"]
    assert kinds[3] == "prompts"
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        assert await client.execute("GET", keys.catalog_digest("prompts")) == b"p2"
        assert await client.execute("GET", keys.catalog_digest("resources")) == b"r1"


async def test_after_a_gap_every_resource_may_have_changed(
    private_redis: RedisServer, nursery: trio.Nursery
) -> None:
    keys = Keyspace("gap-resources")
    async with open_redis(parse_redis_url(private_redis.url)) as client:
        subscriber = RedisSubscriber(
            parse_redis_url(private_redis.url),
            keys.reply_channel("front-1"),
            on_message=lambda payload: None,
            on_gap=lambda: None,
        )
        await nursery.start(subscriber.run)
        feed = ChangeFeed(
            redis=client,
            keys=keys,
            subscriber=subscriber,
            catalog_digests={ChangeKind.TOOLS: "t", ChangeKind.RESOURCES: "r"},
            served=frozenset({ChangeKind.RESOURCES, ChangeKind.RESOURCE}),
            visibility=no_overrides(client, keys),
        )
        await nursery.start(feed.run)
        with feed.inbox(feed.is_served) as inbox:
            private_redis.client().client_kill_filter(_type="pubsub")
            # No URI can be invented: the resource update replayed names none, and each
            # consumer turns it into updates of its own subscriptions.
            with trio.fail_after(10):
                replayed = {await inbox.receive(), await inbox.receive()}
            assert replayed == {
                ChangeAnnouncement(ChangeKind.RESOURCE),
                ChangeAnnouncement(ChangeKind.RESOURCES),
            }
            # Updates announced by handlers arrive with their target again.
            updated = ChangeAnnouncement(ChangeKind.RESOURCE, "test://a")
            await client.execute("PUBLISH", keys.change_channel(), encode_announcement(updated))
            with trio.fail_after(10):
                assert await inbox.receive() == updated


async def test_after_a_gap_every_served_kind_counts_as_changed(
    private_redis: RedisServer, nursery: trio.Nursery
) -> None:
    keys = Keyspace("gap")
    async with open_redis(parse_redis_url(private_redis.url)) as client:
        feed = await start_feed(nursery, client, private_redis.url, keys, "mine")
        with feed.inbox(lambda a: True) as inbox:
            # Announcements published while the subscription is down are lost...
            private_redis.client().client_kill_filter(_type="pubsub")
            # ...so once it is back, the feed hands on a change of every served kind.
            with trio.fail_after(10):
                assert await inbox.receive() == TOOLS_CHANGED
            assert feed.gaps == 1
            assert inbox.receive_nowait() is None
