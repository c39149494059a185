"""Content blocks (what a tool result or a prompt message carries), their annotations and
icons, with what each protocol revision defines of them (mcp-protocol.md 8.1, 8.2).

Revisions differ: ``resource_link`` blocks exist from 2025-06-18, icons from 2025-11-25, and
``lastModified`` in annotations from 2025-06-18 (``audience`` and ``priority`` since
2025-03-26) (checklist 45: send only version-appropriate fields). :func:`content_for_version`
shapes a list of blocks for one revision; the common case (no link; no dated annotation, or a
revision that has ``lastModified``) costs one type check per block and returns the list
unchanged.

The Structs are built by the server and only ever encoded: ``EmbeddedResource.resource`` is
an untagged union of two Structs, which msgspec encodes but cannot decode.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from proto.mcp_struct import McpStruct
from proto.versions import supports_icons, supports_last_modified, supports_resource_links

__all__ = [
    "Annotations",
    "AudioContent",
    "BlobResourceContents",
    "ContentBlock",
    "EmbeddedResource",
    "Icon",
    "ImageContent",
    "ResourceLink",
    "TextContent",
    "TextResourceContents",
    "annotations_for_version",
    "content_for_version",
]

Role = Literal["user", "assistant"]
"""Who a message is from, or whom content is for (``Annotations.audience``)."""


class Annotations(McpStruct, frozen=True):
    """Hints for the client about a content block or a listed resource (every revision we
    serve; ``lastModified`` from 2025-06-18 on). Built from the checked author helper
    (``workers.Annotations``), so not validated again here.

    Args:
        audience: whom it is for (``["user"]``, ``["assistant"]`` or both).
        priority: how important it is, from 0 (entirely optional) to 1 (effectively
            required).
        last_modified: when it last changed, ISO 8601 (``"2025-01-12T15:00:58Z"``).
    """

    audience: list[Role] | UnsetType = UNSET
    priority: float | UnsetType = UNSET
    last_modified: str | UnsetType = UNSET


def annotations_for_version(
    annotations: Annotations | UnsetType, version: str
) -> Annotations | UnsetType:
    """``annotations`` as ``version`` defines them: without ``lastModified`` before
    2025-06-18, and absent when nothing is left."""
    if isinstance(annotations, UnsetType) or supports_last_modified(version):
        return annotations
    if isinstance(annotations.last_modified, UnsetType):
        return annotations
    if isinstance(annotations.audience, UnsetType) and isinstance(annotations.priority, UnsetType):
        return UNSET
    return msgspec.structs.replace(annotations, last_modified=UNSET)


class Icon(McpStruct, frozen=True):
    """An icon a client may show for a tool or resource (2025-11-25 and later).

    Args:
        src: an ``https:`` URL or a ``data:`` URI with base64 image data.
        mime_type: overrides a missing or generic type of ``src`` (``image/png``).
        sizes: sizes it suits, ``"48x48"`` or ``"any"`` (for SVG).
        theme: the background it is drawn for.
    """

    src: str
    mime_type: str | UnsetType = UNSET
    sizes: list[str] | UnsetType = UNSET
    theme: Literal["light", "dark"] | UnsetType = UNSET


class TextContent(McpStruct, frozen=True, tag_field="type", tag="text"):
    """A text content block; return one (or a list) from a tool to control the content."""

    text: str
    annotations: Annotations | UnsetType = UNSET


class ImageContent(McpStruct, frozen=True, tag_field="type", tag="image"):
    """An image content block: base64 ``data`` and its ``mime_type`` (``image/png``)."""

    data: str
    mime_type: str
    annotations: Annotations | UnsetType = UNSET


class AudioContent(McpStruct, frozen=True, tag_field="type", tag="audio"):
    """An audio content block: base64 ``data`` and its ``mime_type`` (``audio/wav``)."""

    data: str
    mime_type: str
    annotations: Annotations | UnsetType = UNSET


class TextResourceContents(McpStruct, frozen=True):
    """A resource's text, as embedded in a result."""

    uri: str
    text: str
    mime_type: str | UnsetType = UNSET


class BlobResourceContents(McpStruct, frozen=True):
    """A resource's bytes (base64 ``blob``), as embedded in a result."""

    uri: str
    blob: str
    mime_type: str | UnsetType = UNSET


class EmbeddedResource(McpStruct, frozen=True, tag_field="type", tag="resource"):
    """A resource's contents carried inside the result (every revision we serve)."""

    resource: TextResourceContents | BlobResourceContents
    annotations: Annotations | UnsetType = UNSET


class ResourceLink(McpStruct, frozen=True, tag_field="type", tag="resource_link"):
    """A pointer to a resource the client may read or fetch (2025-06-18 and later).

    Args:
        uri: where the resource is.
        name: its programmatic name (the display name when ``title`` is absent).
        title: its display name.
        description: what it is, for the model.
        mime_type: its type, if known.
        size: its size in bytes before any encoding, if known.
        icons: icons for it (sent from 2025-11-25 on).
        annotations: hints for the client (``lastModified`` sent from 2025-06-18 on).
    """

    uri: str
    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    mime_type: str | UnsetType = UNSET
    size: int | UnsetType = UNSET
    icons: list[Icon] | UnsetType = UNSET
    annotations: Annotations | UnsetType = UNSET


ContentBlock = TextContent | ImageContent | AudioContent | EmbeddedResource | ResourceLink
"""Every content block a result may carry."""


def content_for_version(blocks: list[ContentBlock], version: str) -> list[ContentBlock]:
    """``blocks`` as protocol ``version`` defines them: a resource link becomes a text block
    naming it before 2025-06-18 (which has no links), and loses its icons before 2025-11-25;
    annotations lose ``lastModified`` before 2025-06-18. Returns ``blocks`` itself when
    nothing changes."""
    dated = not supports_last_modified(version) and any(_is_dated(b) for b in blocks)
    if not dated and not any(type(block) is ResourceLink for block in blocks):
        return blocks
    links_ok = supports_resource_links(version)
    icons_ok = supports_icons(version)
    shaped: list[ContentBlock] = []
    for original in blocks:
        block = original
        if dated and _is_dated(block):
            block = msgspec.structs.replace(
                block, annotations=annotations_for_version(block.annotations, version)
            )
        if type(block) is not ResourceLink:
            shaped.append(block)
        elif not links_ok:
            shaped.append(TextContent(text=_link_as_text(block), annotations=block.annotations))
        elif not icons_ok and not isinstance(block.icons, UnsetType):
            shaped.append(msgspec.structs.replace(block, icons=UNSET))
        else:
            shaped.append(block)
    return shaped


def _is_dated(block: ContentBlock) -> bool:
    annotations = block.annotations
    return not isinstance(annotations, UnsetType) and not isinstance(
        annotations.last_modified, UnsetType
    )


def _link_as_text(link: ResourceLink) -> str:
    label = link.name if isinstance(link.title, UnsetType) else link.title
    return f"Resource link: {label} <{link.uri}>"
