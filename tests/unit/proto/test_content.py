"""Content blocks: their wire shapes and what each revision gets of them."""

from __future__ import annotations

import json

import msgspec
import pytest

from proto import (
    BlobResourceContents,
    ContentBlock,
    EmbeddedResource,
    Icon,
    ImageContent,
    Implementation,
    ResourceLink,
    ResultMeta,
    TextContent,
    TextResourceContents,
    build_call_result,
    content_for_version,
)

ICON = Icon(src="https://example.com/i.png", mime_type="image/png", sizes=["48x48"], theme="dark")
LINK = ResourceLink(
    uri="file:///srv/report.md",
    name="report.md",
    title="The report",
    description="Monthly report",
    mime_type="text/markdown",
    size=1234,
    icons=[ICON],
)


def _json(value: object) -> object:
    return json.loads(msgspec.json.encode(value))


def test_block_encodings() -> None:
    blocks: list[ContentBlock] = [
        EmbeddedResource(
            resource=TextResourceContents(uri="test://a", text="hello", mime_type="text/plain")
        ),
        EmbeddedResource(resource=BlobResourceContents(uri="test://b", blob="AAE=")),
        LINK,
    ]
    assert _json(blocks) == [
        {
            "type": "resource",
            "resource": {"uri": "test://a", "text": "hello", "mimeType": "text/plain"},
        },
        {"type": "resource", "resource": {"uri": "test://b", "blob": "AAE="}},
        {
            "type": "resource_link",
            "uri": "file:///srv/report.md",
            "name": "report.md",
            "title": "The report",
            "description": "Monthly report",
            "mimeType": "text/markdown",
            "size": 1234,
            "icons": [
                {
                    "src": "https://example.com/i.png",
                    "mimeType": "image/png",
                    "sizes": ["48x48"],
                    "theme": "dark",
                }
            ],
        },
    ]


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"])
def test_blocks_without_links_pass_unchanged(version: str) -> None:
    blocks: list[ContentBlock] = [
        TextContent(text="t"),
        ImageContent(data="aW1n", mime_type="image/png"),
        EmbeddedResource(resource=TextResourceContents(uri="test://a", text="x")),
    ]
    assert content_for_version(blocks, version) is blocks


@pytest.mark.parametrize("version", ["2025-11-25", "2026-07-28"])
def test_links_keep_their_icons_from_2025_11_25(version: str) -> None:
    blocks: list[ContentBlock] = [LINK]
    assert content_for_version(blocks, version) == [LINK]


def test_links_lose_their_icons_at_2025_06_18() -> None:
    shaped = content_for_version([TextContent(text="t"), LINK], "2025-06-18")
    assert _json(shaped[1]) == {
        "type": "resource_link",
        "uri": "file:///srv/report.md",
        "name": "report.md",
        "title": "The report",
        "description": "Monthly report",
        "mimeType": "text/markdown",
        "size": 1234,
    }
    assert shaped[0] == TextContent(text="t")


def test_links_become_text_at_2025_03_26() -> None:
    untitled = ResourceLink(uri="test://x", name="x")
    shaped = content_for_version([LINK, untitled], "2025-03-26")
    assert shaped == [
        TextContent(text="Resource link: The report <file:///srv/report.md>"),
        TextContent(text="Resource link: x <test://x>"),
    ]


def test_call_results_are_shaped_for_their_version() -> None:
    meta = ResultMeta(server_info=Implementation(name="x", version="1"))
    result = build_call_result(
        [LINK], is_error=False, structured=None, version="2025-03-26", meta=meta
    )
    assert _json(result) == {
        "content": [{"type": "text", "text": "Resource link: The report <file:///srv/report.md>"}],
        "isError": False,
    }
