"""The Redis-backed event store behind SSE resumability (mcp-protocol.md 4.4).

Each SSE stream of a handshake-era session keeps its events in a Redis stream with bounded
retention (``front.event_store_max_events`` entries, ``front.event_store_ttl_s`` after the
last write), so a client that lost its connection resumes with ``Last-Event-ID`` on any
front. Each stored event is also announced on the session's event channel, atomically
(``APPEND_EVENT``), for the front holding a live stream of that session.
"""

from __future__ import annotations

from typing import Final

import msgspec

from proto import (
    APPEND_EVENT,
    START_ENTRY,
    Keyspace,
    StoredEvent,
)
from server.redis_client import RedisClient

__all__ = ["EventStore"]

_DATA: Final = b"d"
_FINAL: Final = b"f"
_REPLAY_BATCH: Final = 500


class EventStore:
    """Stores and replays the events of sessions' SSE streams.

    Args:
        redis: the front's Redis client.
        keys: the fleet's key schema.
        max_events: entries kept per stream (approximately: ``MAXLEN ~``).
        ttl_s: how long a stream is kept after its last event.
    """

    def __init__(self, redis: RedisClient, keys: Keyspace, *, max_events: int, ttl_s: float):
        self._redis = redis
        self._keys = keys
        self._max_events = max_events
        self._ttl_ms = int(ttl_s * 1000)

    async def append(
        self, session_id: str, stream: str, message: bytes, *, final: bool = False
    ) -> str:
        """Store an event and announce it; returns its entry id. An empty ``message`` is the
        stream's priming marker: it creates the stream (so it can be resumed before its first
        event) and is never replayed.

        Raises:
            BackendUnavailableError, RedisCommandError: the event was not stored.
        """
        entry = await self._redis.run_script(
            APPEND_EVENT,
            [self._keys.session_events(session_id, stream)],
            [
                self._keys.session_event_channel(session_id),
                stream,
                message,
                "1" if final else "0",
                self._max_events,
                self._ttl_ms,
            ],
        )
        return entry.decode() if isinstance(entry, bytes) else START_ENTRY

    async def after(self, session_id: str, stream: str, entry: str) -> list[StoredEvent]:
        """The stored events after ``entry``, oldest first (those trimmed away are gone).

        Raises:
            BackendUnavailableError, RedisCommandError: Redis did not answer.
        """
        key = self._keys.session_events(session_id, stream)
        events: list[StoredEvent] = []
        start = f"({entry}"
        while True:
            reply = await self._redis.execute("XRANGE", key, start, "+", "COUNT", _REPLAY_BATCH)
            rows = reply if isinstance(reply, list) else []
            for row in rows:
                event = _stored(stream, row)
                if event is not None:
                    events.append(event)
            if len(rows) < _REPLAY_BATCH:
                return events
            if not events:
                return events
            start = f"({events[-1].entry}"

    async def exists(self, session_id: str, stream: str) -> bool:
        """Whether the stream is still stored (not expired, or never created)."""
        found = await self._redis.execute("EXISTS", self._keys.session_events(session_id, stream))
        return found == 1

    async def tail(self, session_id: str, stream: str) -> str:
        """The id of the stream's newest entry (:data:`START_ENTRY` when it has none)."""
        reply = await self._redis.execute(
            "XREVRANGE", self._keys.session_events(session_id, stream), "+", "-", "COUNT", 1
        )
        if isinstance(reply, list) and reply and isinstance(reply[0], list):
            entry = reply[0][0]
            if isinstance(entry, bytes):
                return entry.decode()
        return START_ENTRY


def _stored(stream: str, row: object) -> StoredEvent | None:
    """A replayable event from an XRANGE row; None for the priming marker or garbage."""
    if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], bytes)):
        return None
    fields = row[1] if isinstance(row[1], list) else []
    values = dict(zip(fields[::2], fields[1::2], strict=False))
    data = values.get(_DATA)
    if not isinstance(data, bytes):
        return None
    return StoredEvent(stream, row[0].decode(), msgspec.Raw(data), values.get(_FINAL) == b"1")
