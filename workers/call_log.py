"""A call's log: where a handler's ``ctx.log(level, message, data)`` entries go.

Every entry goes to the worker's own log stream (structlog JSON on stderr) as ``tool.log``,
with the call's request id, whatever the client asked for: operators see everything their
``log_level`` lets through. Its ``mcp_level`` is the handler's level; the line's own level
is at most ``warning`` (``error`` and above in the worker's log mean a fault of the fleet).

An entry also goes to the client, as ``notifications/message``, when the call's client
takes that level (``CallMessage.log_level``), within two bounds:

- **rate**: at most ``per_second`` entries per call per second (a token bucket holding
  ``per_second`` tokens, refilled continuously), so a handler logging in a tight loop
  cannot flood Redis or the client. Entries beyond are dropped and counted; the count goes
  to the client as a ``warning`` entry (logger ``mcpfleet``) at most once a second, before
  the next entry that passes, and when the call ends; and to the worker's log as
  ``tool.log_dropped``.
- **size**: an entry whose encoded ``data`` exceeds :data:`MAX_CLIENT_DATA_BYTES` is sent
  as its message (cut to 1024 characters) with a note of the size; the worker's log keeps
  it whole.

Thread-safe: a sync handler's threads and the event loop may write at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final, final

import msgspec
import structlog

from proto import LOG_LEVELS, is_at_least, is_log_level

__all__ = ["MAX_CLIENT_DATA_BYTES", "CallLog", "LogSink"]

log = structlog.get_logger()

LogSink = Callable[[str, str | None, bytes], None]
"""Publishes one entry for the client: level, logger name, encoded ``data``. Callable from
any thread; must not block."""

MAX_CLIENT_DATA_BYTES: Final = 16 * 1024
"""Largest encoded ``data`` of one entry sent to the client (pub/sub messages and SSE events
stay small; Redis cuts off a subscriber whose output buffer grows too large)."""

DROPPED_LOGGER: Final = "mcpfleet"
"""The logger name of the entry reporting dropped entries."""

_CUT_MESSAGE_CHARS: Final = 1024
_REPORT_INTERVAL_S: Final = 1.0
_STRUCTLOG_LEVEL: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    # The worker's error level means a fault of the fleet; a handler's own error is the
    # app's, like a handler that raises (call.handler_failed): a warning, and mcp_level
    # keeps its severity.
    "error": logging.WARNING,
    "critical": logging.WARNING,
    "alert": logging.WARNING,
    "emergency": logging.WARNING,
}


def _as_text(value: object) -> str:
    # Logs should not fail over a value JSON has no type for (a Path, a Decimal, a set).
    return repr(value)


_encoder: Final = msgspec.json.Encoder(enc_hook=_as_text)


@final
class CallLog:
    """The log of one call (module docstring).

    Args:
        tool: the tool's name, the entries' ``logger``.
        request_id: the front's id of the request, on every worker log line.
        call_id: the call's id on the wire.
        principal: the caller's display name (``Principal.name``), on worker log lines.
        minimum: the least severe level the client takes; None: it takes none.
        sink: where entries for the client go; None: nowhere.
        per_second: the rate bound.
        clock: monotonic seconds (tests pass their own).
    """

    __slots__ = (
        "_call_id",
        "_clock",
        "_dropped",
        "_last_refill",
        "_last_report",
        "_lock",
        "_minimum",
        "_per_second",
        "_principal",
        "_request_id",
        "_sink",
        "_tokens",
        "_tool",
    )

    def __init__(
        self,
        *,
        tool: str,
        request_id: str,
        call_id: int = 0,
        principal: str = "",
        minimum: str | None = None,
        sink: LogSink | None = None,
        per_second: int = 50,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tool = tool
        self._request_id = request_id
        self._call_id = call_id
        self._principal = principal
        self._minimum = minimum
        self._sink = sink if minimum is not None else None
        self._per_second = per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(per_second)
        self._last_refill = self._last_report = clock()
        self._dropped = 0

    def write(self, level: str, message: str, data: object = None) -> None:
        """Log one entry (module docstring).

        Raises:
            ValueError: ``level`` is not one of the eight MCP levels.
        """
        if not is_log_level(level):
            raise ValueError(f"unknown log level {level!r}; use one of: {', '.join(LOG_LEVELS)}")
        try:
            self._to_worker_log(level, message, data)
        except Exception:  # noqa: BLE001  # a cycle, a failing __repr__: not the handler's problem
            self._to_worker_log(level, message, "<data not renderable>")
        if not is_at_least(level, self._minimum):
            return
        with self._lock:
            sink = self._sink
            if sink is None:  # no client sink, or the call is answered
                return
            now = self._clock()
            if not self._take_token(now):
                self._dropped += 1
                return
            if now - self._last_report >= _REPORT_INTERVAL_S:
                self._report_dropped(sink, now)
            sink(level, self._tool, _client_data(message, data))

    def _to_worker_log(self, level: str, message: str, data: object) -> None:
        log.log(
            _STRUCTLOG_LEVEL[level],
            "tool.log",
            mcp_level=level,
            message=message,
            data=data,
            tool=self._tool,
            request_id=self._request_id,
            call_id=self._call_id,
            principal=self._principal,
        )

    def finish(self) -> None:
        """The call is answered: report what was dropped, and send nothing more (a sync
        handler that overran its timeout may still be writing)."""
        with self._lock:
            sink, self._sink = self._sink, None
            if sink is not None:
                self._report_dropped(sink, self._clock())

    @property
    def dropped(self) -> int:
        """Entries dropped by the rate bound and not reported yet."""
        return self._dropped

    def _take_token(self, now: float) -> bool:
        elapsed = max(0.0, now - self._last_refill)
        self._last_refill = now
        self._tokens = min(float(self._per_second), self._tokens + elapsed * self._per_second)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _report_dropped(self, sink: LogSink, now: float) -> None:
        dropped, self._dropped = self._dropped, 0
        if not dropped:
            return
        self._last_report = now
        log.warning(
            "tool.log_dropped",
            dropped=dropped,
            per_second=self._per_second,
            tool=self._tool,
            request_id=self._request_id,
            call_id=self._call_id,
        )
        if is_at_least("warning", self._minimum):
            note = f"{dropped} log messages dropped: more than {self._per_second} per second"
            sink("warning", DROPPED_LOGGER, _encoder.encode(note))


def _client_data(message: str, data: object) -> bytes:
    """The entry's ``data`` for the client: the message alone, or ``{"message", "data"}``;
    bounded by :data:`MAX_CLIENT_DATA_BYTES`."""
    payload: object = message if data is None else {"message": message, "data": data}
    try:
        encoded = _encoder.encode(payload)
    except Exception as exc:  # noqa: BLE001  # a cycle, a failing __repr__: never the handler's problem
        return _encoder.encode(f"{str(message)[:_CUT_MESSAGE_CHARS]} [log data not sent: {exc}]")
    if len(encoded) <= MAX_CLIENT_DATA_BYTES:
        return encoded
    return _encoder.encode(
        f"{str(message)[:_CUT_MESSAGE_CHARS]} [log data of {len(encoded)} bytes not sent: over "
        f"the {MAX_CLIENT_DATA_BYTES}-byte bound]"
    )
