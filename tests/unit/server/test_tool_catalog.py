"""The front's tool catalog: argument checks, per-version listings and their pages."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from proto import Icon, Implementation, InvalidParamsError, Tool, ToolAnnotations
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
        page_size=100,
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
        page_size=100,
    )
    assert fewer.digest != _catalog().digest


# --- per-version entries: icons and object-rooted output schemas ---------------------------

_COUNT_OUTPUT = b'{"type":"integer"}'
_COUNT_LEGACY = (
    b'{"type":"object","properties":{"result":{"type":"integer"}},"required":["result"]}'
)


def _count() -> CatalogTool:
    listing = Tool(
        name="count",
        input_schema=msgspec.Raw(b'{"type":"object"}'),
        title="Count",
        icons=[Icon(src="https://example.com/c.png", sizes=["any"])],
        output_schema=msgspec.Raw(_COUNT_OUTPUT),
    )
    return CatalogTool(listing, NoArgs, 1.0, legacy_output_schema=msgspec.Raw(_COUNT_LEGACY))


@pytest.mark.parametrize(
    ("version", "fields", "output"),
    [
        ("2025-03-26", {"name", "inputSchema"}, None),
        ("2025-06-18", {"name", "inputSchema", "title", "outputSchema"}, _COUNT_LEGACY),
        ("2025-11-25", {"name", "inputSchema", "title", "icons", "outputSchema"}, _COUNT_LEGACY),
        ("2026-07-28", {"name", "inputSchema", "title", "icons", "outputSchema"}, _COUNT_OUTPUT),
    ],
)
def test_entries_carry_only_their_revisions_fields(
    version: str, fields: set[str], output: bytes | None
) -> None:
    entry = json.loads(msgspec.json.encode(_count().listing_for(version)))
    assert set(entry) == fields
    if output is not None:
        assert entry["outputSchema"] == json.loads(output)
    if "icons" in fields:
        assert entry["icons"] == [{"src": "https://example.com/c.png", "sizes": ["any"]}]


def test_an_object_output_schema_is_the_same_in_every_revision() -> None:
    echo = _echo()
    for version in ("2025-06-18", "2025-11-25", "2026-07-28"):
        assert echo.listing_for(version).output_schema == msgspec.Raw(_OUTPUT)


# --- pagination (the mechanics: test_list_pages.py) ----------------------------------------


def _many(count: int, page_size: int) -> ToolCatalog:
    tools = [
        CatalogTool(
            Tool(name=f"t{i:02d}", input_schema=msgspec.Raw(b'{"type":"object"}')), NoArgs, 1.0
        )
        for i in range(count)
    ]
    return ToolCatalog(
        server_info=Implementation(name="x", version="1"),
        instructions=None,
        tools=tools,
        list_ttl_ms=500,
        page_size=page_size,
    )


@pytest.mark.parametrize("version", ["2025-03-26", "2025-11-25", "2026-07-28"])
def test_pages_cover_every_tool_once_in_order(version: str) -> None:
    catalog = _many(7, 3)
    pages = [json.loads(catalog.list_result(version))]
    while "nextCursor" in pages[-1]:
        pages.append(json.loads(catalog.list_result(version, pages[-1]["nextCursor"])))
    assert [[t["name"] for t in page["tools"]] for page in pages] == [
        ["t00", "t01", "t02"],
        ["t03", "t04", "t05"],
        ["t06"],
    ]


def test_a_cursor_the_tool_list_did_not_issue_is_invalid_params() -> None:
    with pytest.raises(InvalidParamsError, match="list again without a cursor"):
        _many(7, 3).list_result("2025-11-25", "bm90IGEgY3Vyc29y")


# --- scopes (ADR-0016) --------------------------------------------------------------------


def _scoped_catalog(page_size: int = 100) -> ToolCatalog:
    def tool(name: str, scopes: tuple[str, ...] = ()) -> CatalogTool:
        listing = Tool(name=name, input_schema=msgspec.Raw(b'{"type":"object"}'))
        return CatalogTool(listing, NoArgs, 1.0, scopes=scopes)

    return ToolCatalog(
        server_info=Implementation(name="x", version="1"),
        instructions=None,
        tools=[
            tool("open"),
            tool("read", ("files:read",)),
            tool("write", ("files:read", "files:write")),
            tool("admin", ("admin",)),
        ],
        list_ttl_ms=1000,
        page_size=page_size,
    )


def _listed(catalog: ToolCatalog, hidden: frozenset[str], cursor: Any = msgspec.UNSET) -> Any:
    return json.loads(catalog.list_result("2026-07-28", cursor, hidden=hidden))


@pytest.mark.parametrize(
    ("granted", "hidden"),
    [
        ((), {"read", "write", "admin"}),
        (("files:read",), {"write", "admin"}),
        (("files:write",), {"read", "write", "admin"}),  # all of a tool's scopes, not any
        (("files:read", "files:write", "admin", "more"), set()),
    ],
)
def test_hidden_for_names_the_tools_whose_scopes_are_not_all_granted(
    granted: tuple[str, ...], hidden: set[str]
) -> None:
    catalog = _scoped_catalog()
    assert catalog.hidden_for(granted) == hidden
    assert catalog.hidden_for(granted) is catalog.hidden_for(granted)  # remembered
    assert catalog.scopes == ("admin", "files:read", "files:write")
    assert catalog.required_scopes("write") == ("files:read", "files:write")
    assert catalog.required_scopes("open") == ()


def test_a_listing_leaves_out_the_hidden_tools_and_is_private() -> None:
    catalog = _scoped_catalog()
    full = _listed(catalog, frozenset())
    assert [t["name"] for t in full["tools"]] == ["open", "read", "write", "admin"]
    assert full["cacheScope"] == "private"
    narrowed = _listed(catalog, catalog.hidden_for(("files:read",)))
    assert [t["name"] for t in narrowed["tools"]] == ["open", "read"]
    assert narrowed["cacheScope"] == "private"


def test_without_scoped_tools_a_listing_stays_public() -> None:
    assert json.loads(_catalog().list_result("2026-07-28"))["cacheScope"] == "public"
    assert _catalog().hidden_for(("anything",)) == frozenset()


def test_cursors_of_a_narrowed_listing_are_bound_to_what_it_hides() -> None:
    catalog = _scoped_catalog(page_size=1)
    hidden = catalog.hidden_for(("files:read",))
    first = _listed(catalog, hidden)
    second = _listed(catalog, hidden, first["nextCursor"])
    assert [t["name"] for t in second["tools"]] == ["read"]
    assert "nextCursor" not in second
    # Another caller's cursor does not open a page of this one's listing.
    with pytest.raises(InvalidParamsError):
        catalog.list_result("2026-07-28", first["nextCursor"])
