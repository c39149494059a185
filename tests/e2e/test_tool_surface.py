"""The tool surface end to end, through real workers: paged listings (tools, resources,
templates and prompts), titles, hints and derived input schemas, structured output that
the official client validates against the output schema, every content type, icons, rich
argument types reaching handlers as Python values, coalesced increasing progress and the
call's request id; raw JSON-RPC where the client cannot express the case (refused
cursors, fields an older revision must not see), and a cursor from before an item was
turned off (ADR-0010) refused."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp_types import (
    AudioContent,
    BlobResourceContents,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from tests.e2e.test_http_bad_input import ENVELOPE, MODERN, assert_error, modern_headers, post
from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tools import app as fixture_tools
from tests.fixtures.waiting import wait_until

PAGE_SIZE = 2
MODES = ["legacy", "2026-07-28"]
ALL_TOOLS = list(fixture_tools.tools)
STATIC_URIS = [u for u, r in fixture_tools.resources.items() if not r.is_template]
TEMPLATES = [u for u, r in fixture_tools.resources.items() if r.is_template]
PROMPTS = list(fixture_tools.prompts)


@pytest.fixture(scope="module")
def surface_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server, "s" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app="tests.fixtures.tools:app",
        env={"MCPFLEET_FRONT__LIST_PAGE_SIZE": str(PAGE_SIZE)},
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


@pytest.fixture
def http(surface_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with surface_fleet.http() as client:
        yield client


async def _list_every_page(client: Client) -> list[Any]:
    """Follow ``nextCursor`` to the end; the session then knows every output schema."""
    page = await client.list_tools()
    tools = list(page.tools)
    pages = 1
    while page.next_cursor is not None:
        page = await client.list_tools(cursor=page.next_cursor)
        tools.extend(page.tools)
        pages += 1
    assert pages == -(-len(ALL_TOOLS) // PAGE_SIZE)
    return tools


@pytest.mark.parametrize("mode", MODES)
async def test_the_listing_is_paged_and_complete(surface_fleet: RunningFleet, mode: str) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        first = await client.list_tools()
        tools = await _list_every_page(client)
    assert len(first.tools) == PAGE_SIZE
    assert [tool.name for tool in tools] == ALL_TOOLS


async def _every_page(list_page: Callable[..., Awaitable[Any]], field: str) -> list[list[Any]]:
    """The entries of each page of one list, following ``next_cursor`` with the client."""
    page = await list_page()
    pages = [getattr(page, field)]
    while page.next_cursor is not None:
        page = await list_page(cursor=page.next_cursor)
        pages.append(getattr(page, field))
    return pages


@pytest.mark.parametrize("mode", MODES)
async def test_resources_templates_and_prompts_are_paged_like_tools(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        resources = await _every_page(client.list_resources, "resources")
        templates = await _every_page(client.list_resource_templates, "resource_templates")
        prompts = await _every_page(client.list_prompts, "prompts")
    assert [len(page) for page in resources] == [2, 1]
    assert [r.uri for page in resources for r in page] == STATIC_URIS
    assert [len(page) for page in templates] == [2, 2]
    assert [t.uri_template for page in templates for t in page] == TEMPLATES
    assert [len(page) for page in prompts] == [2, 1]
    assert [p.name for page in prompts for p in page] == PROMPTS


@pytest.mark.parametrize("mode", MODES)
async def test_structured_results_conform_to_the_listed_output_schema(
    surface_fleet: RunningFleet, mode: str
) -> None:
    # The client validates structuredContent against the tool's outputSchema (raising
    # otherwise), for each tool whose listing it has seen.
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        tools = {tool.name: tool for tool in await _list_every_page(client)}
        forecast = await client.call_tool("forecast", {"city": "Lyon", "days": 2})
        counted = await client.call_tool("count_to", {"n": 3})
        nothing = await client.call_tool("maybe_forecast", {})
        something = await client.call_tool("maybe_forecast", {"city": "Oslo"})
    assert tools["forecast"].output_schema is not None
    assert tools["forecast"].output_schema["required"] == ["city", "temps_c", "issued"]
    assert forecast.structured_content == {
        "city": "Lyon",
        "temps_c": [20.5, 21.5],
        "issued": "2026-07-28",
    }
    assert isinstance(forecast.content[0], TextContent)
    assert json.loads(forecast.content[0].text) == forecast.structured_content
    assert isinstance(counted.content[0], TextContent) and counted.content[0].text == "[1,2,3]"
    count_schema = tools["count_to"].output_schema
    if mode == "legacy":  # 2025-11-25: an object is required, so the list is wrapped
        assert count_schema is not None and count_schema["required"] == ["result"]
        assert counted.structured_content == {"result": [1, 2, 3]}
        assert nothing.structured_content == {"result": None}
        assert something.structured_content is not None
        assert something.structured_content["result"]["city"] == "Oslo"
    else:
        assert count_schema == {"type": "array", "items": {"type": "integer"}}
        assert counted.structured_content == [1, 2, 3]
        assert nothing.structured_content is None
        assert something.structured_content is not None
        assert something.structured_content["city"] == "Oslo"


@pytest.mark.parametrize("mode", MODES)
async def test_a_result_that_breaks_its_schema_is_a_tool_error(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        await _list_every_page(client)
        result = await client.call_tool("wrong_output", {})
    assert result.is_error is True
    assert result.structured_content is None
    assert isinstance(result.content[0], TextContent)
    assert "does not match its output schema" in result.content[0].text


@pytest.mark.parametrize("mode", MODES)
async def test_every_content_type_reaches_the_client(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        result = await client.call_tool("every_content", {})
    text, image, audio, doc, binary, link = result.content
    assert isinstance(text, TextContent) and text.text == "text block"
    assert isinstance(image, ImageContent)
    assert (base64.b64decode(image.data), image.mime_type) == (b"\x89PNG", "image/png")
    assert isinstance(audio, AudioContent)
    assert (base64.b64decode(audio.data), audio.mime_type) == (b"RIFF", "audio/wav")
    assert isinstance(doc, EmbeddedResource)
    assert isinstance(doc.resource, TextResourceContents)
    assert (doc.resource.uri, doc.resource.text) == ("test://doc", "embedded text")
    assert isinstance(binary, EmbeddedResource)
    assert isinstance(binary.resource, BlobResourceContents)
    assert base64.b64decode(binary.resource.blob) == b"\x00\x01"
    assert isinstance(link, ResourceLink)
    assert (link.uri, link.name, link.title) == ("test://linked", "linked", "A linked resource")
    assert link.icons is not None and link.icons[0].src == "https://example.com/doc.png"
    assert result.structured_content is None


@pytest.mark.parametrize("mode", MODES)
async def test_icons_and_annotations_are_listed(surface_fleet: RunningFleet, mode: str) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        tools = {tool.name: tool for tool in await _list_every_page(client)}
    icons = tools["forecast"].icons
    assert icons is not None and [(i.src, i.sizes) for i in icons] == [
        ("https://example.com/sun.png", ["48x48"])
    ]
    assert tools["forecast"].annotations is not None
    assert tools["forecast"].annotations.read_only_hint is True
    assert tools["echo"].icons is None


@pytest.mark.parametrize("mode", MODES)
async def test_annotations_reach_the_client(surface_fleet: RunningFleet, mode: str) -> None:
    """On tool content, listed resources and prompt messages, through a real worker."""
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        result = await client.call_tool("annotated_content", {})
        resources = [r for p in await _every_page(client.list_resources, "resources") for r in p]
        prompt = await client.get_prompt("farewell", {"name": "Ada"})
    text, image, doc, link = result.content
    for dated in (text, link, resources[0], prompt.messages[0].content):
        assert dated.annotations is not None
        assert (dated.annotations.audience, dated.annotations.priority) == (["user"], 1)
        assert dated.annotations.last_modified == "2025-01-12T15:00:58Z"  # sent as UTC
    for undated in (image, doc):
        assert undated.annotations is not None
        assert (undated.annotations.audience, undated.annotations.priority) == (["assistant"], 0.25)
        assert undated.annotations.last_modified is None
    assert all(r.annotations is None for r in resources[1:])


@pytest.mark.parametrize("mode", MODES)
async def test_the_title_and_every_hint_reach_the_client(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        tools = {tool.name: tool for tool in await _list_every_page(client)}
    touch = tools["touch"]
    assert touch.title == "Touch a resource"
    assert touch.annotations is not None
    assert touch.annotations.model_dump(exclude_none=True) == {
        "destructive_hint": True,
        "idempotent_hint": True,
        "open_world_hint": False,
    }
    assert tools["forecast"].title == "Weather forecast"
    assert tools["echo"].title is None and tools["echo"].annotations is None


@pytest.mark.parametrize("mode", MODES)
async def test_the_client_lists_the_derived_input_schemas(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        tools = {tool.name: tool for tool in await _list_every_page(client)}
    forecast = tools["forecast"].input_schema
    assert forecast["properties"]["days"] == {
        "description": "how many days ahead.",
        "type": "integer",
        "default": 2,
    }
    assert forecast["required"] == ["city"]
    rich = tools["rich_arguments"].input_schema
    props = rich["properties"]
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["ident"] == {"type": "string", "format": "uuid"}
    assert props["mode"] == {"enum": ["fast", "slow"]}
    assert props["limit"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert props["shade"] == {"$ref": "#/$defs/Shade"}
    assert rich["$defs"]["Shade"]["enum"] == ["dark", "light"]
    assert rich["$defs"]["Window"]["properties"]["hours"] == {"type": "integer", "default": 1}
    # Whole, as the app derived them: nothing lost or added on the way through the fleet.
    for name in ("forecast", "rich_arguments"):
        assert tools[name].input_schema == fixture_tools.tools[name].args.schema


@pytest.mark.parametrize("mode", MODES)
async def test_progress_from_a_sync_loop_is_coalesced_and_increasing(
    surface_fleet: RunningFleet, mode: str
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        result = await client.call_tool("progress_burst", {}, progress_callback=on_progress)
    assert isinstance(result.content[0], TextContent) and result.content[0].text == "reported"
    values = [progress for progress, _, _ in seen]
    # 100 reports in a tight loop, coalesced (1, 51, 52, 100 here; a slow machine lets a
    # few more through); the 45 after 51 went backwards, so it never went out.
    assert 2 <= len(values) < 100, values
    assert all(a < b for a, b in itertools.pairwise(values)), values
    assert values[0] == 1 and values[-1] == 100
    assert 45 not in values
    assert {total for _, total, _ in seen} == {100}


@pytest.mark.parametrize("mode", MODES)
async def test_a_handler_knows_its_calls_request_id(surface_fleet: RunningFleet, mode: str) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        ids = []
        for _ in range(2):
            result = await client.call_tool("my_request_id", {})
            assert isinstance(result.content[0], TextContent)
            ids.append(result.content[0].text)
        for request_id in ids:
            # The worker stamps every line logged during the call with its request id.
            await surface_fleet.wait_for_async("test_tool.request_id", request_id=request_id)
    assert all(ids) and ids[0] != ids[1]
    for request_id in ids:
        (line,) = surface_fleet.find("test_tool.request_id", request_id=request_id)
        assert line["seen"] == request_id
        assert line["tool"] == "my_request_id"


SERVER_INFO = {
    "name": "mcpfleet-test-tools",
    "version": "0.0.1",
    "title": "mcpfleet test tools",
    "description": "Tools only the test suite serves.",
    "icons": [
        {"src": "https://example.com/tools.png", "mimeType": "image/png", "sizes": ["48x48"]}
    ],
    "websiteUrl": "https://example.com/mcpfleet-test-tools",
}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_client_sees_the_servers_icons_and_website(
    surface_fleet: RunningFleet, mode: str
) -> None:
    """Legacy: initialize's serverInfo (2025-11-25); auto: the discover result's stamp."""
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        version = client.protocol_version
        info = client.server_info
    assert version == ("2025-11-25" if mode == "legacy" else MODERN)
    assert info is not None
    assert info.model_dump(by_alias=True, mode="json", exclude_none=True) == SERVER_INFO


@pytest.mark.parametrize(
    ("version", "fields"),
    [
        ("2025-03-26", ["name", "version"]),
        ("2025-06-18", ["name", "version", "title"]),
        ("2025-11-25", list(SERVER_INFO)),
    ],
)
def test_initialize_sends_the_identity_fields_of_the_revision(
    http: httpx.Client, version: str, fields: list[str]
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "1"}}}  # fmt: skip
    response = post(http, body=body, version=None, session=False)
    assert response.status_code == 200, response.text
    events = [line for line in response.text.splitlines() if line.startswith("data: {")]
    result = json.loads(response.text if not events else events[-1][len("data: ") :])["result"]
    assert result["protocolVersion"] == version
    assert result["serverInfo"] == {key: SERVER_INFO[key] for key in fields}


def test_every_modern_result_is_stamped_with_the_whole_identity(http: httpx.Client) -> None:
    discover = post(
        http, body={"jsonrpc": "2.0", "id": "d", "method": "server/discover",
                    "params": {"_meta": ENVELOPE}},
        headers=modern_headers("server/discover"),
    ).json()["result"]  # fmt: skip
    listed = _list(http, MODERN).json()["result"]
    for result in (discover, listed):
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == SERVER_INFO


RICH = {
    "when": "2026-07-28T09:30:00+02:00",
    "day": "2026-07-28",
    "ident": "c3f1a7e4-2f0e-4e0f-9a55-4b8d1c2e3f40",
    "amount": "12.50",
    "shade": "dark",
    "mode": "slow",
    "spot": {"lat": 45.76, "lon": 4.84},
    "window": {"start": "2026-07-28T10:00:00Z"},
    "tags": ["a", "b"],
}


@pytest.mark.parametrize("mode", MODES)
async def test_rich_arguments_reach_the_handler_as_python_types(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        await _list_every_page(client)
        result = await client.call_tool("rich_arguments", {**RICH, "limit": "5"})
        wrong = await client.call_tool("rich_arguments", {**RICH, "shade": "purple"})
    assert result.is_error is False, result.content
    seen = result.structured_content
    assert seen is not None
    assert seen["when"] == (
        "datetime=datetime.datetime(2026, 7, 28, 9, 30, tzinfo=datetime.timezone("
        "datetime.timedelta(seconds=7200)))"
    )
    assert seen["day"] == "date=datetime.date(2026, 7, 28)"
    assert seen["ident"] == "UUID=UUID('c3f1a7e4-2f0e-4e0f-9a55-4b8d1c2e3f40')"
    assert seen["amount"] == "Decimal=Decimal('12.50')"
    assert seen["shade"] == "Shade=<Shade.DARK: 'dark'>"
    assert seen["mode"] == "str='slow'"
    assert seen["spot"] == "Spot=Spot(lat=45.76, lon=4.84)"
    assert seen["window"].startswith("Window=Window(start=datetime.datetime(2026, 7, 28, 10, 0")
    assert seen["window"].endswith("hours=1)")
    assert seen["tags"] == "list=['a', 'b']"
    assert seen["limit"] == "int=5"  # a number sent as a string is accepted (models do that)
    assert wrong.is_error is True
    assert isinstance(wrong.content[0], TextContent) and "$.shade" in wrong.content[0].text


# --- raw JSON-RPC -------------------------------------------------------------------------


def _list(
    http: httpx.Client, version: str, cursor: str | None = None, method: str = "tools/list"
) -> httpx.Response:
    params: dict[str, object] = {} if cursor is None else {"cursor": cursor}
    if version == MODERN:
        params["_meta"] = ENVELOPE
        headers = modern_headers(method)
    else:
        headers = {}
    body = {"jsonrpc": "2.0", "id": "l", "method": method, "params": params}
    return post(http, body=body, version=version, headers=headers)


def _pages(http: httpx.Client, version: str, method: str = "tools/list") -> list[dict[str, Any]]:
    pages = [_list(http, version, method=method).json()["result"]]
    while "nextCursor" in pages[-1]:
        pages.append(_list(http, version, pages[-1]["nextCursor"], method).json()["result"])
    return pages


FORGED = base64.urlsafe_b64encode(b"0" * 32 + b":4").rstrip(b"=").decode()
LISTED = {  # method: (result key, names of its entries in listing order)
    "tools/list": ("tools", ALL_TOOLS),
    "resources/list": ("resources", [fixture_tools.resources[u].name for u in STATIC_URIS]),
    "resources/templates/list": (
        "resourceTemplates",
        [fixture_tools.resources[u].name for u in TEMPLATES],
    ),
    "prompts/list": ("prompts", PROMPTS),
}
LISTS = list(LISTED)


@pytest.mark.parametrize("version", ["2025-03-26", "2025-11-25", MODERN])
@pytest.mark.parametrize("cursor", ["", "not-a-cursor", FORGED])
@pytest.mark.parametrize("method", LISTS)
def test_a_cursor_this_server_did_not_issue_is_invalid_params(
    http: httpx.Client, version: str, cursor: str, method: str
) -> None:
    response = _list(http, version, cursor, method)
    status = 400 if version == MODERN else 200
    error = assert_error(response, status, -32602, "l")
    assert "list again without a cursor" in str(error["message"])


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
def test_a_cursor_of_one_list_is_refused_by_every_other(http: httpx.Client, version: str) -> None:
    """Resources and templates are two lists: a page of one never continues the other."""
    cursors = {m: _list(http, version, method=m).json()["result"]["nextCursor"] for m in LISTS}
    status = 400 if version == MODERN else 200
    for issued_by, cursor in cursors.items():
        for method in LISTS:
            response = _list(http, version, cursor, method)
            if method == issued_by:
                assert response.status_code == 200, response.text
                assert "result" in response.json()
            else:
                assert_error(response, status, -32602, "l")


def _mcpfleet(fleet: RunningFleet, *args: str) -> None:
    """Run an operator's command against the fleet (``mcpfleet prompts disable …``)."""
    done = subprocess.run(
        [
            *MCPFLEET, *args,
            "--app", "tests.fixtures.tools:app",
            "--redis", fleet.redis_url,
            "--fleet", fleet.fleet,
        ],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("kind", "method", "item"),
    [("prompts", "prompts/list", PROMPTS[0]), ("resources", "resources/list", STATIC_URIS[0])],
)
def test_a_cursor_from_before_a_toggle_is_refused(
    surface_fleet: RunningFleet, http: httpx.Client, kind: str, method: str, item: str
) -> None:
    """Paging and turning items on and off together (ADR-0010): turning off the first entry
    moves every position after it, so the cursor of page 2 issued before is refused in both
    eras, and listing again pages the entries on."""
    key, _ = LISTED[method]
    entry_key = "name" if kind == "prompts" else "uri"
    everything = [e[entry_key] for e in _entries(http, method, key)]
    cursor = _list(http, MODERN, method=method).json()["result"]["nextCursor"]
    _mcpfleet(surface_fleet, kind, "disable", item)
    try:
        wait_until(
            lambda: item not in [e[entry_key] for e in _entries(http, method, key)],
            deadline_s=10,
            what=f"{item} turned off",
        )
        assert_error(_list(http, MODERN, cursor, method), 400, -32602, "l")
        assert_error(_list(http, "2025-11-25", cursor, method), 200, -32602, "l")
        pages = _pages(http, MODERN, method)
        assert [len(page[key]) for page in pages] == [PAGE_SIZE]
        assert [e[entry_key] for page in pages for e in page[key]] == everything[1:]
    finally:
        _mcpfleet(surface_fleet, kind, "reset", item)
        wait_until(
            lambda: [e[entry_key] for e in _entries(http, method, key)] == everything,
            deadline_s=10,
            what=f"{item} back on",
        )


def _entries(http: httpx.Client, method: str, key: str) -> list[dict[str, Any]]:
    return [e for page in _pages(http, MODERN, method) for e in page[key]]


@pytest.mark.parametrize("method", LISTS)
def test_every_modern_page_carries_the_cache_hints(http: httpx.Client, method: str) -> None:
    pages = _pages(http, MODERN, method)
    assert len(pages) > 1
    hints = {(p["resultType"], p["ttlMs"], p["cacheScope"]) for p in pages}
    assert hints == {("complete", 60_000, "public")}
    assert all(p["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] for p in pages)
    key, listed = LISTED[method]
    assert [e.get("name") for p in pages for e in p[key]] == listed


def _listed(http: httpx.Client, version: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for p in _pages(http, version) for t in p["tools"]}


def test_2025_03_26_sees_no_title_icons_or_output_schema(http: httpx.Client) -> None:
    listed = _listed(http, "2025-03-26")
    assert list(listed) == ALL_TOOLS
    # forecast has a title, icons and an output schema from 2025-06-18 on.
    assert set(listed["forecast"]) == {"name", "description", "inputSchema", "annotations"}
    assert [name for name, tool in listed.items() if "title" in tool] == []
    assert listed["touch"]["annotations"] == {
        "destructiveHint": True,
        "idempotentHint": True,
        "openWorldHint": False,
    }
    result = post(
        http, body={"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "forecast", "arguments": {"city": "Oslo"}}},
        version="2025-03-26",
    ).json()["result"]  # fmt: skip
    assert "structuredContent" not in result
    assert json.loads(result["content"][0]["text"])["city"] == "Oslo"


def test_2025_06_18_sees_wrapped_output_schemas_and_no_icons(http: httpx.Client) -> None:
    listed = _listed(http, "2025-06-18")
    assert "icons" not in listed["forecast"]
    assert listed["count_to"]["outputSchema"] == {
        "type": "object",
        "properties": {"result": {"type": "array", "items": {"type": "integer"}}},
        "required": ["result"],
    }


@pytest.mark.parametrize(
    ("version", "link"),
    [
        (
            "2025-03-26",
            {"type": "text", "text": "Resource link: A linked resource <test://linked>"},
        ),
        (
            "2025-06-18",
            {
                "type": "resource_link",
                "uri": "test://linked",
                "name": "linked",
                "title": "A linked resource",
                "mimeType": "text/plain",
            },
        ),
    ],
)
def test_older_revisions_get_resource_links_they_define(
    http: httpx.Client, version: str, link: dict[str, str]
) -> None:
    body = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "every_content", "arguments": {}}}  # fmt: skip
    result = post(http, body=body, version=version).json()["result"]
    assert result["content"][-1] == link
    assert [block["type"] for block in result["content"][:5]] == [
        "text", "image", "audio", "resource", "resource",
    ]  # fmt: skip


def _call_raw(http: httpx.Client, version: str, name: str, arguments: object) -> httpx.Response:
    params: dict[str, object] = {"name": name, "arguments": arguments}
    headers = {}
    if version == MODERN:
        params["_meta"] = ENVELOPE
        headers = modern_headers("tools/call", name)
    body = {"jsonrpc": "2.0", "id": "c", "method": "tools/call", "params": params}
    return post(http, body=body, version=version, headers=headers)


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", MODERN])
@pytest.mark.parametrize("arguments", [[1], "city=Lyon", 3, True])
def test_arguments_that_are_not_an_object_are_invalid_params(
    http: httpx.Client, version: str, arguments: object
) -> None:
    """Not a CallToolRequest at all (a protocol error), unlike an object the tool's schema
    refuses (a tool error from 2025-11-25 on)."""
    error = assert_error(
        _call_raw(http, version, "forecast", arguments),
        400 if version == MODERN else 200,
        -32602,
        "c",
    )
    assert "must be a JSON object" in str(error["message"])


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
def test_null_arguments_are_no_arguments(http: httpx.Client, version: str) -> None:
    response = _call_raw(http, version, "every_content", None)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["isError"] is False


def test_2025_03_26_annotations_have_no_last_modified(http: httpx.Client) -> None:
    body = {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
            "params": {"name": "annotated_content", "arguments": {}}}  # fmt: skip
    content = post(http, body=body, version="2025-03-26").json()["result"]["content"]
    for_user = {"audience": ["user"], "priority": 1}
    assert [block.get("annotations") for block in content] == [
        for_user,
        {"audience": ["assistant"], "priority": 0.25},
        {"audience": ["assistant"], "priority": 0.25},
        for_user,  # the link, as a text block naming it
    ]
    assert content[3]["type"] == "text"
    (readme, *_) = _pages(http, "2025-03-26", "resources/list")[0]["resources"]
    assert readme == {
        "uri": "test://readme",
        "name": "readme",
        "description": "What this test app is.",
        "mimeType": "text/markdown",
        "annotations": for_user,
    }
