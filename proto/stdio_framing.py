"""Newline-delimited message framing of the stdio transport, sans-IO (mcp-protocol.md 3).

Bytes go in with :meth:`LineFramer.receive_data` (``b""`` means end of input); events come
out of :meth:`LineFramer.next_event`, in the manner of h11: a complete :class:`Line`, a
:class:`LineTooLong` when a line outgrows the limit, :data:`NEED_DATA` when more bytes are
needed, :data:`END_OF_INPUT` once everything was delivered after the end of input.

Memory stays bounded whatever the peer sends: the buffer never holds more than the limit
plus the last chunk received. A line over the limit is reported once, as soon as it is
known to be too long, and then skipped up to the next newline, so the stream resynchronises
on the message after it. Blank lines are skipped; a trailing ``\\r`` is dropped (CRLF input);
an unterminated last line is delivered at the end of input.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from proto.errors import LocalProtocolError

__all__ = [
    "END_OF_INPUT",
    "NEED_DATA",
    "FramingEvent",
    "Line",
    "LineFramer",
    "LineTooLong",
]


class _Sentinel(enum.Enum):
    NEED_DATA = "need-data"
    END_OF_INPUT = "end-of-input"


NEED_DATA: Final = _Sentinel.NEED_DATA
"""No complete line is buffered: feed more bytes."""

END_OF_INPUT: Final = _Sentinel.END_OF_INPUT
"""The input ended and every line was delivered."""


class Line(msgspec.Struct, frozen=True):
    """One message's bytes, without the newline."""

    data: bytes


class LineTooLong(msgspec.Struct, frozen=True):
    """A line exceeded ``limit`` bytes; it is being skipped up to its newline."""

    limit: int


FramingEvent = Line | LineTooLong | _Sentinel

_NEWLINE: Final = b"\n"


class LineFramer:
    """Splits a byte stream into lines of at most ``max_line_bytes`` bytes.

    Args:
        max_line_bytes: the largest line delivered (the newline not counted).
    """

    def __init__(self, max_line_bytes: int) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self._limit = max_line_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already known to hold no newline
        self._skipping = False  # inside a line already reported too long
        self._ended = False

    def receive_data(self, data: bytes | bytearray) -> None:
        """Feed bytes read from the stream; ``b""`` marks the end of input.

        Raises:
            LocalProtocolError: data fed after the end of input (a bug in the caller).
        """
        if self._ended:
            raise LocalProtocolError("stdio framing: data received after the end of input")
        if data:
            self._buffer += data
        else:
            self._ended = True

    def next_event(self) -> FramingEvent:
        """The next event; call until it returns :data:`NEED_DATA` or :data:`END_OF_INPUT`."""
        while True:
            event = self._next()
            # Blank lines carry no message: skip them instead of answering a parse error.
            if isinstance(event, Line) and not event.data.strip():
                continue
            return event

    def _next(self) -> FramingEvent:
        buffer = self._buffer
        end = buffer.find(_NEWLINE, self._scanned)
        if self._skipping:
            if end < 0:
                buffer.clear()
                self._scanned = 0
                return END_OF_INPUT if self._ended else NEED_DATA
            del buffer[: end + 1]
            self._scanned = 0
            self._skipping = False
            end = buffer.find(_NEWLINE)
        if end >= 0:
            data = bytes(buffer[:end])
            del buffer[: end + 1]
            self._scanned = 0
            if len(data) > self._limit:
                return LineTooLong(self._limit)
            return Line(data[:-1] if data.endswith(b"\r") else data)
        if len(buffer) > self._limit:
            # Known to be too long before its end arrived: report now, skip the rest later.
            buffer.clear()
            self._scanned = 0
            self._skipping = True
            return LineTooLong(self._limit)
        self._scanned = len(buffer)
        if not self._ended:
            return NEED_DATA
        if buffer:
            data = bytes(buffer)
            buffer.clear()
            self._scanned = 0
            return Line(data[:-1] if data.endswith(b"\r") else data)
        return END_OF_INPUT
