"""Resources, prompts and completions end to end (issue 4, ADR-0007), through a real fleet
serving ``tests.fixtures.tools:app``, with the official ``mcp`` client where it can express
the case and raw JSON-RPC where it cannot."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
import redis
import trio
from mcp import Client
from mcp.client.subscriptions import ResourceUpdated
from mcp_types import (
    BlobResourceContents,
    PromptReference,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
    TextContent,
    TextResourceContents,
)

from proto import ANNOUNCE_CATALOG, ChangeAnnouncement, ChangeKind, Keyspace, encode_announcement
from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE
from tests.e2e.test_sse_streams import open_session
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sse import events
from tests.fixtures.stdio_process import call, initialize, notification, request, stdio_front
from tests.fixtures.waiting import wait_until, wait_until_async

APP = "tests.fixtures.tools:app"
MODES = ["legacy", "2026-07-28"]
MODERN = "2026-07-28"
LEGACY = "2025-11-25"


@pytest.fixture(scope="module")
def surface_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server, "r" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app=APP,
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
        ("test://broken", "broken", None),
    ]
    assert resources[0].title == "Read me" and resources[0].description == "What this test app is."
    assert [t.uri_template for t in templates] == [
        "test://items/{item_id}{?detail}",
        "test://slow/{ms}",
        "test://waiting/{seconds}",
        "test://counted/{steps}",
    ]
    assert [p.name for p in prompts] == ["greet", "picky", "farewell"]
    greet = prompts[0]
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
    assert capabilities.resources.subscribe is True
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
        "resources": {"subscribe": True, "listChanged": True},
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


# --- reads, gets and completions through the call lane --------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_the_client_reads_text_binary_and_templated_resources(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        (readme,) = (await client.read_resource("test://readme")).contents
        (logo,) = (await client.read_resource("test://logo.png")).contents
        (item,) = (await client.read_resource("test://items/7?detail=true")).contents
    assert isinstance(readme, TextResourceContents)
    assert (readme.uri, readme.mime_type, readme.text) == (
        "test://readme",
        "text/markdown",
        "# mcpfleet test tools",
    )
    assert isinstance(logo, BlobResourceContents) and logo.mime_type == "image/png"
    assert base64.b64decode(logo.blob) == b"\x89PNG\r\n\x1a\n"
    # The template's variables arrive decoded for the handler's types (int, bool).
    assert isinstance(item, TextResourceContents) and item.mime_type == "application/json"
    assert item.uri == "test://items/7?detail=true"
    assert json.loads(item.text) == {"id": 7, "detail": True}


@pytest.mark.parametrize("mode", MODES)
async def test_the_client_gets_prompts(surface_fleet: RunningFleet, mode: str) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        plain = await client.get_prompt("greet", {"name": "Ada"})
        fancy = await client.get_prompt("greet", {"name": "Ada", "style": "fancy"})
    assert plain.description == "Greet someone."
    (message,) = plain.messages
    assert message.role == "user" and isinstance(message.content, TextContent)
    assert message.content.text == "Say hello to Ada (plain)."
    assert isinstance(fancy.messages[0].content, TextContent)
    assert fancy.messages[0].content.text == "Say hello to Ada (fancy)."


@pytest.mark.parametrize("mode", MODES)
async def test_the_client_completes_prompt_and_template_arguments(
    surface_fleet: RunningFleet, mode: str
) -> None:
    async with Client(surface_fleet.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        styles = await client.complete(
            PromptReference(type="ref/prompt", name="greet"), {"name": "style", "value": "f"}
        )
        # No provider for "name": an empty completion, answered by the front.
        names = await client.complete(
            PromptReference(type="ref/prompt", name="greet"), {"name": "name", "value": "A"}
        )
        items = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="test://items/{item_id}{?detail}"),
            {"name": "item_id", "value": "3"},
            context_arguments={"detail": "true"},
        )
    assert styles.completion.values == ["fancy", "formal"]
    assert styles.completion.total == 2 and not styles.completion.has_more
    assert names.completion.values == []
    assert items.completion.values == [
        "3",
        "30",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "38",
        "39",
    ]


# --- errors, on the raw wire -----------------------------------------------------------------


def legacy_rpc(http: httpx.Client, url: str, method: str, params: dict[str, Any]) -> httpx.Response:
    """A request of a fresh 2025-11-25 session."""
    headers = {**open_session(http, url), "mcp-protocol-version": LEGACY}
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    return http.post(url, json=body, headers=headers)


def modern_rpc(
    http: httpx.Client, url: str, method: str, params: dict[str, Any], *, name: str | None = None
) -> httpx.Response:
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**params, "_meta": ENVELOPE}}
    return http.post(url, json=body, headers=headers)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["id"] == 7 and "result" not in body, body
    error: dict[str, Any] = body["error"]
    return error


def test_an_unknown_resource_is_32002_in_the_handshake_era_and_32602_at_2026(
    surface_fleet: RunningFleet,
) -> None:
    uri = "test://nothing-here"
    with httpx.Client(timeout=30) as http:
        legacy = error_of(legacy_rpc(http, surface_fleet.url, "resources/read", {"uri": uri}), 200)
        modern = error_of(
            modern_rpc(http, surface_fleet.url, "resources/read", {"uri": uri}, name=uri), 400
        )
    assert (legacy["code"], legacy["data"]) == (-32002, {"uri": uri})
    assert (modern["code"], modern["data"]) == (-32602, {"uri": uri})
    assert "Resource not found" in modern["message"]


class Case(NamedTuple):
    """A request refused or failed on the raw wire, and what it is answered with."""

    method: str
    params: dict[str, Any]
    name: str | None  # Mcp-Name at 2026-07-28
    code: int
    message: str


def _complete(ref: dict[str, str], argument: str) -> dict[str, Any]:
    return {"ref": ref, "argument": {"name": argument, "value": ""}}


REFUSED = {
    "unknown-prompt": Case("prompts/get", {"name": "nope"}, "nope", -32602, "Unknown prompt: nope"),
    "missing-argument": Case(
        "prompts/get", {"name": "greet"}, "greet", -32602, "missing required field `name`"
    ),
    "unknown-argument": Case(
        "prompts/get", {"name": "greet", "arguments": {"name": "A", "tone": "x"}}, "greet", -32602,
        "tone",
    ),
    "bad-template-value": Case(
        "resources/read", {"uri": "test://items/seven"}, "test://items/seven", -32602, "item_id"
    ),
    "complete-unknown-prompt": Case(
        "completion/complete", _complete({"type": "ref/prompt", "name": "nope"}, "a"), None,
        -32602, "Unknown prompt: nope",
    ),
    "complete-unknown-argument": Case(
        "completion/complete", _complete({"type": "ref/prompt", "name": "greet"}, "x"), None,
        -32602, "has no argument 'x'",
    ),
    "complete-static-resource": Case(
        "completion/complete", _complete({"type": "ref/resource", "uri": "test://readme"}, "x"),
        None, -32602, "Unknown resource template",
    ),
}  # fmt: skip

FAILED = {
    "raises": Case(
        "resources/read", {"uri": "test://broken"}, "test://broken", -32603,
        "Resource 'test://broken' failed: RuntimeError: the disk is on fire",
    ),
    "times-out": Case(
        "resources/read", {"uri": "test://slow/2000"}, "test://slow/2000", -32603,
        "Resource 'test://slow/2000' timed out after 0.3 s",
    ),
    "tool-error": Case(
        "prompts/get", {"name": "picky", "arguments": {"name": "nobody"}}, "picky", -32602,
        "Nobody is not a name",
    ),
}  # fmt: skip


def answer(fleet: RunningFleet, era: str, case: Case) -> dict[str, Any]:
    """The error ``case`` is answered with, checking its HTTP status: a refusal is a
    completed exchange in the handshake era (200) and a 400 at 2026-07-28; our own failure
    (-32603) is a 500 in both."""
    with httpx.Client(timeout=30) as http:
        if era == "legacy":
            response = legacy_rpc(http, fleet.url, case.method, case.params)
            status = 500 if case.code == -32603 else 200
        else:
            response = modern_rpc(http, fleet.url, case.method, case.params, name=case.name)
            status = 500 if case.code == -32603 else 400
    return error_of(response, status)


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_requests_that_do_not_fit_the_catalog_are_invalid_params(
    surface_fleet: RunningFleet, era: str, case: Case
) -> None:
    error = answer(surface_fleet, era, case)
    assert error["code"] == case.code
    assert case.message in error["message"]


@pytest.mark.parametrize("case", FAILED.values(), ids=FAILED.keys())
@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_a_failing_handler_is_a_json_rpc_error(
    surface_fleet: RunningFleet, era: str, case: Case
) -> None:
    error = answer(surface_fleet, era, case)
    assert (error["code"], error["message"]) == (case.code, case.message)


def test_a_read_streams_its_progress_and_logs_when_asked(surface_fleet: RunningFleet) -> None:
    uri = "test://counted/3"
    meta = {**ENVELOPE, "progressToken": "read-1", "io.modelcontextprotocol/logLevel": "info"}
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "resources/read",
               "mcp-name": uri}  # fmt: skip
    body = {"jsonrpc": "2.0", "id": 7, "method": "resources/read",
            "params": {"uri": uri, "_meta": meta}}  # fmt: skip
    with httpx.Client(timeout=30) as http:
        response = http.post(surface_fleet.url, json=body, headers=headers)
    assert response.headers["content-type"] == "text/event-stream"
    messages = [
        json.loads(e["data"]) for e in events(iter(response.text.splitlines())) if e.get("data")
    ]
    progress = [m["params"] for m in messages if m.get("method") == "notifications/progress"]
    logs = [m["params"] for m in messages if m.get("method") == "notifications/message"]
    assert [(p["progressToken"], p["progress"], p["total"]) for p in progress] == [
        ("read-1", 1, 3),
        ("read-1", 2, 3),
        ("read-1", 3, 3),
    ]
    assert [(entry["logger"], entry["data"]) for entry in logs] == [
        ("test://counted/{steps}", f"read step {n}") for n in (1, 2, 3)
    ]
    assert messages[-1]["result"]["contents"][0]["text"] == "counted 3"


@pytest.mark.parametrize("mode", MODES)
async def test_a_read_cancelled_by_the_client_stops_its_handler(
    surface_fleet: RunningFleet, mode: str
) -> None:
    fleet = surface_fleet
    before = len(fleet.find("test_resource.cancelled"))
    received: list[object] = []
    async with Client(fleet.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:

                async def read() -> None:
                    received.append(await client.read_resource("test://waiting/60"))

                nursery.start_soon(read)
                await fleet.wait_for_calls_taken(1)
                scope.cancel()
        await fleet.wait_for_async("test_resource.cancelled", count=before + 1, deadline_s=10)
        # The worker is free again and still serving.
        (after,) = (await client.read_resource("test://readme")).contents
    assert received == []
    assert isinstance(after, TextResourceContents) and after.text == "# mcpfleet test tools"


# --- resource subscriptions ------------------------------------------------------------------


def subscribed_session(fleet: RunningFleet, uri: str) -> str | None:
    """The session whose subscriptions hold ``uri`` (unique to its test)."""
    client = redis.Redis.from_url(fleet.redis_url)
    keys = Keyspace(fleet.fleet)
    for key in client.scan_iter(keys.session_subscriptions("*")):
        if client.sismember(key, uri):
            return bytes(key).decode().split("{", 1)[1].split("}", 1)[0]
    return None


def get_stream_open(fleet: RunningFleet, session_id: str) -> bool:
    lock = Keyspace(fleet.fleet).get_stream_lock(session_id)
    return bool(redis.Redis.from_url(fleet.redis_url).exists(lock))


@pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed as of 2026-07-28")
async def test_a_subscribed_session_hears_of_updates_on_its_get_stream(
    surface_fleet: RunningFleet,
) -> None:
    mine, other = "test://items/4242", "test://items/4343"
    updates: list[str] = []

    async def on_message(message: object) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    async with Client(
        surface_fleet.url, mode="legacy", read_timeout_seconds=30, message_handler=on_message
    ) as client:
        await client.subscribe_resource(mine)  # type: ignore[deprecated]
        session_id = subscribed_session(surface_fleet, mine)
        assert session_id is not None
        # Updates go only where the session listens: wait for the client's GET stream.
        await wait_until_async(
            lambda: get_stream_open(surface_fleet, session_id), deadline_s=10, what="GET stream"
        )
        await client.call_tool("touch", {"uri": other})  # not subscribed: nothing
        await client.call_tool("touch", {"uri": mine})
        await wait_until_async(lambda: len(updates) >= 1, deadline_s=10, what="an update")
        await client.unsubscribe_resource(mine)  # type: ignore[deprecated]
        await client.subscribe_resource(other)  # type: ignore[deprecated]
        await client.call_tool("touch", {"uri": mine})  # no longer subscribed: nothing
        await client.call_tool("touch", {"uri": other})
        await wait_until_async(lambda: len(updates) >= 2, deadline_s=10, what="two updates")
    assert updates == [mine, other]


async def test_a_listen_stream_carries_updates_of_its_resources_only(
    surface_fleet: RunningFleet,
) -> None:
    async with (
        Client(surface_fleet.url, mode=MODERN, read_timeout_seconds=30) as client,
        client.listen(resource_subscriptions=["test://readme"]) as subscription,
    ):
        assert subscription.honored.resource_subscriptions == ["test://readme"]
        await client.call_tool("touch", {"uri": "test://logo.png"})  # not in its filter
        await client.call_tool("touch", {"uri": "test://readme"})
        with trio.fail_after(10):
            async for event in subscription:
                first = event
                break
    assert first == ResourceUpdated(uri="test://readme")


def test_subscribing_needs_a_resource_and_the_handshake_era(surface_fleet: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        unknown = legacy_rpc(http, surface_fleet.url, "resources/subscribe", {"uri": "test://no"})
        modern = modern_rpc(
            http, surface_fleet.url, "resources/subscribe", {"uri": "test://readme"}
        )
        unsubscribe = legacy_rpc(
            http, surface_fleet.url, "resources/unsubscribe", {"uri": "test://never-subscribed"}
        )
    assert error_of(unknown, 200)["code"] == -32002
    assert error_of(modern, 404)["code"] == -32601  # 2026-07-28 has listen streams instead
    assert unsubscribe.json() == {"jsonrpc": "2.0", "id": 7, "result": {}}


def test_a_stdio_connection_hears_of_updates_to_what_it_subscribed(
    surface_fleet: RunningFleet,
) -> None:
    front = stdio_front(surface_fleet, app=APP)
    try:
        front.send(initialize(0), notification("notifications/initialized"))
        front.result(0)
        front.send(request(1, "resources/subscribe", {"uri": "test://readme"}))
        assert front.result(1) == {}
        front.send(call(2, "touch", {"uri": "test://logo.png"}))
        front.send(call(3, "touch", {"uri": "test://readme"}))
        front.result(3)
        front.send(request(4, "resources/unsubscribe", {"uri": "test://readme"}))
        front.result(4)
        front.send(call(5, "touch", {"uri": "test://readme"}))
        front.result(5)
        front.send(request(6, "resources/subscribe", {"uri": "test://logo.png"}))
        front.result(6)
        front.send(call(7, "touch", {"uri": "test://logo.png"}))

        def updates() -> list[object]:
            return [
                m["params"]["uri"]
                for m in front.snapshot()
                if m.get("method") == "notifications/resources/updated"
            ]

        wait_until(lambda: len(updates()) >= 2, deadline_s=10, what="two updates")
        front.result(7)
        assert updates() == ["test://readme", "test://logo.png"]
        front.close_stdin()
        assert front.wait_exit(deadline_s=15) == 0, front.log()
        front.assert_stdout_was_protocol_only()
    finally:
        front.kill()


def test_a_modern_stdio_listen_hears_of_updates_to_its_resources_only(
    surface_fleet: RunningFleet,
) -> None:
    front = stdio_front(surface_fleet, app=APP)
    try:
        params = {"notifications": {"resourceSubscriptions": ["test://readme"]}, "_meta": ENVELOPE}
        front.send(request("sub", "subscriptions/listen", params))

        def of_listen(method: str) -> list[Any]:
            return [
                m["params"]
                for m in front.snapshot()
                if m.get("method") == method
                and m["params"]["_meta"].get("io.modelcontextprotocol/subscriptionId") == "sub"
            ]

        acknowledged = "notifications/subscriptions/acknowledged"
        wait_until(lambda: bool(of_listen(acknowledged)), deadline_s=10, what="the ack")
        assert of_listen(acknowledged)[0]["notifications"] == {
            "resourceSubscriptions": ["test://readme"]
        }
        front.send(call(1, "touch", {"uri": "test://logo.png"}, modern=True))  # not its URI
        front.result(1)
        front.send(call(2, "touch", {"uri": "test://readme"}, modern=True))
        front.result(2)
        updated = "notifications/resources/updated"
        wait_until(lambda: bool(of_listen(updated)), deadline_s=10, what="an update")
        front.close_stdin()
        assert front.wait_exit(deadline_s=15) == 0, front.log()
        assert [p["uri"] for p in of_listen(updated)] == ["test://readme"]
        front.assert_stdout_was_protocol_only()
    finally:
        front.kill()
