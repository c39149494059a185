"""One task per worker that publishes progress and replies in order, batching many into one
pipeline, and acknowledges each call only after its reply is published (so a call is never
lost: until acknowledged, it stays in the worker's pending list for the supervisor to settle).
"""

from __future__ import annotations

import asyncio
from typing import Final

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from proto import CALL_GROUP, ErrorReply, Keyspace, ProgressMessage, ResultReply, encode_wire

__all__ = ["Outgoing", "ReplyPublisher"]

log = structlog.get_logger()

_MAX_BATCH: Final = 256


class Outgoing:
    """A message for a front; ``entry_id`` is set on final replies to acknowledge the call."""

    __slots__ = ("entry_id", "front_id", "payload")

    def __init__(self, front_id: str, payload: bytes, entry_id: bytes | None) -> None:
        self.front_id = front_id
        self.payload = payload
        self.entry_id = entry_id


class ReplyPublisher:
    """Publishes :class:`Outgoing` messages in submission order."""

    def __init__(self, redis: aioredis.Redis, keys: Keyspace) -> None:
        self._redis = redis
        self._keys = keys
        self._stream = keys.call_stream()
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()

    def reply(self, front_id: str, reply: ResultReply | ErrorReply, entry_id: bytes) -> None:
        self._put(Outgoing(front_id, encode_wire(reply), entry_id))

    def progress(self, front_id: str, message: ProgressMessage) -> None:
        self._put(Outgoing(front_id, encode_wire(message), None))

    def _put(self, item: Outgoing) -> None:
        self._idle.clear()
        self._queue.put_nowait(item)

    async def wait_idle(self) -> None:
        """Wait until everything submitted so far is published."""
        await self._idle.wait()

    async def run(self) -> None:
        """Publish until cancelled; on Redis errors, retry the same batch with backoff."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._publish(batch)
            if self._queue.empty():
                self._idle.set()

    async def _publish(self, batch: list[Outgoing]) -> None:
        backoff_s = 0.05
        while True:
            pipe = self._redis.pipeline(transaction=False)
            for item in batch:
                pipe.publish(self._keys.reply_channel(item.front_id), item.payload)
                if item.entry_id is not None:
                    pipe.xack(self._stream, CALL_GROUP, item.entry_id)
                    pipe.xdel(self._stream, item.entry_id)
            try:
                await pipe.execute()
                return
            except RedisError as exc:
                log.warning("reply.publish_failed", error=str(exc), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 2.0)
