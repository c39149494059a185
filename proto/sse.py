"""Server-sent events for Streamable HTTP: framing, event ids, and the record a resumable
stream keeps in Redis (mcp-protocol.md 4.2-4.4).

An event id is ``<stream>/<entry>``: the stream's name within its session (``g`` for the
standalone GET stream, a random name for each POST response stream) and the id of the
Redis stream entry holding the event. Ids are therefore unique within the session, name
their stream (so ``Last-Event-ID`` resumes exactly that stream), and order events.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

__all__ = [
    "GET_STREAM",
    "KEEPALIVE_COMMENT",
    "START_ENTRY",
    "EventId",
    "StoredEvent",
    "decode_stored_event",
    "encode_event",
    "encode_priming_event",
    "entry_order",
    "parse_event_id",
]

GET_STREAM: Final = "g"
"""Name of a session's standalone (GET) stream."""

START_ENTRY: Final = "0-0"
"""The entry before every other: resuming after it replays a stream from its start."""

KEEPALIVE_COMMENT: Final = b": ping\r\n\r\n"
"""A comment line: clients ignore it, proxies see traffic (mcp-protocol.md 5.5)."""

_STREAM_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENTRY_ID: Final = re.compile(r"\d{1,20}-\d{1,20}")


class EventId(msgspec.Struct, frozen=True):
    """A parsed event id."""

    stream: str
    entry: str

    def __str__(self) -> str:
        return f"{self.stream}/{self.entry}"


def entry_order(entry: str) -> tuple[int, int]:
    """Sort key of a Redis stream entry id (``<ms>-<seq>``, compared numerically)."""
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


def parse_event_id(value: str) -> EventId | None:
    """Parse a ``Last-Event-ID`` header; None when it is not one of our ids."""
    stream, sep, entry = value.strip().partition("/")
    if not sep or not _STREAM_NAME.fullmatch(stream) or not _ENTRY_ID.fullmatch(entry):
        return None
    return EventId(stream, entry)


def encode_event(data: bytes, event_id: EventId | None = None) -> bytes:
    """One ``message`` event carrying one JSON-RPC message (compact JSON: no newlines)."""
    head = b"event: message\r\n"
    if event_id is not None:
        head += b"id: " + str(event_id).encode() + b"\r\n"
    return head + b"data: " + data + b"\r\n\r\n"


def encode_priming_event(event_id: EventId, retry_ms: int) -> bytes:
    """The 2025-11-25 priming event: an id to resume from, empty data, and how long a client
    waits before reconnecting (mcp-protocol.md 4.2)."""
    return b"id: %s\r\nretry: %d\r\ndata: \r\n\r\n" % (str(event_id).encode(), retry_ms)


class StoredEvent(msgspec.Struct, frozen=True, array_like=True):
    """An event as announced on a session's event channel; ``final`` marks the response
    that ends a POST stream."""

    stream: str
    entry: str
    data: msgspec.Raw
    final: bool = False


_stored_decoder: Final = msgspec.json.Decoder(StoredEvent)


def decode_stored_event(payload: bytes) -> StoredEvent:
    """Decode an event channel message.

    Raises:
        msgspec.MsgspecError: garbage.
    """
    try:
        return _stored_decoder.decode(payload)
    except UnicodeDecodeError:
        raise msgspec.DecodeError("invalid UTF-8 in a stored event") from None
