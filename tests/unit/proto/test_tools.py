"""``tools/*`` messages: tool-name rules and era-shaped call results."""

from __future__ import annotations

import json

import msgspec
import pytest

from proto import (
    HANDSHAKE_VERSIONS,
    AudioContent,
    CallToolParams2026,
    CallToolResult,
    ImageContent,
    Implementation,
    ResultMeta,
    TextContent,
    build_call_result,
    tool_name_problem,
)

_META = ResultMeta(server_info=Implementation(name="x", version="1"))


@pytest.mark.parametrize(
    "name",
    ["a", "Z", "0", "echo", "get_weather", "ns.tool-v2", "A-b_c.D9", "a" * 128, "-", "..."],
)
def test_valid_tool_names(name: str) -> None:
    assert tool_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * 129, id="129-chars"),
        pytest.param("has space", id="space"),
        pytest.param("slash/name", id="slash"),
        pytest.param("café", id="non-ascii"),
        pytest.param("a,b", id="comma"),
        pytest.param("tab\tname", id="tab"),
        pytest.param("name!", id="bang"),
        pytest.param("ns:tool", id="colon"),
    ],
)
def test_invalid_tool_names(name: str) -> None:
    problem = tool_name_problem(name)
    assert problem is not None
    assert repr(name) in problem


@pytest.mark.parametrize("version", HANDSHAKE_VERSIONS)
def test_handshake_call_result_has_no_result_type_or_meta(version: str) -> None:
    result = build_call_result(
        [TextContent(text="hi")], is_error=False, structured=None, version=version, meta=_META
    )
    assert json.loads(msgspec.json.encode(result)) == {
        "content": [{"type": "text", "text": "hi"}],
        "isError": False,
    }


def test_modern_call_result_has_result_type_and_server_info() -> None:
    result = build_call_result(
        [TextContent(text="hi")], is_error=True, structured=None, version="2026-07-28", meta=_META
    )
    assert json.loads(msgspec.json.encode(result)) == {
        "content": [{"type": "text", "text": "hi"}],
        "isError": True,
        "resultType": "complete",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "x", "version": "1"}},
    }


@pytest.mark.parametrize("version", [*HANDSHAKE_VERSIONS, "2026-07-28"])
@pytest.mark.parametrize(
    ("structured", "expected"),
    [(None, None), (b"", None), (b'{"a": [1, 2]}', {"a": [1, 2]})],
)
def test_structured_content_only_when_given(
    version: str, structured: bytes | None, expected: object
) -> None:
    result = build_call_result(
        [], is_error=False, structured=structured, version=version, meta=_META
    )
    encoded = json.loads(msgspec.json.encode(result))
    assert encoded.get("structuredContent") == expected
    assert ("structuredContent" in encoded) is (expected is not None)


def test_structured_content_is_embedded_verbatim() -> None:
    result = build_call_result(
        [], is_error=False, structured=b'{"x": 2.50}', version="2025-06-18", meta=_META
    )
    assert b'"structuredContent":{"x": 2.50}' in msgspec.json.encode(result)


@pytest.mark.parametrize("is_error", [False, True])
def test_call_tool_result_always_writes_is_error(is_error: bool) -> None:
    encoded = json.loads(msgspec.json.encode(CallToolResult(content=[], is_error=is_error)))
    assert encoded == {"content": [], "isError": is_error}


def test_content_block_encodings() -> None:
    blocks = [
        TextContent(text="t"),
        ImageContent(data="aW1n", mime_type="image/png"),
        AudioContent(data="YXU=", mime_type="audio/wav"),
    ]
    assert json.loads(msgspec.json.encode(blocks)) == [
        {"type": "text", "text": "t"},
        {"type": "image", "data": "aW1n", "mimeType": "image/png"},
        {"type": "audio", "data": "YXU=", "mimeType": "audio/wav"},
    ]


def test_call_params_keep_arguments_raw() -> None:
    params = msgspec.json.decode(
        b'{"name":"echo","arguments":{ "z":1,"a" : "\\u00e9" },'
        b'"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"p"}}',
        type=CallToolParams2026,
    )
    assert params.name == "echo"
    assert bytes(params.arguments) == b'{ "z":1,"a" : "\\u00e9" }'
    assert not isinstance(params.meta, msgspec.UnsetType)
    assert params.meta.progress_token == "p"
