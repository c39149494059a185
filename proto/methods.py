"""JSON-RPC method names of both eras, each spelled once (mcp-protocol.md section 1)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "CALL_LANE_METHODS",
    "COMPLETION_COMPLETE",
    "ELICITATION_CREATE",
    "INITIALIZE",
    "INPUT_REQUEST_METHODS",
    "LOGGING_SET_LEVEL",
    "NOTIFICATION_CANCELLED",
    "NOTIFICATION_INITIALIZED",
    "NOTIFICATION_MESSAGE",
    "NOTIFICATION_PROGRESS",
    "NOTIFICATION_PROMPTS_LIST_CHANGED",
    "NOTIFICATION_RESOURCES_LIST_CHANGED",
    "NOTIFICATION_RESOURCES_UPDATED",
    "NOTIFICATION_SUBSCRIPTIONS_ACKNOWLEDGED",
    "NOTIFICATION_TASKS_STATUS",
    "NOTIFICATION_TOOLS_LIST_CHANGED",
    "PING",
    "PROMPTS_GET",
    "PROMPTS_LIST",
    "RESOURCES_LIST",
    "RESOURCES_READ",
    "RESOURCES_SUBSCRIBE",
    "RESOURCES_TEMPLATES_LIST",
    "RESOURCES_UNSUBSCRIBE",
    "ROOTS_LIST",
    "SAMPLING_CREATE_MESSAGE",
    "SERVER_DISCOVER",
    "SUBSCRIPTIONS_LISTEN",
    "TASKS_CANCEL",
    "TASKS_GET",
    "TASKS_LIST",
    "TASKS_RESULT",
    "TASKS_UPDATE",
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
RESOURCES_LIST: Final = "resources/list"
RESOURCES_TEMPLATES_LIST: Final = "resources/templates/list"
RESOURCES_READ: Final = "resources/read"
RESOURCES_SUBSCRIBE: Final = "resources/subscribe"
RESOURCES_UNSUBSCRIBE: Final = "resources/unsubscribe"
PROMPTS_LIST: Final = "prompts/list"
PROMPTS_GET: Final = "prompts/get"
COMPLETION_COMPLETE: Final = "completion/complete"
NOTIFICATION_RESOURCES_UPDATED: Final = "notifications/resources/updated"
NOTIFICATION_TASKS_STATUS: Final = "notifications/tasks/status"
"""2025-11-25 only: a task's status changed (params: the Task, flat)."""
NOTIFICATION_RESOURCES_LIST_CHANGED: Final = "notifications/resources/list_changed"
NOTIFICATION_PROMPTS_LIST_CHANGED: Final = "notifications/prompts/list_changed"
# Durable tasks (mcp-protocol.md 10): get and cancel in both protocols; result and list at
# 2025-11-25 only; update at 2026-07-28 only.
TASKS_GET: Final = "tasks/get"
TASKS_RESULT: Final = "tasks/result"
TASKS_LIST: Final = "tasks/list"
TASKS_CANCEL: Final = "tasks/cancel"
TASKS_UPDATE: Final = "tasks/update"

CALL_LANE_METHODS: Final = frozenset({TOOLS_CALL, RESOURCES_READ, PROMPTS_GET, COMPLETION_COMPLETE})
"""Methods whose answer comes from handler code on a worker, through the call lane
(ADR-0007): the only ones that may take long, stream progress and log entries, or be
cancelled while they wait."""

# Requests a server sends the client: in the handshake era as JSON-RPC requests on a stream,
# at 2026-07-28 inside an InputRequiredResult (mcp-protocol.md 7.5).
ELICITATION_CREATE: Final = "elicitation/create"
SAMPLING_CREATE_MESSAGE: Final = "sampling/createMessage"
ROOTS_LIST: Final = "roots/list"
INPUT_REQUEST_METHODS: Final = frozenset({ELICITATION_CREATE, SAMPLING_CREATE_MESSAGE, ROOTS_LIST})
