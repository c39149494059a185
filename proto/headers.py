"""HTTP header names of both eras and the 2026-07-28 value encoding (mcp-protocol.md 5.2-5.3).

Names are lower-case bytes, the form ASGI servers hand us; compare values case-sensitively.
"""

from __future__ import annotations

import base64
from typing import Final

__all__ = [
    "MCP_METHOD",
    "MCP_NAME",
    "MCP_PARAM_PREFIX",
    "MCP_PROTOCOL_VERSION",
    "MCP_SESSION_ID",
    "decode_header_value",
]

MCP_PROTOCOL_VERSION: Final = b"mcp-protocol-version"
MCP_SESSION_ID: Final = b"mcp-session-id"
MCP_METHOD: Final = b"mcp-method"
MCP_NAME: Final = b"mcp-name"
MCP_PARAM_PREFIX: Final = b"mcp-param-"

_SENTINEL_OPEN: Final = "=?base64?"
_SENTINEL_CLOSE: Final = "?="
_SENTINEL_MIN_LEN: Final = len(_SENTINEL_OPEN) + len(_SENTINEL_CLOSE)


def decode_header_value(raw: str) -> str | None:
    """Decode an ``Mcp-Name``/``Mcp-Param-*`` value; ``None`` when the sentinel is malformed.

    Surrounding whitespace is tolerated (conformance); ``=?base64?…?=`` wraps UTF-8 bytes.
    """
    value = raw.strip(" \t")
    if not (value.startswith(_SENTINEL_OPEN) and value.endswith(_SENTINEL_CLOSE)):
        return value  # without the whole wrapper a value is literal
    if len(value) < _SENTINEL_MIN_LEN:
        return None  # "=?base64?=": the markers overlap, so it is malformed
    payload = value[len(_SENTINEL_OPEN) : -len(_SENTINEL_CLOSE)]
    try:
        raw_bytes = base64.b64decode(payload, validate=True)
        if base64.b64encode(raw_bytes).decode("ascii") != payload:
            return None  # non-canonical (stray bits in the padding): no encoder sends it
        return raw_bytes.decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError and non-ASCII input alike
        return None
