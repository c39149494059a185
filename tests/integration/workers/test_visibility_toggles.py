"""Handlers' visibility requests (ADR-0010) against a real redis-server: what the fleet's
hashes hold, what is announced (only real changes), the order against the call's reply, and
requests from a sync handler's thread (asyncio tests run in a sync test: the suite's async
mode is trio)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec
import pytest
import redis

from proto import (
    ChangeAnnouncement,
    ChangeKind,
    Keyspace,
    ResultReply,
    VisibilityRequest,
    decode_announcement,
    parse_redis_url,
)
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until
from workers import Toolset
from workers.redis_connection import AsyncRedis
from workers.reply_publisher import ReplyPublisher
from workers.visibility_toggles import VisibilityToggles


def _app() -> Toolset:
    app = Toolset("t")

    @app.tool
    def alpha() -> str:
        return ""

    @app.tool(enabled=False)
    def beta() -> str:
        return ""

    @app.prompt(enabled=False)
    def plan(goal: str) -> str:
        return goal

    @app.resource("items://{id}")
    def item(id: int) -> str:
        return ""

    return app


Scenario = Callable[[VisibilityToggles, ReplyPublisher], Awaitable[None]]


def _run(redis_server: RedisServer, keys: Keyspace, scenario: Scenario) -> None:
    """Run ``scenario`` with a worker's publisher and toggles, then publish everything."""

    async def main() -> None:
        client = AsyncRedis(parse_redis_url(redis_server.url), command_timeout_s=5)
        publisher = ReplyPublisher(client, keys)
        await publisher.load_scripts()
        publishing = asyncio.create_task(publisher.run())
        try:
            await scenario(VisibilityToggles(_app(), publisher, keys), publisher)
            await publisher.wait_idle()
        finally:
            publishing.cancel()
            await client.aclose()

    asyncio.run(main())


class Heard:
    """Messages of the fleet's change channel and one front's reply channel, in order."""

    def __init__(self, redis_server: RedisServer, keys: Keyspace) -> None:
        self._pubsub = redis_server.client().pubsub()
        self._pubsub.subscribe(keys.change_channel(), keys.reply_channel("front-1"))
        self._pubsub.get_message(timeout=5)
        self._pubsub.get_message(timeout=5)
        self.messages: list[tuple[str, bytes]] = []

    def changes(self) -> list[ChangeAnnouncement]:
        return [decode_announcement(m) for c, m in self.messages if c.endswith(":changes")]

    def collect(self, count: int) -> None:
        def more() -> bool:
            message = self._pubsub.get_message(timeout=0.05)
            if message is not None:
                self.messages.append((message["channel"].decode(), message["data"]))
            return len(self.messages) >= count

        wait_until(more, deadline_s=5, what=f"{count} published messages")

    def nothing_more(self) -> bool:
        return self._pubsub.get_message(timeout=0.2) is None


def _hash(client: redis.Redis, keys: Keyspace, kind: str) -> dict[bytes, bytes]:
    return client.hgetall(keys.visibility(kind))  # type: ignore[return-value]  # sync client


def test_changes_are_stored_as_departures_from_the_declarations(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    heard = Heard(redis_server, keys)

    async def scenario(toggles: VisibilityToggles, publisher: ReplyPublisher) -> None:
        toggles.request(VisibilityRequest.DISABLE, {"tools": ("alpha",)})
        toggles.request(VisibilityRequest.ENABLE, {"tools": ("beta",), "prompts": ("plan",)})
        toggles.request(VisibilityRequest.DISABLE, {"resources": ("items://{id}",)})

    _run(redis_server, keys, scenario)
    client = redis_server.client()
    assert _hash(client, keys, "tools") == {b"alpha": b"disabled", b"beta": b"enabled"}
    assert _hash(client, keys, "prompts") == {b"plan": b"enabled"}
    assert _hash(client, keys, "resources") == {b"items://{id}": b"disabled"}
    heard.collect(4)
    assert heard.changes() == [
        ChangeAnnouncement(ChangeKind.TOOLS),
        ChangeAnnouncement(ChangeKind.TOOLS),
        ChangeAnnouncement(ChangeKind.PROMPTS),
        ChangeAnnouncement(ChangeKind.RESOURCES),
    ]

    # Back to what the app declares: the overrides go, and the lists change back.
    async def back(toggles: VisibilityToggles, publisher: ReplyPublisher) -> None:
        toggles.request(VisibilityRequest.ENABLE, {"tools": ("alpha",)})
        toggles.request(VisibilityRequest.RESET, {"tools": ("beta",), "prompts": ("plan",)})

    _run(redis_server, keys, back)
    assert _hash(client, keys, "tools") == {}
    assert _hash(client, keys, "prompts") == {}
    heard.collect(7)


def test_a_request_that_changes_nothing_announces_nothing(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    heard = Heard(redis_server, keys)

    async def scenario(toggles: VisibilityToggles, publisher: ReplyPublisher) -> None:
        toggles.request(VisibilityRequest.ENABLE, {"tools": ("alpha",)})  # declared on
        toggles.request(VisibilityRequest.DISABLE, {"tools": ("beta",)})  # declared off
        toggles.request(VisibilityRequest.DISABLE, {"tools": ("alpha", "beta")})  # one changes
        toggles.request(VisibilityRequest.DISABLE, {"tools": ("alpha",)})  # already off

    _run(redis_server, keys, scenario)
    heard.collect(1)
    assert heard.changes() == [ChangeAnnouncement(ChangeKind.TOOLS)]
    assert heard.nothing_more()
    assert _hash(redis_server.client(), keys, "tools") == {b"alpha": b"disabled"}


def test_a_toggle_flips_whatever_the_state_is(redis_server: RedisServer, fleet_name: str) -> None:
    keys = Keyspace(fleet_name)
    client = redis_server.client()
    heard = Heard(redis_server, keys)
    states: list[dict[bytes, bytes]] = []
    for _ in range(3):

        async def scenario(toggles: VisibilityToggles, publisher: ReplyPublisher) -> None:
            toggles.request(VisibilityRequest.TOGGLE, {"tools": ("alpha", "beta")})

        _run(redis_server, keys, scenario)
        states.append(_hash(client, keys, "tools"))
    assert states == [
        {b"alpha": b"disabled", b"beta": b"enabled"},
        {},
        {b"alpha": b"disabled", b"beta": b"enabled"},
    ]
    heard.collect(3)
    assert heard.changes() == [ChangeAnnouncement(ChangeKind.TOOLS)] * 3


def test_an_unknown_item_fails_the_whole_request(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)

    async def scenario(toggles: VisibilityToggles, publisher: ReplyPublisher) -> None:
        with pytest.raises(ValueError, match="no prompt registered as 'nope'"):
            toggles.request(
                VisibilityRequest.DISABLE, {"tools": ("alpha",), "prompts": ("plan", "nope")}
            )
        with pytest.raises(ValueError, match="no resource registered as 'items://7'"):
            # A resource is named as registered: a template, not a URI it matches.
            toggles.request(VisibilityRequest.DISABLE, {"resources": ("items://7",)})

    _run(redis_server, keys, scenario)
    client = redis_server.client()
    assert _hash(client, keys, "tools") == {}


def test_a_request_from_a_thread_goes_out_before_the_reply_queued_after_it(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    heard = Heard(redis_server, keys)

    async def scenario(toggles: VisibilityToggles, publisher: ReplyPublisher) -> None:
        def handler() -> None:  # what a sync handler does in its worker thread
            toggles.request(VisibilityRequest.DISABLE, {"tools": ("alpha",)})

        await asyncio.get_running_loop().run_in_executor(None, handler)
        publisher.reply("front-1", ResultReply(1, msgspec.Raw(b"{}")), b"0-1")

    _run(redis_server, keys, scenario)
    heard.collect(2)
    assert [channel.rsplit(":", 1)[-1] for channel, _ in heard.messages] == [
        "changes",
        "{front-1}",
    ]
