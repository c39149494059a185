"""Resources, prompts and completions end to end (issue 4, ADR-0007), through a real fleet
serving ``tests.fixtures.tools:app``, with the official ``mcp`` client where it can express
the case and raw JSON-RPC where it cannot."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
from mcp import Client

from proto import ANNOUNCE_CATALOG, ChangeAnnouncement, ChangeKind, Keyspace, encode_announcement
from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE
from tests.e2e.test_sse_streams import open_session
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sse import events

MODES = ["legacy", "2026-07-28"]


@pytest.fixture(scope="module")
def surface_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server, "r" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app="tests.fixtures.tools:app",
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


def announce(fleet: RunningFleet, kind: str) -> None:
    """Announce a list change the way a front of another deployment does at start-up."""
    keys = Keyspace(fleet.fleet)
    redis.Redis.from_url(fleet.redis_url).eval(
        ANNOUNCE_CATALOG.source, 1, keys.catalog_digest(kind),
        secrets.token_hex(32), keys.change_channel(),
        encode_announcement(ChangeAnnouncement(kind)),
    )  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
async def test_the_client_lists_resources_templates_and_prompts(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        prompts = (await client.list_prompts()).prompts
    assert [(r.uri, r.name, r.mime_type) for r in resources] == [
        ("test://readme", "readme", "text/markdown"),
        ("test://logo.png", "logo", "image/png"),
    ]
    assert resources[0].title == "Read me" and resources[0].description == "What this test app is."
    assert [t.uri_template for t in templates] == ["test://items/{item_id}{?detail}"]
    (greet,) = prompts
    assert (greet.name, greet.title, greet.description) == ("greet", "Greeting", "Greet someone.")
    assert greet.arguments is not None
    assert [(a.name, a.required) for a in greet.arguments] == [("name", True), ("style", False)]


async def test_listen_carries_resource_and_prompt_list_changes(surface_fleet: RunningFleet) -> None:
    async with (
        Client(surface_fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client,
        client.listen(prompts_list_changed=True, resources_list_changed=True) as changes,
    ):
        announce(surface_fleet, ChangeKind.PROMPTS)
        announce(surface_fleet, ChangeKind.TOOLS)  # not requested: never delivered
        announce(surface_fleet, ChangeKind.RESOURCES)
        received = []
        async for event in changes:
            received.append(type(event).__name__)
            if len(received) == 2:
                break
    assert received == ["PromptsListChanged", "ResourcesListChanged"]


def test_the_handshake_get_stream_carries_prompt_list_changes(surface_fleet: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        session = open_session(http, surface_fleet.url)
        with http.stream("GET", surface_fleet.url, headers=session) as response:
            assert response.status_code == 200
            stream = events(response.iter_lines())
            assert next(stream)["data"] == ""  # priming
            announce(surface_fleet, ChangeKind.PROMPTS)
            change = next(e for e in stream if e.get("data"))
    assert json.loads(change["data"]) == {
        "jsonrpc": "2.0",
        "method": "notifications/prompts/list_changed",
    }


async def test_capabilities_name_resources_prompts_and_completions(
    surface_fleet: RunningFleet,
) -> None:
    async with Client(surface_fleet.url, mode="legacy", read_timeout_seconds=30) as client:
        capabilities = client.server_capabilities
    assert capabilities.resources is not None and capabilities.resources.list_changed is True
    assert capabilities.prompts is not None and capabilities.prompts.list_changed is True
    assert capabilities.completions is not None
    # 2026-07-28: the client given that mode does not ask; server/discover says the same.
    body = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": ENVELOPE}}
    headers = {
        "accept": ACCEPT,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "server/discover",
    }
    async with httpx.AsyncClient(timeout=30) as http:
        discovered = (await http.post(surface_fleet.url, json=body, headers=headers)).json()
    assert discovered["result"]["capabilities"] == {
        "tools": {"listChanged": True},
        "logging": {},
        "resources": {"listChanged": True},
        "prompts": {"listChanged": True},
        "completions": {},
    }


def test_modern_listings_carry_cache_hints(surface_fleet: RunningFleet) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "prompts/list", "params": {"_meta": ENVELOPE}}
    headers = {"accept": ACCEPT, "mcp-protocol-version": "2026-07-28", "mcp-method": "prompts/list"}
    with httpx.Client(timeout=30) as http:
        result = http.post(surface_fleet.url, json=body, headers=headers).json()["result"]
    assert (result["resultType"], result["cacheScope"]) == ("complete", "public")
    assert result["ttlMs"] >= 0
