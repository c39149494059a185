"""``tools/list`` and ``tools/call`` messages (mcp-protocol.md section 8).

Eras that differ get separate Structs (``…2025``/``…2026``). Tool input schemas travel as
``Raw`` JSON built once at start-up, and call arguments as ``Raw`` so the front forwards them
to a worker byte for byte.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from proto.content import ContentBlock, Icon, content_for_version
from proto.lifecycle import ModernMeta, ResultMeta
from proto.mcp_struct import JsonObject, McpStruct
from proto.versions import MODERN_VERSIONS

__all__ = [
    "STRUCTURED_RESULT_KEY",
    "CallToolParams2025",
    "CallToolParams2026",
    "CallToolResult",
    "LegacyMeta",
    "ListToolsParams",
    "ListToolsResult",
    "ProgressParams",
    "Tool",
    "ToolAnnotations",
    "ToolExecution",
    "build_call_result",
    "tool_name_problem",
]


class ToolAnnotations(McpStruct, frozen=True):
    """Behaviour hints (untrusted unless the server is): all optional."""

    title: str | UnsetType = UNSET
    read_only_hint: bool | UnsetType = UNSET
    destructive_hint: bool | UnsetType = UNSET
    idempotent_hint: bool | UnsetType = UNSET
    open_world_hint: bool | UnsetType = UNSET


class ToolExecution(McpStruct, frozen=True):
    """A 2025-11-25 tool's ``execution``: whether a call may be task-augmented
    (mcp-protocol.md 10.1; absent means ``"forbidden"``)."""

    task_support: str
    """``"forbidden"``, ``"optional"`` or ``"required"`` (``proto.TaskSupport``)."""


class Tool(McpStruct, frozen=True):
    """One entry of a ``tools/list`` result (``icons`` from 2025-11-25, ``title`` and
    ``outputSchema`` from 2025-06-18)."""

    name: str
    input_schema: msgspec.Raw
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    icons: list[Icon] | UnsetType = UNSET
    output_schema: msgspec.Raw | UnsetType = UNSET
    annotations: ToolAnnotations | UnsetType = UNSET
    execution: ToolExecution | UnsetType = UNSET
    """2025-11-25 only (the tasks extension of 2026-07-28 has no per-tool setting)."""


STRUCTURED_RESULT_KEY: Final = "result"
"""Where a structured result that is not a JSON object goes for revisions that require an
object (2025-06-18, 2025-11-25): ``structuredContent`` is ``{"result": value}`` and the
``outputSchema`` an object with that one required property (as the official SDK does)."""


class ListToolsParams(McpStruct, frozen=True):
    """``tools/list`` params: an optional pagination cursor."""

    cursor: str | UnsetType = UNSET


class ListToolsResult(McpStruct, frozen=True):
    """``tools/list`` result; the ``resultType``/cache fields are set only for 2026-07-28."""

    tools: list[Tool]
    next_cursor: str | UnsetType = UNSET
    result_type: Literal["complete"] | UnsetType = UNSET
    ttl_ms: int | UnsetType = UNSET
    cache_scope: Literal["public", "private"] | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class LegacyMeta(msgspec.Struct, frozen=True):
    """Handshake-era request ``_meta``: only the progress token matters to us."""

    progress_token: int | str | UnsetType = msgspec.field(default=UNSET, name="progressToken")


class CallToolParams2025(McpStruct, frozen=True):
    """``tools/call`` params in the handshake era (``task`` is 2025-11-25 task augmentation)."""

    name: str
    arguments: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    meta: LegacyMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")
    task: JsonObject | UnsetType = UNSET


class CallToolParams2026(McpStruct, frozen=True):
    """``tools/call`` params at 2026-07-28, with the required ``_meta`` envelope."""

    name: str
    arguments: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    meta: ModernMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ProgressParams(McpStruct, frozen=True):
    """``notifications/progress`` params (mcp-protocol.md 9.1)."""

    progress_token: int | str
    progress: float
    total: float | UnsetType = UNSET
    message: str | UnsetType = UNSET


class CallToolResult(McpStruct, frozen=True):
    """What a tool call returns; ``is_error`` is always written (SDK peers expect it)."""

    content: list[ContentBlock]
    is_error: bool
    structured_content: msgspec.Raw | UnsetType = UNSET
    result_type: Literal["complete"] | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


_TOOL_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def tool_name_problem(name: str) -> str | None:
    """Why ``name`` breaks the 2025-11-25 tool-name rules (1-128 chars of ``A-Za-z0-9_-.``),
    or ``None`` when it is valid."""
    if not 1 <= len(name) <= 128:
        return f"tool name {name!r} must be 1 to 128 characters long"
    bad = sorted(set(name) - _TOOL_NAME_CHARS)
    if bad:
        return f"tool name {name!r} has characters outside A-Z a-z 0-9 _ - .: {''.join(bad)!r}"
    return None


def build_call_result(
    content: list[ContentBlock],
    *,
    is_error: bool,
    structured: bytes | None,
    version: str,
    meta: ResultMeta,
) -> CallToolResult:
    """A ``CallToolResult`` shaped for ``version``: only the content blocks it defines
    (:func:`~proto.content.content_for_version`); 2026-07-28 adds ``resultType`` and the
    ``serverInfo`` stamp (checklist 26, mcp-protocol.md 7.3), handshake revisions get
    neither. ``structured`` is the encoded ``structuredContent``, already shaped for
    ``version``."""
    modern = version in MODERN_VERSIONS
    return CallToolResult(
        content=content_for_version(content, version),
        is_error=is_error,
        structured_content=msgspec.Raw(structured) if structured else UNSET,
        result_type="complete" if modern else UNSET,
        meta=meta if modern else UNSET,
    )
