"""Content blocks and their annotations: wire shapes and what each revision gets of them."""

from __future__ import annotations

import json

import msgspec
import pytest
from msgspec import UNSET, UnsetType

from proto import (
    Annotations,
    AudioContent,
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
    annotations_for_version,
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


# --- annotations ----------------------------------------------------------------------------

DATED = Annotations(audience=["user"], priority=0.25, last_modified="2025-01-12T15:00:58Z")
ONLY_DATED = Annotations(last_modified="2025-01-12T15:00:58Z")


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", "2026-07-28"])
def test_annotated_blocks_pass_unchanged_from_2025_06_18(version: str) -> None:
    blocks: list[ContentBlock] = [
        TextContent(text="t", annotations=DATED),
        AudioContent(data="AA==", mime_type="audio/wav", annotations=ONLY_DATED),
    ]
    assert content_for_version(blocks, version) is blocks
    assert _json(blocks[0]) == {
        "type": "text",
        "text": "t",
        "annotations": {
            "audience": ["user"],
            "priority": 0.25,
            "lastModified": "2025-01-12T15:00:58Z",
        },
    }


def test_2025_03_26_annotations_have_no_last_modified() -> None:
    undated = Annotations(audience=["assistant"])
    blocks: list[ContentBlock] = [
        TextContent(text="t", annotations=DATED),
        ImageContent(data="aW1n", mime_type="image/png", annotations=ONLY_DATED),
        EmbeddedResource(
            resource=TextResourceContents(uri="test://a", text="x"), annotations=undated
        ),
        TextContent(text="plain"),
    ]
    shaped = _json(content_for_version(blocks, "2025-03-26"))
    assert shaped == [
        {"type": "text", "text": "t", "annotations": {"audience": ["user"], "priority": 0.25}},
        {"type": "image", "data": "aW1n", "mimeType": "image/png"},  # nothing left to send
        {
            "type": "resource",
            "resource": {"uri": "test://a", "text": "x"},
            "annotations": {"audience": ["assistant"]},
        },
        {"type": "text", "text": "plain"},
    ]
    assert content_for_version(blocks[2:], "2025-03-26") == blocks[2:]


def test_a_link_keeps_its_annotations_as_text_at_2025_03_26() -> None:
    link = ResourceLink(uri="test://x", name="x", annotations=DATED)
    assert _json(content_for_version([link], "2025-03-26")) == [
        {
            "type": "text",
            "text": "Resource link: x <test://x>",
            "annotations": {"audience": ["user"], "priority": 0.25},
        }
    ]
    assert content_for_version([link], "2025-06-18") == [link]


@pytest.mark.parametrize(
    ("annotations", "version", "expected"),
    [
        (UNSET, "2025-03-26", UNSET),
        (DATED, "2025-06-18", DATED),
        (ONLY_DATED, "2025-03-26", UNSET),
        (DATED, "2025-03-26", Annotations(audience=["user"], priority=0.25)),
    ],
)
def test_annotations_for_version(
    annotations: Annotations | UnsetType, version: str, expected: Annotations | UnsetType
) -> None:
    assert annotations_for_version(annotations, version) == expected
