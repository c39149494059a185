"""A worker's reply publisher against a real Redis: a batch's replies to one front published
in order as one message, kept one by one when nobody listens, and the batch's calls
acknowledged and deleted after its replies, in one XACK and one XDEL (ADR-0022)."""

from __future__ import annotations

import asyncio

import msgspec
import redis

from proto import (
    CALL_GROUP,
    CALL_PAYLOAD_FIELD,
    Keyspace,
    ProgressMessage,
    ResultReply,
    decode_worker_message,
    decode_worker_messages,
)
from server.redis_client import parse_redis_url
from tests.fixtures.redis_server import RedisServer
from workers.redis_connection import AsyncRedis
from workers.reply_publisher import ReplyPublisher

CALLS = 5
KEYS = Keyspace("t")


def calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def taken_calls(client: redis.Redis, count: int) -> list[bytes]:
    """``count`` calls on the stream, read by a worker (pending until acknowledged)."""
    stream = KEYS.call_stream()
    client.xgroup_create(stream, CALL_GROUP, id="0", mkstream=True)
    for n in range(count):
        client.xadd(stream, {CALL_PAYLOAD_FIELD: f"call-{n}"})
    taken = client.xreadgroup(CALL_GROUP, "worker-1", {stream: ">"})
    return [entry_id for entry_id, _ in taken[0][1]]  # type: ignore[index]


def publish(server: RedisServer, entry_ids: list[bytes], *, progress_first: bool = False) -> None:
    """Queue a reply to front-1 for each call (and a progress notice of the last call
    before them), then let the publisher send them: they form one batch."""

    async def main() -> None:
        connection = AsyncRedis(parse_redis_url(server.url), command_timeout_s=5)
        publisher = ReplyPublisher(connection, KEYS)
        await publisher.load_scripts()
        if progress_first:
            publisher.notify("front-1", ProgressMessage(len(entry_ids) - 1, 0.5))
        for n, entry_id in enumerate(entry_ids):
            publisher.reply("front-1", ResultReply(n, msgspec.Raw(b"{}")), entry_id)
        publishing = asyncio.create_task(publisher.run())
        try:
            await publisher.wait_idle()
        finally:
            publishing.cancel()
            await connection.aclose()

    asyncio.run(main())


def test_a_batch_of_replies_to_one_front_is_one_message_and_one_ack(
    private_redis: RedisServer,
) -> None:
    client = private_redis.client()
    entry_ids = taken_calls(client, CALLS)
    pubsub = client.pubsub()
    pubsub.subscribe(KEYS.reply_channel("front-1"))
    pubsub.get_message(timeout=5)
    before = {c: calls(client, c) for c in ("xack", "xdel", "evalsha", "publish")}
    publish(private_redis, entry_ids, progress_first=True)
    messages = []
    while (message := pubsub.get_message(timeout=2)) is not None:
        messages.append(message["data"])
    # The progress notice, then every reply in one message, in order.
    assert [decode_worker_messages(m) for m in messages] == [
        [ProgressMessage(CALLS - 1, 0.5)],
        [ResultReply(n, msgspec.Raw(b"{}")) for n in range(CALLS)],
    ]
    after = {c: calls(client, c) - before[c] for c in before}
    # EVALSHA of the batch's script, the PUBLISH inside it and the notice's PUBLISH.
    assert after == {"xack": 1, "xdel": 1, "evalsha": 1, "publish": 2}
    stream = KEYS.call_stream()
    assert client.xpending(stream, CALL_GROUP)["pending"] == 0
    assert client.xlen(stream) == 0


def test_replies_nobody_hears_are_kept_one_by_one(private_redis: RedisServer) -> None:
    """The front's subscription is down: each reply is kept under its call id, where the
    front's fetcher reads them after it resubscribes."""
    client = private_redis.client()
    entry_ids = taken_calls(client, CALLS)
    publish(private_redis, entry_ids)
    kept = client.hgetall(KEYS.kept_replies("front-1"))
    assert {int(call_id): decode_worker_message(reply) for call_id, reply in kept.items()} == {
        n: ResultReply(n, msgspec.Raw(b"{}")) for n in range(CALLS)
    }
    assert 0 < client.ttl(KEYS.kept_replies("front-1")) <= 300
    assert client.xpending(KEYS.call_stream(), CALL_GROUP)["pending"] == 0
