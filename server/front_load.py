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

from proto import FrontLoad, Keyspace, encode_status_record
from server.redis_client import RedisClient
from server.refreshed_record import Commands, RecordRefresher

__all__ = ["FrontLoadPublisher"]


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
        self._key = keys.front_load(front_id)
        self._load = load
        self._refresher = RecordRefresher(redis, interval_s=interval_s, event="front_load")

    async def run(self) -> None:
        """Write the record every interval until cancelled; Redis errors are logged
        (once per failure streak) and the next write tries again.

        Cancellation: the record is deleted (within 1 s; it expires anyway).
        """
        await self._refresher.run(self._write, [("DEL", self._key)])

    async def publish(self) -> None:
        """Write the record once."""
        await self._refresher.refresh(self._write)

    async def _write(self) -> Commands:
        record = encode_status_record(self._load())
        return [("SET", self._key, record, "PX", self._refresher.ttl_ms)]
