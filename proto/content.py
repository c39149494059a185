"""Content blocks (what a tool result, and later a prompt, carries) and icons, with what each
protocol revision defines of them (mcp-protocol.md 8.1, 8.2).

Revisions differ: ``resource_link`` blocks exist from 2025-06-18 and icons from 2025-11-25
(checklist 45: send only version-appropriate fields). :func:`content_for_version` shapes a
list of blocks for one revision; the common case (no link, no icon) costs one type check
per block and returns the list unchanged.

The Structs are built by the server and only ever encoded: ``EmbeddedResource.resource`` is
an untagged union of two Structs, which msgspec encodes but cannot decode.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from proto.mcp_struct import McpStruct
from proto.versions import supports_icons, supports_resource_links

__all__ = [
    "AudioContent",
    "BlobResourceContents",
    "ContentBlock",
    "EmbeddedResource",
    "Icon",
    "ImageContent",
    "ResourceLink",
    "TextContent",
    "TextResourceContents",
    "content_for_version",
]


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


class ImageContent(McpStruct, frozen=True, tag_field="type", tag="image"):
    """An image content block: base64 ``data`` and its ``mime_type`` (``image/png``)."""

    data: str
    mime_type: str


class AudioContent(McpStruct, frozen=True, tag_field="type", tag="audio"):
    """An audio content block: base64 ``data`` and its ``mime_type`` (``audio/wav``)."""

    data: str
    mime_type: str


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
    """

    uri: str
    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    mime_type: str | UnsetType = UNSET
    size: int | UnsetType = UNSET
    icons: list[Icon] | UnsetType = UNSET


ContentBlock = TextContent | ImageContent | AudioContent | EmbeddedResource | ResourceLink
"""Every content block a result may carry."""


def content_for_version(blocks: list[ContentBlock], version: str) -> list[ContentBlock]:
    """``blocks`` as protocol ``version`` defines them: a resource link becomes a text block
    naming it before 2025-06-18 (which has no links), and loses its icons before 2025-11-25.
    Returns ``blocks`` itself when nothing changes."""
    if not any(type(block) is ResourceLink for block in blocks):
        return blocks
    links_ok = supports_resource_links(version)
    icons_ok = supports_icons(version)
    shaped: list[ContentBlock] = []
    for block in blocks:
        if type(block) is not ResourceLink:
            shaped.append(block)
        elif not links_ok:
            shaped.append(TextContent(text=_link_as_text(block)))
        elif not icons_ok and not isinstance(block.icons, UnsetType):
            shaped.append(msgspec.structs.replace(block, icons=UNSET))
        else:
            shaped.append(block)
    return shaped


def _link_as_text(link: ResourceLink) -> str:
    label = link.name if isinstance(link.title, UnsetType) else link.title
    return f"Resource link: {label} <{link.uri}>"
