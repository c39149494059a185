"""Hear every cancellation of the fleet, and every client's answer to a request a handler
sent it: a plain XREAD of the broadcast (cancel) stream (no consumer group: every worker
must see every entry, since only the one holding the call knows it), resuming from the last
entry read after any failure so none is missed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec
import structlog

from proto import (
    CALL_PAYLOAD_FIELD,
    BackendUnavailableError,
    BroadcastMessage,
    Keyspace,
    RedisCommandError,
    decode_broadcast,
    stream_entries,
)
from workers.redis_connection import AsyncRedis

__all__ = ["CancelListener"]

log = structlog.get_logger()

_BATCH = 256


class CancelListener:
    """Reads the broadcast stream and hands each entry (a cancellation or a client's
    answer) to ``on_message``.

    Args:
        reads: a connection of its own (reads block).
        keys: the fleet's key schema.
        on_message: receives each entry, in stream order (must not block).
        block_ms: longest blocking read; bounds how fast a stop is noticed.
        lookback_s: at start, cancels this recent are read too: a call queued before this
            worker started may have been cancelled meanwhile (the longest a call can wait).
    """

    def __init__(
        self,
        reads: AsyncRedis,
        keys: Keyspace,
        on_message: Callable[[BroadcastMessage], None],
        *,
        block_ms: int,
        lookback_s: float,
    ) -> None:
        self._reads = reads
        self._stream = keys.cancel_stream()
        self._on_message = on_message
        self._block_ms = block_ms
        self._last_id = b"%d-0" % int((time.time() - lookback_s) * 1000)

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop`` is set; Redis failures are retried with backoff."""
        backoff_s = 0.05
        while not stop.is_set():
            try:
                reply = await self._reads.execute(
                    "XREAD", "COUNT", _BATCH, "BLOCK", self._block_ms,
                    "STREAMS", self._stream, self._last_id,
                )  # fmt: skip
            except (BackendUnavailableError, RedisCommandError) as exc:
                log.warning("worker.cancel_read_failed", error=str(exc), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 2.0)
                continue
            backoff_s = 0.05
            for entry_id, payload in stream_entries(reply, CALL_PAYLOAD_FIELD):
                self._last_id = entry_id
                self._deliver(payload)

    def _deliver(self, payload: bytes) -> None:
        try:
            message = decode_broadcast(payload)
        except msgspec.MsgspecError as exc:
            log.error("cancel.undecodable", error=str(exc), size=len(payload))
            return
        self._on_message(message)
