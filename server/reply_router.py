"""Demultiplex the front's reply channel: each worker message goes to the call waiting for
it, found by call id. One subscription serves every call of the process (DESIGN.md 5)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import msgspec
import structlog
import trio

from proto import (
    BackendUnavailableError,
    CancelledReply,
    ClientRequestMessage,
    ErrorReply,
    InputRequiredReply,
    LogMessage,
    ProgressMessage,
    RedisCommandError,
    ResultReply,
    WorkerMessage,
    decode_worker_messages,
)
from server.redis_client import RedisClient

__all__ = [
    "ClientRequestSink",
    "KeptReplyFetcher",
    "LogSink",
    "PendingCall",
    "ProgressSink",
    "ReplyRouter",
]

log = structlog.get_logger()


ProgressSink = Callable[[ProgressMessage], None]
"""Receives a call's progress reports, synchronously, in order (must not block)."""

LogSink = Callable[[LogMessage], None]
"""Receives a call's log entries, synchronously, in order (must not block)."""

ClientRequestSink = Callable[[ClientRequestMessage], None]
"""Receives a call's requests for its client, synchronously, in order (must not block)."""

FinalReply = ResultReply | ErrorReply | CancelledReply | InputRequiredReply


class PendingCall:
    """A call waiting for its reply; ``done`` is set once ``reply`` holds it, or once the
    wait was ended without one (``ended``: the front is shutting down)."""

    __slots__ = ("deadline_ms", "done", "ended", "on_log", "on_progress", "on_request", "reply")

    def __init__(
        self,
        on_progress: ProgressSink | None,
        on_log: LogSink | None = None,
        on_request: ClientRequestSink | None = None,
        deadline_ms: int = 0,
    ) -> None:
        self.done = trio.Event()
        self.reply: FinalReply | None = None
        self.ended = False
        self.on_progress = on_progress
        self.on_log = on_log
        self.on_request = on_request
        self.deadline_ms = deadline_ms


class ReplyRouter:
    """Routes worker messages to waiting calls; late or unknown replies are dropped."""

    def __init__(self) -> None:
        self._pending: dict[int, PendingCall] = {}
        self._ids = itertools.count(1)
        self.gaps = 0
        self.gap_seen = trio.Event()
        self.closed = False
        """Set by :meth:`end_waits`: no call waits here any more."""

    def next_call_id(self) -> int:
        return next(self._ids)

    @contextmanager
    def expect(
        self,
        call_id: int,
        on_progress: ProgressSink | None = None,
        on_log: LogSink | None = None,
        on_request: ClientRequestSink | None = None,
        *,
        deadline_ms: int = 0,
    ) -> Iterator[PendingCall]:
        """Register a waiter for ``call_id`` for the duration of the block (register before
        enqueueing, so a fast reply cannot arrive first); progress goes to ``on_progress``,
        log entries to ``on_log`` and requests for the client to ``on_request`` until the
        reply arrives. ``deadline_ms``: the call's own deadline (:meth:`end_waits`)."""
        pending = PendingCall(on_progress, on_log, on_request, deadline_ms)
        self._pending[call_id] = pending
        try:
            yield pending
        finally:
            del self._pending[call_id]

    def on_message(self, data: bytes) -> None:
        """Route what a worker published on this front's channel: one message, or several
        final replies published together (ADR-0022)."""
        try:
            messages = decode_worker_messages(data)
        except msgspec.MsgspecError as exc:
            log.error("reply.undecodable", error=str(exc), size=len(data))
            return
        for message in messages:
            self._route(message)

    def _route(self, message: WorkerMessage) -> None:
        pending = self._pending.get(message.call_id)
        if pending is None or pending.reply is not None:
            return  # late: the caller stopped waiting, or the reply is already in
        if isinstance(message, ProgressMessage):
            if pending.on_progress is not None:
                pending.on_progress(message)
            return
        if isinstance(message, LogMessage):
            if pending.on_log is not None:
                pending.on_log(message)
            return
        if isinstance(message, ClientRequestMessage):
            if pending.on_request is not None:
                pending.on_request(message)
            return
        pending.reply = message
        pending.done.set()

    def on_gap(self) -> None:
        """The subscription was re-established: replies published meanwhile were kept in
        Redis (``PUBLISH_OR_KEEP``); ask for them to be fetched."""
        self.gaps += 1
        log.warning("reply.gap", waiting=len(self._pending))
        self.gap_seen.set()

    def end_waits(self) -> list[tuple[int, int]]:
        """Stop every wait at once, without a reply (the front's grace period is over): each
        waiting call's ``done`` is set with ``ended`` true, and :attr:`closed` tells
        callers that no call should wait any more. Returns each ended call's id and
        deadline (epoch ms), for telling the workers."""
        self.closed = True
        ended = []
        for call_id, pending in self._pending.items():
            if pending.reply is None and not pending.ended:
                pending.ended = True
                pending.done.set()
                ended.append((call_id, pending.deadline_ms))
        return ended

    def waiting_call_ids(self) -> list[int]:
        return list(self._pending)

    @property
    def waiting(self) -> int:
        return len(self._pending)


class KeptReplyFetcher:
    """Service: after each subscription gap, fetch the replies workers kept for this front
    while no one listened, and deliver those the router still waits for.

    Args:
        redis: the front's Redis client.
        router: the front's reply router.
        kept_key: this front's kept-replies hash (``Keyspace.kept_replies``).
    """

    def __init__(self, redis: RedisClient, router: ReplyRouter, kept_key: str) -> None:
        self._redis = redis
        self._router = router
        self._kept_key = kept_key

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Fetch after every gap until cancelled."""
        task_status.started()
        while True:
            await self._router.gap_seen.wait()
            self._router.gap_seen = trio.Event()
            try:
                await self.fetch()
            except (BackendUnavailableError, RedisCommandError) as exc:
                log.warning("reply.fetch_failed", error=str(exc))

    async def fetch(self) -> int:
        """Deliver kept replies of waiting calls; returns how many were delivered."""
        ids = self._router.waiting_call_ids()
        if not ids:
            return 0
        found = await self._redis.execute("HMGET", self._kept_key, *ids)
        delivered = [
            (call_id, payload)
            for call_id, payload in zip(ids, found if isinstance(found, list) else [], strict=False)
            if isinstance(payload, bytes)
        ]
        for _call_id, payload in delivered:
            self._router.on_message(payload)
        if delivered:
            await self._redis.execute("HDEL", self._kept_key, *(c for c, _ in delivered))
            log.info("reply.recovered", calls=len(delivered))
        return len(delivered)
