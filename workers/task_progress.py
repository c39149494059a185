"""A running task's progress reports, written to its record's ``progress`` field (ADR-0011):
from any thread (a sync handler reports from its own), latest report wins, one write at a
time, so a handler reporting in a tight loop costs a write per round trip, not per report."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
import structlog

from proto import BackendUnavailableError, RedisCommandError

__all__ = ["TaskProgress"]

log = structlog.get_logger()


class _Report(msgspec.Struct, frozen=True, omit_defaults=True):
    progress: float
    total: float | None = None
    message: str | None = None


_encoder: Final = msgspec.json.Encoder()


class TaskProgress:
    """Coalesces one task's progress reports into writes.

    Args:
        write: stores one encoded report (``{"progress", "total"?, "message"?}``).
        loop: the loop the writes run on (this object is built on it).
    """

    def __init__(
        self, write: Callable[[bytes], Awaitable[object]], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._write = write
        self._loop = loop
        self._lock = threading.Lock()
        self._latest: bytes | None = None
        self._scheduled = False
        self._closed = False
        self._flushing: asyncio.Task[None] | None = None

    def report(self, progress: float, total: float | None, message: str | None) -> None:
        """A :data:`~workers.context.ProgressSink`: thread-safe, never blocks."""
        payload = _encoder.encode(_Report(progress, total, message))
        with self._lock:
            if self._closed:
                return
            self._latest = payload
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        self._flushing = self._loop.create_task(self._flush())

    async def _flush(self) -> None:
        while True:
            with self._lock:
                payload, self._latest = self._latest, None
                if payload is None:
                    self._scheduled = False
                    return
            try:
                await self._write(payload)
            except (BackendUnavailableError, RedisCommandError) as exc:
                # Progress is advisory: the next report (or the outcome) is written anyway.
                log.warning("task.progress_write_failed", error=str(exc))

    async def close(self) -> None:
        """Write what is still pending, so the last report lands before the task's
        outcome; reports after this are dropped."""
        with self._lock:
            self._closed = True
        if self._flushing is not None and not self._flushing.done():
            with contextlib.suppress(Exception):
                await self._flushing
        await self._flush()  # a report whose flush had not started yet
