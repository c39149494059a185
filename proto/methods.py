"""JSON-RPC method names of both eras, each spelled once (mcp-protocol.md section 1)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "INITIALIZE",
    "LOGGING_SET_LEVEL",
    "NOTIFICATION_CANCELLED",
    "NOTIFICATION_INITIALIZED",
    "NOTIFICATION_MESSAGE",
    "NOTIFICATION_PROGRESS",
    "NOTIFICATION_SUBSCRIPTIONS_ACKNOWLEDGED",
    "NOTIFICATION_TOOLS_LIST_CHANGED",
    "PING",
    "SERVER_DISCOVER",
    "SUBSCRIPTIONS_LISTEN",
    "TOOLS_CALL",
    "TOOLS_LIST",
]

INITIALIZE: Final = "initialize"
PING: Final = "ping"
SERVER_DISCOVER: Final = "server/discover"
SUBSCRIPTIONS_LISTEN: Final = "subscriptions/listen"
TOOLS_LIST: Final = "tools/list"
TOOLS_CALL: Final = "tools/call"
LOGGING_SET_LEVEL: Final = "logging/setLevel"
NOTIFICATION_INITIALIZED: Final = "notifications/initialized"
NOTIFICATION_CANCELLED: Final = "notifications/cancelled"
NOTIFICATION_PROGRESS: Final = "notifications/progress"
NOTIFICATION_MESSAGE: Final = "notifications/message"
NOTIFICATION_SUBSCRIPTIONS_ACKNOWLEDGED: Final = "notifications/subscriptions/acknowledged"
NOTIFICATION_TOOLS_LIST_CHANGED: Final = "notifications/tools/list_changed"
