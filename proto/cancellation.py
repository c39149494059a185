"""``notifications/cancelled`` (mcp-protocol.md 9.2): the client gave up on a request."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from proto.jsonrpc import RequestId
from proto.mcp_struct import McpStruct

__all__ = ["CancelledParams"]


class CancelledParams(McpStruct, frozen=True):
    """Params of ``notifications/cancelled``: the id of the request to stop (required in
    both eras on stdio), and an optional reason for the logs."""

    request_id: RequestId
    reason: str | UnsetType = UNSET
