"""``resources/*``, ``prompts/*`` and ``completion/complete`` messages (ADR-0007).

Listings are built once from the registry and served from memory, like tools; reads, prompt
gets and completions run on workers, which render these results for the call's version
(2026-07-28 adds ``resultType``, the ``_meta`` stamp and, on cacheable results, ``ttlMs`` /
``cacheScope``; handshake revisions get none of them).

Results are only ever encoded here (the front forwards the worker's bytes), so contents that
the spec distinguishes by their fields rather than a tag (text or blob) are plain unions.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from proto.content import Annotations, BlobResourceContents, ContentBlock, TextResourceContents
from proto.error_codes import RESOURCE_NOT_FOUND_LEGACY
from proto.errors import InvalidParamsError, RemoteProtocolError
from proto.lifecycle import ModernMeta, ResultMeta
from proto.mcp_struct import JsonObject, McpStruct
from proto.versions import MODERN_VERSIONS

__all__ = [
    "CompleteArgument",
    "CompleteContext",
    "CompleteParams",
    "CompleteResult",
    "Completion",
    "GetPromptParams",
    "GetPromptResult",
    "ListPromptsResult",
    "ListResourceTemplatesResult",
    "ListResourcesResult",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "PromptReference",
    "ReadResourceParams",
    "ReadResourceResult",
    "Resource",
    "ResourceContents",
    "ResourceNotFoundError",
    "ResourceTemplate",
    "ResourceTemplateReference",
    "SubscribeParams",
    "completion_key",
    "resource_not_found",
]

CacheScope = Literal["public", "private"]


# --- resources ----------------------------------------------------------------------------


class Resource(McpStruct, frozen=True):
    """One entry of ``resources/list``: a concrete URI."""

    uri: str
    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    mime_type: str | UnsetType = UNSET
    size: int | UnsetType = UNSET
    icons: list[JsonObject] | UnsetType = UNSET
    annotations: Annotations | UnsetType = UNSET


class ResourceTemplate(McpStruct, frozen=True):
    """One entry of ``resources/templates/list``: an RFC 6570 URI template."""

    uri_template: str
    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    mime_type: str | UnsetType = UNSET
    icons: list[JsonObject] | UnsetType = UNSET
    annotations: Annotations | UnsetType = UNSET


class ListResourcesResult(McpStruct, frozen=True):
    """``resources/list`` result (cache fields and ``_meta`` only at 2026-07-28)."""

    resources: list[Resource]
    next_cursor: str | UnsetType = UNSET
    result_type: Literal["complete"] | UnsetType = UNSET
    ttl_ms: int | UnsetType = UNSET
    cache_scope: CacheScope | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ListResourceTemplatesResult(McpStruct, frozen=True):
    """``resources/templates/list`` result."""

    resource_templates: list[ResourceTemplate]
    next_cursor: str | UnsetType = UNSET
    result_type: Literal["complete"] | UnsetType = UNSET
    ttl_ms: int | UnsetType = UNSET
    cache_scope: CacheScope | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ReadResourceParams(McpStruct, frozen=True):
    """``resources/read`` params, both eras (the envelope is checked before decoding)."""

    uri: str
    meta: ModernMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class SubscribeParams(McpStruct, frozen=True):
    """``resources/subscribe`` and ``resources/unsubscribe`` params (handshake era)."""

    uri: str


ResourceContents = TextResourceContents | BlobResourceContents


class ReadResourceResult(McpStruct, frozen=True):
    """``resources/read`` result."""

    contents: list[TextResourceContents | BlobResourceContents]
    result_type: Literal["complete"] | UnsetType = UNSET
    ttl_ms: int | UnsetType = UNSET
    cache_scope: CacheScope | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ResourceNotFoundError(RemoteProtocolError):
    """-32002, the handshake era's "resource not found" (retired at 2026-07-28). Handshake-era
    refusals travel in a 200 exchange; the status only matters if one is ever misrouted."""

    code = RESOURCE_NOT_FOUND_LEGACY
    http_status = 400


def resource_not_found(uri: str, version: str) -> RemoteProtocolError:
    """The error for a URI no resource or template answers: -32002 for handshake-era
    versions, -32602 with ``data.uri`` at 2026-07-28 (checklist 6)."""
    data = {"uri": uri}
    if version in MODERN_VERSIONS:
        return InvalidParamsError(f"Resource not found: {uri}", data)
    return ResourceNotFoundError(f"Resource not found: {uri}", data)


# --- prompts ------------------------------------------------------------------------------


class PromptArgument(McpStruct, frozen=True):
    """One declared argument of a prompt (values are strings on the wire)."""

    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    required: bool | UnsetType = UNSET


class Prompt(McpStruct, frozen=True):
    """One entry of ``prompts/list``."""

    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    arguments: list[PromptArgument] | UnsetType = UNSET
    icons: list[JsonObject] | UnsetType = UNSET


class ListPromptsResult(McpStruct, frozen=True):
    """``prompts/list`` result."""

    prompts: list[Prompt]
    next_cursor: str | UnsetType = UNSET
    result_type: Literal["complete"] | UnsetType = UNSET
    ttl_ms: int | UnsetType = UNSET
    cache_scope: CacheScope | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class GetPromptParams(McpStruct, frozen=True):
    """``prompts/get`` params, both eras."""

    name: str
    arguments: dict[str, str] | UnsetType = UNSET
    meta: ModernMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class PromptMessage(McpStruct, frozen=True):
    """One message of a prompt."""

    role: Literal["user", "assistant"]
    content: ContentBlock


class GetPromptResult(McpStruct, frozen=True):
    """``prompts/get`` result."""

    messages: list[PromptMessage]
    description: str | UnsetType = UNSET
    result_type: Literal["complete"] | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


# --- completions --------------------------------------------------------------------------


class PromptReference(McpStruct, frozen=True, tag_field="type", tag="ref/prompt"):
    """Completion for an argument of a prompt."""

    name: str


class ResourceTemplateReference(McpStruct, frozen=True, tag_field="type", tag="ref/resource"):
    """Completion for a variable of a resource template (``uri`` is the template)."""

    uri: str


class CompleteArgument(McpStruct, frozen=True):
    """The argument being completed and what the user typed so far."""

    name: str
    value: str


class CompleteContext(McpStruct, frozen=True):
    """Values of the other arguments, already resolved (2025-06-18+)."""

    arguments: dict[str, str] | UnsetType = UNSET


class CompleteParams(McpStruct, frozen=True):
    """``completion/complete`` params, both eras."""

    ref: PromptReference | ResourceTemplateReference
    argument: CompleteArgument
    context: CompleteContext | UnsetType = UNSET
    meta: ModernMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class Completion(McpStruct, frozen=True):
    """Up to 100 suggestions, best first."""

    values: list[str]
    total: int | UnsetType = UNSET
    has_more: bool | UnsetType = UNSET


def completion_key(kind: Literal["prompt", "resource"], target: str, argument: str) -> str:
    """How a completion provider is filed, by registration (workers) and by the front
    that looks one up for a ``completion/complete``, and the ``tool`` of its call on the
    wire: ``prompt:<name>:<argument>`` or ``resource:<template>:<argument>``."""
    return f"{kind}:{target}:{argument}"


class CompleteResult(McpStruct, frozen=True):
    """``completion/complete`` result."""

    completion: Completion
    result_type: Literal["complete"] | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")
