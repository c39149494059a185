"""JSON-RPC method names of both eras, each spelled once (mcp-protocol.md section 1)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "INITIALIZE",
    "NOTIFICATION_CANCELLED",
    "NOTIFICATION_INITIALIZED",
    "NOTIFICATION_PROGRESS",
    "PING",
    "SERVER_DISCOVER",
    "TOOLS_CALL",
    "TOOLS_LIST",
]

INITIALIZE: Final = "initialize"
PING: Final = "ping"
SERVER_DISCOVER: Final = "server/discover"
TOOLS_LIST: Final = "tools/list"
TOOLS_CALL: Final = "tools/call"
NOTIFICATION_INITIALIZED: Final = "notifications/initialized"
NOTIFICATION_CANCELLED: Final = "notifications/cancelled"
NOTIFICATION_PROGRESS: Final = "notifications/progress"
