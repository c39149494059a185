"""The workers' asyncio Redis client against a real redis-server (asyncio tests run in a
sync test: the suite's async mode is trio)."""

from __future__ import annotations

import asyncio

import pytest

from proto import BackendUnavailableError, RedisCommandError, parse_redis_url
from tests.fixtures.redis_server import RedisServer
from workers.redis_connection import AsyncRedis


def test_commands_pipelines_and_error_replies(redis_server: RedisServer, fleet_name: str) -> None:
    async def scenario() -> None:
        client = AsyncRedis(parse_redis_url(redis_server.url), command_timeout_s=5)
        assert await client.execute("SET", fleet_name, b"a\r\nb") == b"OK"
        assert await client.execute_many([("GET", fleet_name), ("STRLEN", fleet_name)]) == [
            b"a\r\nb",
            4,
        ]
        with pytest.raises(RedisCommandError, match="WRONGTYPE"):
            await client.execute("LPUSH", fleet_name, "x")
        replies = await asyncio.gather(*(client.execute("ECHO", str(i)) for i in range(300)))
        assert replies == [str(i).encode() for i in range(300)]
        await client.aclose()

    asyncio.run(scenario())


def test_reconnects_after_the_server_drops_it(redis_server: RedisServer, fleet_name: str) -> None:
    async def scenario() -> None:
        client = AsyncRedis(parse_redis_url(redis_server.url), command_timeout_s=5)
        await client.execute("CLIENT", "SETNAME", fleet_name)
        redis_server.client().client_kill_filter(_type="normal", skipme=True)
        answered = False
        for _ in range(100):
            try:
                answered = await client.execute("PING") == b"PONG"
                break
            except BackendUnavailableError:
                continue  # the first command after the kill may fail; the next reconnects
        assert answered
        await client.aclose()

    asyncio.run(scenario())


def test_unreachable_and_silent_servers_fail_in_time() -> None:
    async def scenario() -> None:
        refused = AsyncRedis(parse_redis_url("redis://127.0.0.1:1/0"), command_timeout_s=1)
        with pytest.raises(BackendUnavailableError, match="cannot connect"):
            await refused.execute("PING")

        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(65536):
                pass

        server = await asyncio.start_server(swallow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        silent = AsyncRedis(parse_redis_url(f"redis://127.0.0.1:{port}/0"), command_timeout_s=0.3)
        results = await asyncio.gather(
            *(silent.execute("PING") for _ in range(10)), return_exceptions=True
        )
        assert all(isinstance(r, BackendUnavailableError) for r in results)
        server.close()

    asyncio.run(scenario())
