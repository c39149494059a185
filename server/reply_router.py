"""Demultiplex the front's reply channel: each worker message goes to the call waiting for
it, found by call id. One subscription serves every call of the process (DESIGN.md 5)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec
import structlog
import trio

from proto import ErrorReply, ProgressMessage, ResultReply, decode_worker_message

__all__ = ["PendingCall", "ReplyRouter"]

log = structlog.get_logger()


class PendingCall:
    """A call waiting for its reply; ``done`` is set once ``reply`` holds it."""

    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.reply: ResultReply | ErrorReply | None = None


class ReplyRouter:
    """Routes worker messages to waiting calls; late or unknown replies are dropped."""

    def __init__(self) -> None:
        self._pending: dict[int, PendingCall] = {}
        self._ids = itertools.count(1)
        self.gaps = 0

    def next_call_id(self) -> int:
        return next(self._ids)

    @contextmanager
    def expect(self, call_id: int) -> Iterator[PendingCall]:
        """Register a waiter for ``call_id`` for the duration of the block (register before
        enqueueing, so a fast reply cannot arrive first)."""
        pending = PendingCall()
        self._pending[call_id] = pending
        try:
            yield pending
        finally:
            del self._pending[call_id]

    def on_message(self, data: bytes) -> None:
        try:
            message = decode_worker_message(data)
        except msgspec.MsgspecError as exc:
            log.error("reply.undecodable", error=str(exc), size=len(data))
            return
        pending = self._pending.get(message.call_id)
        if pending is None or isinstance(message, ProgressMessage):
            return
        pending.reply = message
        pending.done.set()

    def on_gap(self) -> None:
        # Replies published while the subscription was down are lost; the affected calls
        # end at their deadline with a clear error rather than hang.
        self.gaps += 1
        log.warning("reply.gap", waiting=len(self._pending))

    @property
    def waiting(self) -> int:
        return len(self._pending)
