"""A worker's reply publisher against a real Redis: replies published in order, and each
batch's calls acknowledged and deleted after its replies, in one XACK and one XDEL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import redis

from proto import CALL_GROUP, CALL_PAYLOAD_FIELD, Keyspace, ResultReply, decode_worker_message
from server.redis_client import parse_redis_url
from tests.fixtures.redis_server import RedisServer, start_redis
from tests.fixtures.waiting import wait_until
from workers.redis_connection import AsyncRedis
from workers.reply_publisher import ReplyPublisher

CALLS = 5


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    # Counts commands: a Redis of its own.
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = start_redis(workdir)
    yield server
    server.process.terminate()
    server.process.wait(timeout=10)


def calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_a_batch_of_replies_is_acknowledged_in_one_xack_and_one_xdel(
    private_redis: RedisServer,
) -> None:
    client = private_redis.client()
    keys = Keyspace("t")
    stream = keys.call_stream()
    client.xgroup_create(stream, CALL_GROUP, id="0", mkstream=True)
    for n in range(CALLS):
        client.xadd(stream, {CALL_PAYLOAD_FIELD: f"call-{n}"})
    taken = client.xreadgroup(CALL_GROUP, "worker-1", {stream: ">"})
    entry_ids = [entry_id for entry_id, _ in taken[0][1]]  # type: ignore[index]
    pubsub = client.pubsub()
    pubsub.subscribe(keys.reply_channel("front-1"))
    pubsub.get_message(timeout=5)
    acks_before, deletes_before = calls(client, "xack"), calls(client, "xdel")

    async def main() -> None:
        connection = AsyncRedis(parse_redis_url(private_redis.url), command_timeout_s=5)
        publisher = ReplyPublisher(connection, keys)
        await publisher.load_scripts()
        for n, entry_id in enumerate(entry_ids):  # queued before the publisher runs: a batch
            publisher.reply("front-1", ResultReply(n, msgspec.Raw(b"{}")), entry_id)
        publishing = asyncio.create_task(publisher.run())
        try:
            await publisher.wait_idle()
        finally:
            publishing.cancel()
            await connection.aclose()

    asyncio.run(main())
    heard: list[int] = []

    def all_heard() -> bool:
        message = pubsub.get_message(timeout=0.05)
        if message is not None and message["type"] == "message":
            reply = decode_worker_message(message["data"])
            assert isinstance(reply, ResultReply)
            heard.append(reply.call_id)
        return len(heard) == CALLS

    wait_until(all_heard, deadline_s=5, what="every reply")
    assert heard == list(range(CALLS))
    assert calls(client, "xack") - acks_before == 1
    assert calls(client, "xdel") - deletes_before == 1
    assert client.xpending(stream, CALL_GROUP)["pending"] == 0
    assert client.xlen(stream) == 0
