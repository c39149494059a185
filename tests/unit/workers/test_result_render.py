"""A handler's return value (or failure) as the era's ``CallToolResult`` bytes."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec
import pytest

from proto import AudioContent, Icon, ImageContent, Implementation, ResourceLink, TextContent
from workers import Annotations, Audio, BlobResource, Image, Text, TextResource, ToolError
from workers.output_schema import OutputSpec, build_output_spec
from workers.result_render import ResultRenderer

_RENDERER = ResultRenderer(Implementation(name="x", version="1"))
_SERVER_META = {"io.modelcontextprotocol/serverInfo": {"name": "x", "version": "1"}}
HANDSHAKE = ["2025-03-26", "2025-06-18", "2025-11-25"]
ALL = [*HANDSHAKE, "2026-07-28"]


def _render(value: object, version: str) -> dict[str, Any]:
    return json.loads(_RENDERER.success(value, version))


class Weather(msgspec.Struct):
    city: str
    temp_c: float


@dataclasses.dataclass
class Pair:
    left: int
    right: int


@pytest.mark.parametrize("version", HANDSHAKE)
def test_string_is_one_text_block(version: str) -> None:
    assert _render("hello", version) == {
        "content": [{"type": "text", "text": "hello"}],
        "isError": False,
    }


@pytest.mark.parametrize("version", HANDSHAKE)
def test_none_is_empty_content(version: str) -> None:
    assert _render(None, version) == {"content": [], "isError": False}


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", "2026-07-28"])
@pytest.mark.parametrize(
    ("value", "structured"),
    [
        ({"a": 1, "b": [True, None]}, {"a": 1, "b": [True, None]}),
        ({}, {}),
        (Weather(city="Oslo", temp_c=-3.5), {"city": "Oslo", "temp_c": -3.5}),
        (Pair(1, 2), {"left": 1, "right": 2}),
    ],
)
def test_object_values_become_structured_content_plus_json_text(
    version: str, value: object, structured: dict[str, Any]
) -> None:
    result = _render(value, version)
    assert result["structuredContent"] == structured
    assert len(result["content"]) == 1
    assert result["content"][0]["type"] == "text"
    assert json.loads(result["content"][0]["text"]) == structured
    assert result["isError"] is False


def test_object_values_are_text_only_for_2025_03_26() -> None:
    result = _render({"a": 1}, "2025-03-26")
    assert result == {"content": [{"type": "text", "text": '{"a":1}'}], "isError": False}


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    ("value", "text"),
    [
        ([1, 2, 3], "[1,2,3]"),
        ([], "[]"),
        (3, "3"),
        (2.5, "2.5"),
        (True, "true"),
        ([{"a": 1}], '[{"a":1}]'),
    ],
)
def test_other_json_values_are_text_only(version: str, value: object, text: str) -> None:
    result = _render(value, version)
    assert result["content"] == [{"type": "text", "text": text}]
    assert "structuredContent" not in result


@pytest.mark.parametrize("version", ALL)
def test_content_blocks_pass_through(version: str) -> None:
    blocks = [
        TextContent(text="t"),
        ImageContent(data="aW1n", mime_type="image/png"),
        AudioContent(data="YXU=", mime_type="audio/wav"),
    ]
    result = _render(blocks, version)
    assert result["content"] == [
        {"type": "text", "text": "t"},
        {"type": "image", "data": "aW1n", "mimeType": "image/png"},
        {"type": "audio", "data": "YXU=", "mimeType": "audio/wav"},
    ]
    assert "structuredContent" not in result
    single = _render(ImageContent(data="aW1n", mime_type="image/png"), version)
    assert single["content"] == [{"type": "image", "data": "aW1n", "mimeType": "image/png"}]


@pytest.mark.parametrize("version", ALL)
def test_tool_error(version: str) -> None:
    result = json.loads(_RENDERER.tool_error("it broke", version))
    assert result["isError"] is True
    assert result["content"] == [{"type": "text", "text": "it broke"}]
    assert "structuredContent" not in result


@pytest.mark.parametrize("version", HANDSHAKE)
def test_handshake_results_have_no_modern_fields(version: str) -> None:
    for result in (_render("x", version), json.loads(_RENDERER.tool_error("e", version))):
        assert "resultType" not in result
        assert "_meta" not in result


def test_modern_results_carry_result_type_and_server_info() -> None:
    assert _render({"a": 1}, "2026-07-28") == {
        "content": [{"type": "text", "text": '{"a":1}'}],
        "isError": False,
        "structuredContent": {"a": 1},
        "resultType": "complete",
        "_meta": _SERVER_META,
    }
    error = json.loads(_RENDERER.tool_error("e", "2026-07-28"))
    assert error["resultType"] == "complete"
    assert error["_meta"] == _SERVER_META


@pytest.mark.parametrize("value", [object(), {"a": object()}, [1, object()], complex(1, 2)])
def test_non_json_value_raises_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        _RENDERER.success(value, "2025-06-18")


# --- structured output (a return annotation msgspec describes) -----------------------------


def _output(hint: Any) -> OutputSpec:
    spec = build_output_spec(hint)
    assert spec is not None
    return spec


def _render_as(value: object, hint: Any, version: str) -> dict[str, Any]:
    return json.loads(_RENDERER.success(value, version, _output(hint)))


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", "2026-07-28"])
def test_an_object_result_is_structured_content_in_every_revision(version: str) -> None:
    result = _render_as(Weather(city="Oslo", temp_c=-3.5), Weather, version)
    assert result["structuredContent"] == {"city": "Oslo", "temp_c": -3.5}
    assert result["content"] == [{"type": "text", "text": '{"city":"Oslo","temp_c":-3.5}'}]


@pytest.mark.parametrize(
    ("value", "hint"), [(3, int), (["a", "b"], list[str]), (None, int | None), (2.5, float)]
)
def test_other_results_are_wrapped_where_an_object_is_required(value: object, hint: Any) -> None:
    text = [{"type": "text", "text": json.dumps(value, separators=(",", ":"))}]
    for version in ("2025-06-18", "2025-11-25"):
        result = _render_as(value, hint, version)
        assert result["structuredContent"] == {"result": value}
        assert result["content"] == text
    modern = _render_as(value, hint, "2026-07-28")
    assert "structuredContent" in modern
    assert modern["structuredContent"] == value
    assert modern["content"] == text


def test_structured_results_are_text_only_for_2025_03_26() -> None:
    assert _render_as(3, int, "2025-03-26") == {
        "content": [{"type": "text", "text": "3"}],
        "isError": False,
    }


def test_a_result_is_checked_against_the_return_type() -> None:
    # An int for a float is a JSON number either way; a dict may stand for a Struct.
    assert _render_as(2, float, "2026-07-28")["structuredContent"] == 2
    assert _render_as({"city": "x", "temp_c": 1}, Weather, "2025-11-25")["structuredContent"] == {
        "city": "x",
        "temp_c": 1,
    }
    for value, hint in [("3", int), ({"city": "x"}, Weather), ([1], list[str])]:
        with pytest.raises(ToolError, match="does not match its output schema"):
            _RENDERER.success(value, "2026-07-28", _output(hint))


# --- content helpers and mixed lists ----------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_helpers_and_strings_in_a_list_become_blocks(version: str) -> None:
    result = _render(
        [
            "caption",
            Image(b"img", "image/png"),
            Audio(b"au", "audio/wav"),
            TextResource("test://t", "text", mime_type="text/plain"),
            BlobResource("test://b", b"\x00"),
        ],
        version,
    )
    assert result["content"] == [
        {"type": "text", "text": "caption"},
        {"type": "image", "data": "aW1n", "mimeType": "image/png"},
        {"type": "audio", "data": "YXU=", "mimeType": "audio/wav"},
        {
            "type": "resource",
            "resource": {"uri": "test://t", "text": "text", "mimeType": "text/plain"},
        },
        {"type": "resource", "resource": {"uri": "test://b", "blob": "AA=="}},
    ]
    assert "structuredContent" not in result


@pytest.mark.parametrize("version", ALL)
def test_a_single_helper_is_one_block(version: str) -> None:
    assert _render(Image(b"img", "image/png"), version)["content"] == [
        {"type": "image", "data": "aW1n", "mimeType": "image/png"}
    ]
    assert _render((TextContent(text="a"), "b"), version)["content"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
    ]


def test_a_list_of_strings_stays_a_json_value() -> None:
    assert _render(["a", "b"], "2026-07-28")["content"] == [{"type": "text", "text": '["a","b"]'}]


def test_resource_links_are_shaped_per_version() -> None:
    link = ResourceLink(uri="test://r", name="r", icons=[Icon(src="https://x/i.png")])
    assert _render(link, "2026-07-28")["content"] == [
        {
            "type": "resource_link",
            "uri": "test://r",
            "name": "r",
            "icons": [{"src": "https://x/i.png"}],
        }
    ]
    assert _render(link, "2025-06-18")["content"] == [
        {"type": "resource_link", "uri": "test://r", "name": "r"}
    ]
    assert _render([link], "2025-03-26")["content"] == [
        {"type": "text", "text": "Resource link: r <test://r>"}
    ]


# --- annotations ----------------------------------------------------------------------------

_DATED = Annotations(audience=["user"], priority=0.9, last_modified="2025-01-12T15:00:58Z")


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", "2026-07-28"])
def test_annotated_helpers_render_with_their_annotations(version: str) -> None:
    result = _render([Text("Saved.", annotations=_DATED), "plain"], version)
    assert result["content"] == [
        {
            "type": "text",
            "text": "Saved.",
            "annotations": {
                "audience": ["user"],
                "priority": 0.9,
                "lastModified": "2025-01-12T15:00:58Z",
            },
        },
        {"type": "text", "text": "plain"},
    ]
    assert _render(Text("alone"), version)["content"] == [{"type": "text", "text": "alone"}]


def test_2025_03_26_gets_annotations_without_last_modified() -> None:
    result = _render(Image(b"img", "image/png", _DATED), "2025-03-26")
    assert result["content"] == [
        {
            "type": "image",
            "data": "aW1n",
            "mimeType": "image/png",
            "annotations": {"audience": ["user"], "priority": 0.9},
        }
    ]


def test_a_text_helper_return_annotation_means_content_not_structured_output() -> None:
    assert build_output_spec(Text) is None
    assert build_output_spec(list[str | Text]) is None
