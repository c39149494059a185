"""The front's trio Redis client against a real redis-server."""

from __future__ import annotations

from functools import partial

import pytest
import trio

from proto import BackendUnavailableError
from server.redis_client import RedisCommandError, open_redis, parse_redis_url
from server.redis_subscriber import RedisSubscriber
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async


async def test_commands_round_trip(redis_server: RedisServer, fleet_name: str) -> None:
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        key = f"{fleet_name}:k"
        assert await client.execute("SET", key, b"v\r\n1") == b"OK"
        assert await client.execute("GET", key) == b"v\r\n1"
        assert await client.execute("INCRBY", key + "n", 5) == 5
        assert await client.execute("GET", key + "missing") is None
        assert await client.execute_many(
            [("RPUSH", key + "l", 1, 2), ("LRANGE", key + "l", 0, -1)]
        ) == [
            2,
            [b"1", b"2"],
        ]


async def test_error_reply_raises_and_connection_survives(
    redis_server: RedisServer, fleet_name: str
) -> None:
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        await client.execute("SET", fleet_name, "x")
        with pytest.raises(RedisCommandError, match="WRONGTYPE"):
            await client.execute("LPUSH", fleet_name, "y")
        assert await client.execute("GET", fleet_name) == b"x"


async def test_many_concurrent_callers_get_their_own_replies(
    redis_server: RedisServer, fleet_name: str
) -> None:
    results: dict[int, object] = {}
    async with open_redis(parse_redis_url(redis_server.url)) as client:

        async def one(i: int) -> None:
            results[i] = await client.execute("ECHO", str(i))

        async with trio.open_nursery() as nursery:
            for i in range(500):
                nursery.start_soon(one, i)
    assert results == {i: str(i).encode() for i in range(500)}


async def test_unreachable_redis_is_a_backend_error() -> None:
    # Port 1 on loopback refuses connections.
    async with open_redis(parse_redis_url("redis://127.0.0.1:1/0"), connect_timeout_s=1) as client:
        with pytest.raises(BackendUnavailableError):
            await client.execute("PING")


async def test_reconnects_after_the_server_drops_the_connection(
    redis_server: RedisServer, fleet_name: str
) -> None:
    async with open_redis(parse_redis_url(redis_server.url)) as client:
        await client.execute("CLIENT", "SETNAME", fleet_name)
        redis_server.client().client_kill_filter(_type="normal", skipme=True)
        # The first command after the kill may fail; the client must recover by itself.
        with trio.fail_after(5):
            while True:
                try:
                    assert await client.execute("PING") == b"PONG"
                    break
                except BackendUnavailableError:
                    await trio.lowlevel.checkpoint()


async def test_subscriber_delivers_and_reports_gaps(
    redis_server: RedisServer, fleet_name: str, nursery: trio.Nursery
) -> None:
    got: list[bytes] = []
    gaps: list[int] = []
    address = parse_redis_url(redis_server.url)
    sub = RedisSubscriber(address, fleet_name, on_message=got.append, on_gap=lambda: gaps.append(1))
    await nursery.start(sub.run)
    async with open_redis(address) as client:
        assert await client.execute("PUBLISH", fleet_name, b"one") == 1
        await wait_until_async(lambda: got == [b"one"], deadline_s=5, what="first message")
        redis_server.client().client_kill_filter(_type="pubsub")
        await wait_until_async(lambda: gaps == [1], deadline_s=5, what="resubscription")
        assert await client.execute("PUBLISH", fleet_name, b"two") == 1
        await wait_until_async(lambda: got == [b"one", b"two"], deadline_s=5, what="second message")


async def test_a_silent_server_fails_commands_at_their_deadline_not_in_a_queue(
    nursery: trio.Nursery,
) -> None:
    # A peer that accepts and reads but never answers (a half-open connection, a hung proxy).
    async def swallow(stream: trio.SocketStream) -> None:
        while await stream.receive_some(65536):
            pass

    listeners = await nursery.start(partial(trio.serve_tcp, swallow, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    failures: list[float] = []
    address = parse_redis_url(f"redis://127.0.0.1:{port}/0")
    async with open_redis(address, command_timeout_s=0.3) as client:
        start = trio.current_time()

        async def one() -> None:
            with pytest.raises(BackendUnavailableError):
                await client.execute("PING")
            failures.append(trio.current_time() - start)

        async with trio.open_nursery() as callers:
            for _ in range(20):
                callers.start_soon(one)
    assert len(failures) == 20
    assert max(failures) < 2.0
