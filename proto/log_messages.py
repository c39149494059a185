"""Logging to the client (mcp-protocol.md 9.4): ``logging/setLevel`` (handshake era),
``notifications/message``, and the order of the eight RFC 5424 levels.

Both eras filter by a minimum level: in the handshake era the one the session (or stdio
connection) set with ``logging/setLevel``, at 2026-07-28 the request's own
``_meta["io.modelcontextprotocol/logLevel"]``. ``None`` stands for "send nothing".
"""

from __future__ import annotations

from typing import Final, TypeGuard

import msgspec
from msgspec import UNSET, UnsetType

from proto.errors import InvalidParamsError
from proto.jsonrpc import encode_notification
from proto.lifecycle import LOG_LEVELS, LogLevel
from proto.mcp_struct import McpStruct
from proto.methods import NOTIFICATION_MESSAGE
from proto.wire import LogMessage

__all__ = [
    "LoggingMessageParams",
    "SetLevelParams",
    "encode_log_notification",
    "is_at_least",
    "is_log_level",
    "log_notification",
    "require_log_level",
]

_SEVERITY: Final = {level: rank for rank, level in enumerate(LOG_LEVELS)}
_encoder: Final = msgspec.json.Encoder()


class SetLevelParams(McpStruct, frozen=True):
    """``logging/setLevel`` params. ``level`` is any string here, so an unknown one gets a
    -32602 that lists the valid levels (:func:`require_log_level`)."""

    level: str


class LoggingMessageParams(McpStruct, frozen=True, kw_only=True):
    """``notifications/message`` params; ``data`` is any JSON, already encoded."""

    level: str
    logger: str | UnsetType = UNSET
    data: msgspec.Raw


def is_log_level(value: object) -> TypeGuard[LogLevel]:
    """True for one of the eight level names."""
    return isinstance(value, str) and value in _SEVERITY


def require_log_level(value: str) -> LogLevel:
    """``value`` as a level.

    Raises:
        InvalidParamsError: it names no level (-32602, mcp-protocol.md 9.4).
    """
    if not is_log_level(value):
        raise InvalidParamsError(
            f"Invalid log level {value!r}; expected one of: {', '.join(LOG_LEVELS)}",
            {"level": value, "levels": list(LOG_LEVELS)},
        )
    return value


def is_at_least(level: str, minimum: str | None) -> bool:
    """Whether a message at ``level`` goes to a client asking for ``minimum`` and above
    (``None``: nothing goes). An unknown ``level`` never goes."""
    if minimum is None:
        return False
    rank = _SEVERITY.get(level)
    return rank is not None and rank >= _SEVERITY.get(minimum, len(_SEVERITY))


def encode_log_notification(level: str, logger: str | None, data: bytes | msgspec.Raw) -> bytes:
    """A ``notifications/message`` with already-encoded ``data``."""
    raw = data if isinstance(data, msgspec.Raw) else msgspec.Raw(data)
    params = LoggingMessageParams(level=level, logger=UNSET if logger is None else logger, data=raw)
    return encode_notification(NOTIFICATION_MESSAGE, _encoder.encode(params))


def log_notification(message: LogMessage, minimum: str | None) -> bytes | None:
    """A worker's log entry as the ``notifications/message`` a client asking for
    ``minimum`` and above gets, or None when it gets none (the worker filtered already;
    this is the front's own check, which a worker of another version cannot skip)."""
    if not is_at_least(message.level, minimum):
        return None
    return encode_log_notification(message.level, message.logger, message.data)
