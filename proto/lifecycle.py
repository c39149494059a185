"""Lifecycle messages: ``initialize`` (handshake era), ``server/discover`` (2026-07-28), and
the 2026-07-28 per-request ``_meta`` envelope (mcp-protocol.md sections 6-7)."""

from __future__ import annotations

from typing import Final, Literal, get_args

import msgspec
from msgspec import UNSET, UnsetType

from proto.errors import InvalidParamsError, UnsupportedVersionError
from proto.mcp_struct import JsonObject, McpStruct
from proto.versions import (
    ALL_VERSIONS,
    MODERN_VERSIONS,
    supports_implementation_details,
    supports_titles,
)

__all__ = [
    "MODERN_VERSION_KEY",
    "CancelledParams",
    "CompletionsCapability",
    "DiscoverResult",
    "Implementation",
    "InitializeParams",
    "InitializeResult",
    "LogLevel",
    "ModernMeta",
    "ModernParams",
    "PromptsCapability",
    "ResourcesCapability",
    "ResultMeta",
    "ServerCapabilities",
    "ToolsCapability",
    "implementation_for_version",
    "mirrored_field",
    "mirrored_name",
    "require_envelope",
    "require_served_version",
    "unsupported_version_error",
]

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
"""RFC 5424 levels, ascending severity (mcp-protocol.md 9.4)."""

LOG_LEVELS: Final[tuple[str, ...]] = get_args(LogLevel)

MODERN_VERSION_KEY: Final = "io.modelcontextprotocol/protocolVersion"
"""The envelope key naming a 2026-07-28 request's version; its presence marks the modern era
on stdio (mcp-protocol.md 3)."""


class CancelledParams(McpStruct, frozen=True):
    """``notifications/cancelled`` params (mcp-protocol.md 9.2); the id keeps its JSON type."""

    request_id: int | str
    reason: str | UnsetType = UNSET


class Implementation(McpStruct, frozen=True):
    """``clientInfo``/``serverInfo``: ``name`` and ``version`` are required; ``title`` exists
    from 2025-06-18, ``description``, ``icons`` and ``websiteUrl`` from 2025-11-25
    (:func:`implementation_for_version`)."""

    name: str
    version: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    # Plain objects, not ``Icon``: clients' identities are decoded with this Struct on every
    # request, and a display-only field must not fail one. Ours are checked as ``Icon``
    # when the app is declared (``workers.Toolset``).
    icons: list[JsonObject] | UnsetType = UNSET
    website_url: str | UnsetType = UNSET


def implementation_for_version(info: Implementation, version: str) -> Implementation:
    """``info`` with only the fields ``version`` defines (checklist 45): ``name`` and
    ``version`` at 2025-03-26, ``title`` from 2025-06-18, the rest from 2025-11-25."""
    if supports_implementation_details(version):
        return info
    shaped = msgspec.structs.replace(info, description=UNSET, icons=UNSET, website_url=UNSET)
    if not supports_titles(version):
        shaped = msgspec.structs.replace(shaped, title=UNSET)
    return shaped


class InitializeParams(McpStruct, frozen=True):
    """``initialize`` params (handshake era): the client's version, capabilities, identity."""

    protocol_version: str
    capabilities: JsonObject = msgspec.field(default_factory=dict)
    client_info: Implementation | UnsetType = UNSET


class ToolsCapability(McpStruct, frozen=True):
    """The server's ``tools`` capability."""

    list_changed: bool = False


class ResourcesCapability(McpStruct, frozen=True):
    """``resources``: whether ``resources/subscribe`` works and list changes are sent."""

    subscribe: bool | UnsetType = UNSET
    list_changed: bool | UnsetType = UNSET


class PromptsCapability(McpStruct, frozen=True):
    """``prompts``: whether list changes are sent."""

    list_changed: bool | UnsetType = UNSET


class CompletionsCapability(McpStruct, frozen=True):
    """``completions``: an empty object when ``completion/complete`` is served."""


class ServerCapabilities(McpStruct, frozen=True):
    """Capabilities the server advertises (only what it implements, checklist 13)."""

    tools: ToolsCapability | UnsetType = UNSET
    resources: ResourcesCapability | UnsetType = UNSET
    prompts: PromptsCapability | UnsetType = UNSET
    completions: CompletionsCapability | UnsetType = UNSET
    extensions: JsonObject | UnsetType = UNSET
    """2026-07-28 ``server/discover``: the extensions served (the tasks extension)."""
    logging: JsonObject | UnsetType = UNSET
    """``{}`` when the server sends ``notifications/message`` (mcp-protocol.md 9.4)."""
    tasks: JsonObject | UnsetType = UNSET
    """2025-11-25 ``initialize`` only: the experimental core tasks (mcp-protocol.md 10.1)."""


class InitializeResult(McpStruct, frozen=True):
    """``initialize`` result: the negotiated version, capabilities and server identity."""

    protocol_version: str
    capabilities: ServerCapabilities
    server_info: Implementation
    instructions: str | UnsetType = UNSET


class ResultMeta(McpStruct, frozen=True):
    """``_meta`` stamped on every 2026-07-28 result (mcp-protocol.md 7.3)."""

    server_info: Implementation = msgspec.field(name="io.modelcontextprotocol/serverInfo")


class DiscoverResult(McpStruct, frozen=True):
    """``server/discover`` result; ``ttlMs``/``cacheScope`` are required (checklist 23).

    ``result_type`` has no default on purpose: ``omit_defaults`` would drop it.
    """

    result_type: Literal["complete"]
    supported_versions: list[str]
    capabilities: ServerCapabilities
    ttl_ms: int
    cache_scope: Literal["public", "private"]
    meta: ResultMeta = msgspec.field(name="_meta")
    instructions: str | UnsetType = UNSET


class ModernMeta(msgspec.Struct, frozen=True):
    """The 2026-07-28 request envelope in ``params._meta`` (mcp-protocol.md 7.1)."""

    protocol_version: str | UnsetType = msgspec.field(default=UNSET, name=MODERN_VERSION_KEY)
    client_capabilities: JsonObject | UnsetType = msgspec.field(
        default=UNSET, name="io.modelcontextprotocol/clientCapabilities"
    )
    client_info: Implementation | UnsetType = msgspec.field(
        default=UNSET, name="io.modelcontextprotocol/clientInfo"
    )
    log_level: LogLevel | UnsetType = msgspec.field(
        default=UNSET, name="io.modelcontextprotocol/logLevel"
    )
    progress_token: int | str | UnsetType = msgspec.field(default=UNSET, name="progressToken")


class ModernParams(msgspec.Struct, frozen=True):
    """What the 2026-07-28 validation ladder reads before dispatch: the envelope and the
    values ``Mcp-Name`` may mirror (:func:`mirrored_name`); other fields are skipped."""

    meta: ModernMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")
    name: str | UnsetType = UNSET
    uri: str | UnsetType = UNSET
    task_id: str | UnsetType = msgspec.field(default=UNSET, name="taskId")


_MCP_NAME_FIELDS: Final = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    # The tasks extension's methods carry the task id (mcp-protocol.md 10.2).
    "tasks/get": "task_id",
    "tasks/update": "task_id",
    "tasks/cancel": "task_id",
}
_WIRE_NAMES: Final = {"name": "params.name", "uri": "params.uri", "task_id": "params.taskId"}


def mirrored_name(method: str, params: ModernParams) -> str | UnsetType | None:
    """The body value ``Mcp-Name`` must equal for ``method`` (mcp-protocol.md 5.2): the
    ``name`` of tools/call and prompts/get, the ``uri`` of resources/read, the ``taskId`` of
    the tasks extension's methods; ``UNSET`` when the body lacks it; None for methods that
    carry no ``Mcp-Name``."""
    field = _MCP_NAME_FIELDS.get(method)
    if field is None:
        return None
    value: str | UnsetType = getattr(params, field)
    return value


def mirrored_field(method: str) -> str | None:
    """Where in the body ``Mcp-Name`` is mirrored from for ``method`` (``params.name``,
    ``params.uri``, ``params.taskId``), for error messages; None when it carries none."""
    field = _MCP_NAME_FIELDS.get(method)
    return None if field is None else _WIRE_NAMES[field]


def require_envelope(params: ModernParams) -> tuple[str, ModernMeta]:
    """Check a 2026-07-28 request carries the required envelope keys (checklist 24).

    Returns:
        The declared protocol version and the envelope.

    Raises:
        InvalidParamsError: ``_meta`` or one of its required keys is missing (-32602, 400).
    """
    meta = params.meta
    if isinstance(meta, UnsetType):
        raise InvalidParamsError("params._meta is required at protocol version 2026-07-28")
    if isinstance(meta.protocol_version, UnsetType):
        raise InvalidParamsError(
            'params._meta is missing "io.modelcontextprotocol/protocolVersion"'
        )
    if isinstance(meta.client_capabilities, UnsetType):
        raise InvalidParamsError(
            'params._meta is missing "io.modelcontextprotocol/clientCapabilities"'
        )
    return meta.protocol_version, meta


def require_served_version(version: str) -> None:
    """The last rung of the 2026-07-28 ladder, in every transport: the envelope's version
    must be a modern one we serve (checklist 25).

    Raises:
        UnsupportedVersionError: it is not (-32022, ``data`` lists every served version).
    """
    if version not in MODERN_VERSIONS:
        raise unsupported_version_error(version)


def unsupported_version_error(
    requested: str,
    *,
    supported: tuple[str, ...] = ALL_VERSIONS,
    reason: str | None = None,
) -> UnsupportedVersionError:
    """-32022 for ``requested``, with ``data: {supported, requested}`` (mcp-protocol.md 2.4).

    Args:
        requested: the version the client asked for.
        supported: the versions offered instead (default: every version served).
        reason: replaces the default message.
    """
    return UnsupportedVersionError(
        reason or f"Unsupported protocol version: {requested!r}",
        {"supported": list(supported), "requested": requested},
    )
