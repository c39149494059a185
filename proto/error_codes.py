"""JSON-RPC and MCP error codes (mcp-protocol.md section 2.4), each defined once."""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["RESOURCE_NOT_FOUND_LEGACY", "ErrorCode"]

RESOURCE_NOT_FOUND_LEGACY: Final = -32002
"""Unknown resource, for handshake-era sessions only: retired at 2026-07-28, which says
-32602 (checklist 6). Outside :class:`ErrorCode` so no 2026 path can pick it by accident."""


class ErrorCode(enum.IntEnum):
    """Codes we emit. -32002 and -32042 are deliberately absent: retired in 2026-07-28."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    HEADER_MISMATCH = -32020
    MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
    UNSUPPORTED_PROTOCOL_VERSION = -32022
    UNAUTHORIZED = -31401
    """mcpfleet's own: no valid bearer token (HTTP 401, ADR-0016). Like the limits' codes,
    outside the JSON-RPC range with the HTTP status as its last three digits."""
    FORBIDDEN = -31403
    """mcpfleet's own: the token lacks a scope the tool requires (HTTP 403, ADR-0016)."""
    RATE_LIMITED = -31429
    """mcpfleet's own: a limit on the caller refused the request (HTTP 429): its rate,
    its tool's rate, the fleet's rate, or its unfinished tasks (ADR-0017). Outside the
    JSON-RPC range, as the 2026-07-28 allocation policy asks of application errors
    (mcp-protocol.md 2.4); the last three digits are the HTTP status."""
    OVERLOADED = -31503
    """mcpfleet's own: the lane the request needs is full (HTTP 503, ADR-0017)."""
