"""Fronts applying the fleet's visibility overrides (ADR-0010) against a real redis-server:
read at start, re-read before a change is passed on (so two fronts agree by the time their
clients hear of it), re-read after a gap, and retried when Redis refuses the read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from proto import (
    SET_VISIBILITY,
    ChangeAnnouncement,
    ChangeKind,
    Keyspace,
    VisibilityRequest,
    encode_announcement,
    visibility_script_argv,
)
from server.catalog_visibility import CatalogVisibility
from server.change_feed import ChangeFeed
from server.redis_client import RedisClient, open_redis, parse_redis_url
from server.redis_subscriber import RedisSubscriber
from server.tool_catalog import ToolCatalog
from supervisor.app_loader import build_catalog
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async
from workers import Toolset
from workers.runtime import WorkerConfig


def _app() -> Toolset:
    app = Toolset("t")

    @app.tool
    def alpha() -> str:
        return ""

    @app.tool(enabled=False)
    def beta() -> str:
        return ""

    @app.prompt
    def plan(goal: str) -> str:
        return goal

    return app


class Front:
    """What one front runs for visibility: its catalog and change feed."""

    def __init__(self, catalog: ToolCatalog, feed: ChangeFeed) -> None:
        self.catalog = catalog
        self.feed = feed

    def tools(self) -> set[str]:
        return {name for name in ("alpha", "beta") if self.catalog.get(name) is not None}


@asynccontextmanager
async def running_front(url: str, keys: Keyspace, name: str) -> AsyncIterator[Front]:
    catalog = build_catalog(_app(), WorkerConfig(), list_ttl_ms=0, list_page_size=10)
    async with open_redis(parse_redis_url(url)) as client, trio.open_nursery() as nursery:
        subscriber = RedisSubscriber(
            parse_redis_url(url),
            keys.reply_channel(name),
            on_message=lambda payload: None,
            on_gap=lambda: None,
        )
        await nursery.start(subscriber.run)
        feed = ChangeFeed(
            redis=client,
            keys=keys,
            subscriber=subscriber,
            catalog_digests=catalog.digests,
            served=catalog.served_changes,
            visibility=CatalogVisibility(catalog, client, keys),
        )
        await nursery.start(feed.run)
        yield Front(catalog, feed)
        nursery.cancel_scope.cancel()


async def set_visibility(
    client: RedisClient, keys: Keyspace, request: VisibilityRequest, *items: tuple[str, bool]
) -> object:
    """What a worker or the CLI runs (tools only here)."""
    argv = visibility_script_argv(
        request, items, kind=ChangeKind.TOOLS, channel=keys.change_channel()
    )
    return await client.run_script(SET_VISIBILITY, [keys.visibility(ChangeKind.TOOLS)], argv)


async def test_two_fronts_agree_before_their_clients_hear_of_a_change(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    async with (
        running_front(redis_server.url, keys, "front-1") as one,
        running_front(redis_server.url, keys, "front-2") as two,
        open_redis(parse_redis_url(redis_server.url)) as client,
    ):
        assert one.tools() == two.tools() == {"alpha"}
        with (
            one.feed.inbox(one.feed.is_served) as first,
            two.feed.inbox(two.feed.is_served) as second,
        ):
            changed = await set_visibility(
                client, keys, VisibilityRequest.ENABLE, ("beta", False), ("alpha", True)
            )
            assert changed == 1  # alpha was on already
            with trio.fail_after(5):
                assert await first.receive() == ChangeAnnouncement(ChangeKind.TOOLS)
                # The change was applied before it was passed on.
                assert one.tools() == {"alpha", "beta"}
                assert await second.receive() == ChangeAnnouncement(ChangeKind.TOOLS)
                assert two.tools() == {"alpha", "beta"}
            # Nothing changes: nothing is announced.
            changed = await set_visibility(client, keys, VisibilityRequest.ENABLE, ("beta", False))
            assert changed == 0
            assert first.receive_nowait() is None


async def test_a_front_starting_later_reads_the_overrides(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        await set_visibility(client, keys, VisibilityRequest.DISABLE, ("alpha", True))
        await set_visibility(client, keys, VisibilityRequest.ENABLE, ("beta", False))
        # An override naming a tool this deployment does not have is ignored.
        await client.execute("HSET", keys.visibility("tools"), "retired", "enabled")
    async with running_front(redis_server.url, keys, "front-1") as front:
        assert front.tools() == {"beta"}
        assert front.catalog.hidden == {"alpha"}


async def test_after_a_gap_the_overrides_are_read_again(private_redis: RedisServer) -> None:
    keys = Keyspace("gap-visibility")
    async with running_front(private_redis.url, keys, "front-1") as front:
        with front.feed.inbox(front.feed.is_served) as inbox:
            # Changed while the front could not hear it (written without an announcement).
            private_redis.client().hset(keys.visibility("tools"), "beta", "enabled")
            private_redis.client().client_kill_filter(_type="pubsub")
            with trio.fail_after(10):
                replayed = {await inbox.receive(), await inbox.receive()}
            assert replayed == {
                ChangeAnnouncement(ChangeKind.TOOLS),
                ChangeAnnouncement(ChangeKind.PROMPTS),
            }
            assert front.tools() == {"alpha", "beta"}


async def test_a_refused_read_is_retried_and_its_change_passed_on(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    async with (
        running_front(redis_server.url, keys, "front-1") as front,
        open_redis(parse_redis_url(redis_server.url)) as client,
    ):
        with front.feed.inbox(front.feed.is_served) as inbox:
            # A key of the wrong type: the front cannot read the tools' overrides.
            await client.execute("SET", keys.visibility("tools"), "oops")
            tools_changed = encode_announcement(ChangeAnnouncement(ChangeKind.TOOLS))
            await client.execute("PUBLISH", keys.change_channel(), tools_changed)
            with trio.fail_after(5):
                assert await inbox.receive() == ChangeAnnouncement(ChangeKind.TOOLS)
            assert front.tools() == {"alpha"}  # what was in force stays in force
            await client.execute("DEL", keys.visibility("tools"))
            await client.execute("HSET", keys.visibility("tools"), "beta", "enabled")
            # Retried with backoff; the lists changed, so clients are told again.
            with trio.fail_after(10):
                assert await inbox.receive() == ChangeAnnouncement(ChangeKind.TOOLS)
            await wait_until_async(
                lambda: front.tools() == {"alpha", "beta"}, deadline_s=5, what="the retry"
            )
