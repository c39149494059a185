"""One task per worker that publishes progress, log entries, resource change announcements,
visibility changes (ADR-0010) and replies in order, batching many into one pipeline, and
acknowledges each call only after its reply is published (so a call is never lost: until
acknowledged, it stays in the worker's pending list for the supervisor to settle).

Final replies go through ``PUBLISH_OR_KEEP`` (several for one front in a batch: through
``PUBLISH_REPLIES_OR_KEEP``, as one message, ADR-0022): if the front's subscription is down
at that moment, each reply is kept in Redis for the front to fetch when it resubscribes.
"""

from __future__ import annotations

import asyncio
from typing import Final

import structlog

from proto import (
    CALL_GROUP,
    KEPT_REPLY_TTL_S,
    PUBLISH_OR_KEEP,
    PUBLISH_REPLIES_OR_KEEP,
    SET_VISIBILITY,
    BackendUnavailableError,
    CancelledReply,
    ChangeAnnouncement,
    ClientRequestMessage,
    ErrorReply,
    InputRequiredReply,
    Keyspace,
    LogMessage,
    ProgressMessage,
    RedisArg,
    RedisCommandError,
    ResultReply,
    encode_announcement,
    encode_wire,
)
from workers.redis_connection import AsyncRedis

__all__ = ["Outgoing", "ReplyPublisher"]

log = structlog.get_logger()

_MAX_BATCH: Final = 256


class Outgoing:
    """A message for a front; ``entry_id`` is set on final replies to acknowledge the call.
    A message with a ``channel`` goes there instead of the front's reply channel; one with a
    ``command`` is that Redis command instead of a message."""

    __slots__ = ("call_id", "channel", "command", "entry_id", "front_id", "payload")

    def __init__(
        self,
        front_id: str,
        payload: bytes,
        entry_id: bytes | None,
        call_id: int,
        channel: str | None = None,
        *,
        command: tuple[RedisArg, ...] | None = None,
    ) -> None:
        self.front_id = front_id
        self.payload = payload
        self.entry_id = entry_id
        self.call_id = call_id
        self.channel = channel
        self.command = command


class ReplyPublisher:
    """Publishes :class:`Outgoing` messages in submission order."""

    def __init__(self, redis: AsyncRedis, keys: Keyspace) -> None:
        self._redis = redis
        self._keys = keys
        self._stream = keys.call_stream()
        self._changes = keys.change_channel()
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()

    def reply(
        self,
        front_id: str,
        reply: ResultReply | ErrorReply | CancelledReply | InputRequiredReply,
        entry_id: bytes,
    ) -> None:
        self._put(Outgoing(front_id, encode_wire(reply), entry_id, reply.call_id))

    def notify(
        self, front_id: str, message: ProgressMessage | LogMessage | ClientRequestMessage
    ) -> None:
        """Queue a notice about a running call (progress, a log entry, a request for the
        client): published, not kept, so one sent while the front's subscription is down
        is lost (a lost request leaves its handler waiting until its time limit)."""
        self._put(Outgoing(front_id, encode_wire(message), None, message.call_id))

    def announce(self, announcement: ChangeAnnouncement) -> None:
        """Queue a change for every front (the fleet's change channel, ADR-0006): published,
        not kept, like any announcement."""
        self._put(Outgoing("", encode_announcement(announcement), None, 0, self._changes))

    def apply(self, command: tuple[RedisArg, ...]) -> None:
        """Queue a command that changes fleet state and announces it itself (a
        ``SET_VISIBILITY`` run), in order with the messages around it."""
        self._put(Outgoing("", b"", None, 0, command=command))

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

    async def load_scripts(self) -> None:
        """Load the Lua scripts once; EVALSHA then names them (reloaded if Redis forgets)."""
        for script in (PUBLISH_OR_KEEP, PUBLISH_REPLIES_OR_KEEP, SET_VISIBILITY):
            await self._redis.execute("SCRIPT", "LOAD", script.source)

    async def _publish(self, batch: list[Outgoing]) -> None:
        commands = self._commands(batch)
        backoff_s = 0.05
        while True:
            try:
                await self._redis.execute_many(commands)
                return
            except RedisCommandError as exc:
                if "NOSCRIPT" in str(exc):
                    # Redis restarted or flushed its scripts; every EVALSHA of the batch
                    # (replies, visibility changes) failed alike and the acknowledgements
                    # are idempotent: reload, resend.
                    await self.load_scripts()
                    continue
                if not exc.is_transient:
                    # Not retryable (a bug): the calls stay pending for the supervisor.
                    log.error("reply.publish_refused", error=str(exc))
                    return
                log.warning("reply.publish_failed", error=str(exc), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 2.0)
            except BackendUnavailableError as exc:
                log.warning("reply.publish_failed", error=str(exc), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 2.0)

    def _commands(self, batch: list[Outgoing]) -> list[tuple[RedisArg, ...]]:
        """The batch as Redis commands: notices and commands in order, then each front's
        final replies (one publish per front, ADR-0022), then one XACK and one XDEL for
        every call answered. A call's notices were queued before its final reply, so they
        still reach its front first; only after every reply is published is a call
        acknowledged."""
        commands: list[tuple[RedisArg, ...]] = []
        finals: dict[str, list[Outgoing]] = {}
        answered: list[bytes] = []
        for item in batch:
            if item.command is not None:
                commands.append(item.command)
            elif item.entry_id is None:  # a notice: may be lost
                channel = item.channel or self._keys.reply_channel(item.front_id)
                commands.append(("PUBLISH", channel, item.payload))
            else:
                finals.setdefault(item.front_id, []).append(item)
                answered.append(item.entry_id)
        for front_id, replies in finals.items():
            commands.append(self._publish_or_keep(front_id, replies))
        if answered:
            # Under load a batch holds several calls; each command costs Redis a dispatch.
            commands.append(("XACK", self._stream, CALL_GROUP, *answered))
            commands.append(("XDEL", self._stream, *answered))
        return commands

    def _publish_or_keep(self, front_id: str, replies: list[Outgoing]) -> tuple[RedisArg, ...]:
        channel = self._keys.reply_channel(front_id)
        kept = self._keys.kept_replies(front_id)
        if len(replies) == 1:
            (reply,) = replies
            return (
                "EVALSHA", PUBLISH_OR_KEEP.sha, 1, kept,
                channel, reply.payload, reply.call_id, KEPT_REPLY_TTL_S,
            )  # fmt: skip
        pairs = [part for reply in replies for part in (reply.call_id, reply.payload)]
        return (
            "EVALSHA", PUBLISH_REPLIES_OR_KEEP.sha, 1, kept, channel, KEPT_REPLY_TTL_S, *pairs
        )  # fmt: skip
