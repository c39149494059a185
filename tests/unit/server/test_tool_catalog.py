"""The front's tool catalog: argument checks and per-version listings."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from proto import Implementation, Tool, ToolAnnotations
from server.tool_catalog import CatalogTool, ToolCatalog


class EchoArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: str
    times: int = 1


class NoArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


_SCHEMA = b'{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}'
_OUTPUT = b'{"type":"object","properties":{"echo":{"type":"string"}}}'


def _echo() -> CatalogTool:
    listing = Tool(
        name="echo",
        input_schema=msgspec.Raw(_SCHEMA),
        title="Echo",
        description="Echo text.",
        output_schema=msgspec.Raw(_OUTPUT),
        annotations=ToolAnnotations(read_only_hint=True),
    )
    return CatalogTool(listing, EchoArgs, timeout_s=3.0)


def _catalog(ttl_ms: int = 60_000) -> ToolCatalog:
    other = CatalogTool(
        Tool(name="a-second", input_schema=msgspec.Raw(b'{"type":"object"}')), NoArgs, 1.0
    )
    return ToolCatalog(
        server_info=Implementation(name="x", version="1"),
        instructions=None,
        tools=[_echo(), other],
        list_ttl_ms=ttl_ms,
    )


# --- argument_problem --------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments", [b'{"text":"hi"}', b'{"text":"hi","times":3}', b'{ "times": 2, "text": "" }']
)
def test_fitting_arguments_have_no_problem(arguments: bytes) -> None:
    assert _echo().argument_problem(arguments) is None


@pytest.mark.parametrize(
    ("arguments", "mentions"),
    [
        pytest.param(b"{}", "text", id="missing-field"),
        pytest.param(b"", "text", id="empty-bytes-as-empty-object"),
        pytest.param(b'{"text": 5}', "text", id="wrong-type"),
        pytest.param(b'{"text": "a", "times": [1]}', "times", id="wrong-type-list"),
        pytest.param(b'{"text": "a", "times": 1.5}', "times", id="float-for-int"),
        pytest.param(b'{"text": "a", "loud": true}', "loud", id="unknown-field"),
        pytest.param(b'["a"]', "array", id="array"),
        pytest.param(b"null", "null", id="null"),
    ],
)
def test_arguments_that_do_not_fit(arguments: bytes, mentions: str) -> None:
    problem = _echo().argument_problem(arguments)
    assert problem is not None
    assert "'echo'" in problem
    assert mentions in problem


def test_empty_bytes_fit_a_tool_without_required_arguments() -> None:
    tool = CatalogTool(Tool(name="n", input_schema=msgspec.Raw(b"{}")), NoArgs, 1.0)
    assert tool.argument_problem(b"") is None
    assert tool.argument_problem(b"{}") is None
    assert tool.argument_problem(b'{"x": 1}') is not None


def test_invalid_utf8_in_arguments_is_a_problem_not_a_crash() -> None:
    """The envelope keeps ``arguments`` raw, so this is the first place their strings are read."""
    problem = _echo().argument_problem(b'{"text": "\xc3\x28"}')
    assert problem is not None


def test_catalog_tool_attributes() -> None:
    tool = _echo()
    assert tool.name == "echo"
    assert tool.timeout_s == 3.0
    assert tool.listing.name == "echo"


# --- listings ----------------------------------------------------------------------------


def _listing(catalog: ToolCatalog, version: str) -> dict[str, Any]:
    return json.loads(catalog.list_result(version))


def test_catalog_lookup_and_size() -> None:
    catalog = _catalog()
    assert len(catalog) == 2
    echo = catalog.get("echo")
    assert echo is not None
    assert echo.name == "echo"
    assert catalog.get("missing") is None


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_handshake_listing(version: str) -> None:
    listing = _listing(_catalog(), version)
    assert set(listing) == {"tools"}
    assert [t["name"] for t in listing["tools"]] == ["echo", "a-second"]
    echo = listing["tools"][0]
    assert echo == {
        "name": "echo",
        "inputSchema": json.loads(_SCHEMA),
        "title": "Echo",
        "description": "Echo text.",
        "outputSchema": json.loads(_OUTPUT),
        "annotations": {"readOnlyHint": True},
    }
    assert listing["tools"][1] == {"name": "a-second", "inputSchema": {"type": "object"}}


def test_2025_03_26_listing_drops_title_and_output_schema() -> None:
    listing = _listing(_catalog(), "2025-03-26")
    assert set(listing) == {"tools"}
    echo = listing["tools"][0]
    assert "title" not in echo
    assert "outputSchema" not in echo
    assert echo["description"] == "Echo text."
    assert echo["inputSchema"] == json.loads(_SCHEMA)


def test_modern_listing() -> None:
    listing = _listing(_catalog(ttl_ms=1234), "2026-07-28")
    assert listing["resultType"] == "complete"
    assert listing["ttlMs"] == 1234
    assert listing["cacheScope"] == "public"
    assert listing["_meta"] == {"io.modelcontextprotocol/serverInfo": {"name": "x", "version": "1"}}
    assert [t["name"] for t in listing["tools"]] == ["echo", "a-second"]
    assert listing["tools"][0]["title"] == "Echo"
    assert "outputSchema" in listing["tools"][0]


def test_zero_ttl_is_still_written() -> None:
    assert _listing(_catalog(ttl_ms=0), "2026-07-28")["ttlMs"] == 0


def test_input_schema_bytes_are_published_verbatim() -> None:
    assert _SCHEMA in _catalog().list_result("2025-06-18")


def test_listings_are_built_once_per_version() -> None:
    catalog = _catalog()
    first = catalog.list_result("2025-06-18")
    assert catalog.list_result("2025-06-18") is first
    assert catalog.list_result("2026-07-28") != first


def test_the_digest_changes_with_the_tools_only() -> None:
    same = _catalog(ttl_ms=5)  # cache hints are not the list
    assert _catalog().digest == same.digest
    assert len(_catalog().digest) == 64
    fewer = ToolCatalog(
        server_info=Implementation(name="x", version="1"),
        instructions=None,
        tools=[_echo()],
        list_ttl_ms=60_000,
    )
    assert fewer.digest != _catalog().digest
