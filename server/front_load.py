"""The front's load record for ``mcpfleet status`` (ADR-0013): every interval this front
writes what it serves — requests answered, requests in flight, streams open — under
``Keyspace.front_load`` with a TTL of three intervals, and deletes it when it stops. Its
supervisor copies it into the status document's row for this front.

The counts are plain ints the request paths bump (``FrontMetrics.requests_served``,
``Dispatcher.requests_inflight``, each transport's open streams); the writer only reads
them, so a request pays no Redis for this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import structlog
import trio

from proto import (
    BackendUnavailableError,
    FrontLoad,
    Keyspace,
    RedisCommandError,
    encode_status_record,
)
from server.redis_client import RedisClient

__all__ = ["FrontLoadPublisher"]

log = structlog.get_logger()

_TTL_INTERVALS: Final = 3
_CLEAR_TIMEOUT_S: Final = 1.0


class FrontLoadPublisher:
    """Writes one front's load record until cancelled.

    Args:
        redis: the front's Redis client.
        keys: the fleet's key schema.
        front_id: this front's id (its supervisor's ``ChildSlot.child_id`` for it).
        interval_s: time between two writes (``supervisor.status_interval_s``).
        load: this front's load as of now, for each write.
    """

    def __init__(
        self,
        redis: RedisClient,
        keys: Keyspace,
        front_id: str,
        *,
        interval_s: float,
        load: Callable[[], FrontLoad],
    ) -> None:
        self._redis = redis
        self._key = keys.front_load(front_id)
        self._interval_s = interval_s
        self._ttl_ms = int(interval_s * _TTL_INTERVALS * 1000)
        self._load = load
        self._failing = False

    async def run(self) -> None:
        """Write the record every interval until cancelled; Redis errors are logged
        (once per failure streak) and the next write tries again.

        Cancellation: the record is deleted (within 1 s; it expires anyway).
        """
        try:
            while True:
                await self.publish()
                await trio.sleep(self._interval_s)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(_CLEAR_TIMEOUT_S):
                await self._clear()

    async def publish(self) -> None:
        """Write the record once."""
        record = encode_status_record(self._load())
        try:
            await self._redis.execute("SET", self._key, record, "PX", self._ttl_ms)
        except (BackendUnavailableError, RedisCommandError) as exc:
            if not self._failing:
                log.warning("front.load_publish_failed", error=str(exc))
            self._failing = True
            return
        self._failing = False

    async def _clear(self) -> None:
        try:
            await self._redis.execute("DEL", self._key)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("front.load_clear_failed", error=str(exc))
