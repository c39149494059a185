"""Tools, prompts and resources turned on and off at runtime, fleet-wide (ADR-0010), through a
real fleet serving ``tests.fixtures.switchable_tools:app``: by a handler (sync and async) and
by an operator (``mcpfleet tools …``); what clients list and get at once, the list changes
they hear in both eras (a handshake-era GET stream, a 2026-07-28 listen stream, stdio), and
a disabled item answered exactly as an unknown one. The official ``mcp`` client where it can
express the case, raw JSON-RPC where it cannot."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import trio
from mcp import Client, MCPError
from mcp.client.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged
from mcp_types import (
    PromptListChangedNotification,
    ResourceListChangedNotification,
    TextContent,
    ToolListChangedNotification,
)

from proto import ChangeAnnouncement, Keyspace, encode_announcement
from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE
from tests.e2e.test_sse_streams import open_session
from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sse import events
from tests.fixtures.stdio_process import call, initialize, notification, stdio_front
from tests.fixtures.switchable_tools import SECRETS
from tests.fixtures.waiting import wait_until, wait_until_async

APP = "tests.fixtures.switchable_tools:app"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
MODES = ["legacy", MODERN]

Message = dict[str, Any]


@pytest.fixture(scope="module")
def switch_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server, "v" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app=APP,
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


@pytest.fixture
def fleet(switch_fleet: RunningFleet) -> RunningFleet:
    """The module's fleet with every item back to what the app declares (tests toggle)."""
    keys = Keyspace(switch_fleet.fleet)
    client = redis.Redis.from_url(switch_fleet.redis_url)
    for kind in ("tools", "prompts", "resources"):
        client.delete(keys.visibility(kind))
        client.publish(keys.change_channel(), encode_announcement(ChangeAnnouncement(kind)))
    with httpx.Client(timeout=30) as http:
        wait_until(
            lambda: listed(http, switch_fleet.url) == DECLARED, deadline_s=10, what="a reset"
        )
    return switch_fleet


def modern_rpc(
    http: httpx.Client, url: str, method: str, params: dict[str, Any], *, name: str | None = None
) -> httpx.Response:
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**params, "_meta": ENVELOPE}}
    return http.post(url, json=body, headers=headers)


def legacy_rpc(http: httpx.Client, url: str, method: str, params: dict[str, Any]) -> httpx.Response:
    """A request of a fresh 2025-11-25 session."""
    headers = {**open_session(http, url), "mcp-protocol-version": LEGACY}
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    return http.post(url, json=body, headers=headers)


def listed(http: httpx.Client, url: str) -> dict[str, list[str]]:
    """Every list as a 2026-07-28 client gets it from the front at ``url``."""

    def names(method: str, field: str, key: str) -> list[str]:
        result = modern_rpc(http, url, method, {}).json()["result"]
        return [entry[key] for entry in result[field]]

    return {
        "tools": names("tools/list", "tools", "name"),
        "prompts": names("prompts/list", "prompts", "name"),
        "resources": names("resources/list", "resources", "uri"),
    }


DECLARED = {
    "tools": ["echo", "unlock", "lock", "unlock_tool", "disable_unknown"],
    "prompts": ["plain"],
    "resources": ["test://plain"],
}
UNLOCKED = {
    "tools": ["echo", "secret", "unlock", "lock", "unlock_tool", "disable_unknown"],
    "prompts": ["plain", "secret_prompt"],
    "resources": ["test://plain", "test://secret"],
}


def get_stream_locks(fleet: RunningFleet) -> set[bytes]:
    """The sessions' GET streams held now (their locks)."""
    client = redis.Redis.from_url(fleet.redis_url)
    return set(client.scan_iter(Keyspace(fleet.fleet).get_stream_lock("*")))


# --- a handler turns items on and off -----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_handler_turns_items_on_and_off_and_its_client_sees_it_at_once(
    fleet: RunningFleet, mode: str
) -> None:
    # cache=None: a 2026-07-28 client caches lists for their ttlMs; this one refetches.
    async with Client(fleet.url, mode=mode, read_timeout_seconds=30, cache=None) as client:  # type: ignore[arg-type]
        assert "secret" not in [t.name for t in (await client.list_tools()).tools]
        assert (await client.call_tool("unlock", {})).content == [
            TextContent(type="text", text="unlocked")
        ]
        # The front that answered applied the change before the answer reached the client.
        assert [t.name for t in (await client.list_tools()).tools] == UNLOCKED["tools"]
        assert [p.name for p in (await client.list_prompts()).prompts] == UNLOCKED["prompts"]
        resources = (await client.list_resources()).resources
        assert [str(r.uri) for r in resources] == UNLOCKED["resources"]
        answer = await client.call_tool("secret", {"text": "s"})
        assert answer.content == [TextContent(type="text", text="secret s")]
        await client.call_tool("lock", {})
        assert [t.name for t in (await client.list_tools()).tools] == DECLARED["tools"]
        with pytest.raises(MCPError, match=r"^Unknown tool: secret$") as refused:
            await client.call_tool("secret", {"text": "s"})
        assert refused.value.code == -32602


async def test_a_handshake_session_hears_the_list_changes_on_its_get_stream(
    fleet: RunningFleet,
) -> None:
    heard: list[str] = []

    async def on_message(message: object) -> None:
        if isinstance(
            message,
            ToolListChangedNotification
            | PromptListChangedNotification
            | ResourceListChangedNotification,
        ):
            heard.append(message.method)

    before = get_stream_locks(fleet)
    async with Client(
        fleet.url, mode="legacy", read_timeout_seconds=30, message_handler=on_message
    ) as client:
        # Changes go only to an open GET stream (no replay): wait for the client's.
        await wait_until_async(
            lambda: bool(get_stream_locks(fleet) - before), deadline_s=10, what="GET stream"
        )
        await client.call_tool("unlock", {})
        await wait_until_async(lambda: len(heard) >= 3, deadline_s=10, what="three changes")
        assert sorted(heard) == [
            "notifications/prompts/list_changed",
            "notifications/resources/list_changed",
            "notifications/tools/list_changed",
        ]
        await client.call_tool("unlock", {})  # on already: nothing changes, nothing is said
        await client.call_tool("unlock_tool", {})
        await client.call_tool("lock", {})
        await wait_until_async(lambda: len(heard) >= 6, deadline_s=10, what="three more")
    assert len(heard) == 6


async def test_a_listen_stream_hears_each_list_it_asked_for(fleet: RunningFleet) -> None:
    async with (
        Client(fleet.url, mode=MODERN, read_timeout_seconds=30) as client,
        client.listen(
            tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True
        ) as everything,
        client.listen(prompts_list_changed=True) as prompts_only,
    ):
        cached = [t.name for t in (await client.list_tools()).tools]  # cached for its ttlMs
        await client.call_tool("unlock_tool", {})  # the tool list only
        await client.call_tool("unlock", {})  # the rest
        heard: set[type] = set()
        with trio.fail_after(10):
            async for event in everything:
                heard.add(type(event))
                if len(heard) == 3:
                    break
        assert heard == {ToolsListChanged, PromptsListChanged, ResourcesListChanged}
        with trio.fail_after(10):
            first = await anext(prompts_only)
        assert isinstance(first, PromptsListChanged)  # never a tools change
        # The client evicted what it cached on hearing the change: it lists the new tools.
        assert [t.name for t in (await client.list_tools()).tools] == UNLOCKED["tools"]
        assert cached == DECLARED["tools"]


def test_a_stdio_connection_hears_the_list_changes(fleet: RunningFleet) -> None:
    front = stdio_front(fleet, app=APP)
    try:
        front.send(initialize(0), notification("notifications/initialized"))
        front.result(0)
        front.send(call(1, "unlock_tool", {}))
        front.result(1)

        def changes() -> list[object]:
            return [m.get("method") for m in front.snapshot() if "id" not in m]

        wait_until(lambda: len(changes()) >= 1, deadline_s=10, what="a tools change")
        front.send(call(2, "secret", {"text": "x"}))
        assert front.result(2)["content"] == [{"type": "text", "text": "secret x"}]
        front.close_stdin()
        assert front.wait_exit(deadline_s=15) == 0, front.log()
        assert changes() == ["notifications/tools/list_changed"]
        front.assert_stdout_was_protocol_only()
    finally:
        front.kill()


# --- a disabled item is an unknown one ------------------------------------------------------


def _same_answer(
    http: httpx.Client, url: str, method: str, disabled: dict[str, Any], unknown: dict[str, Any]
) -> list[Message]:
    """``method`` of the disabled item answers exactly as of an unknown one (names aside), in
    both eras; returns the disabled item's errors (handshake era, then 2026-07-28)."""
    key = "uri" if method == "resources/read" else "name"
    name, other = disabled[key], unknown[key]
    errors = []
    for era in (LEGACY, MODERN):
        if era == MODERN:
            off = modern_rpc(http, url, method, disabled, name=name)
            never = modern_rpc(http, url, method, unknown, name=other)
        else:
            off = legacy_rpc(http, url, method, disabled)
            never = legacy_rpc(http, url, method, unknown)
        assert off.status_code == never.status_code
        assert off.text.replace(name, "X") == never.text.replace(other, "X")
        errors.append(off.json()["error"])
    return errors


def test_a_disabled_item_is_answered_exactly_as_an_unknown_one(fleet: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        tools = _same_answer(
            http, fleet.url, "tools/call",
            {"name": "secret", "arguments": {"text": "x"}},
            {"name": "missing", "arguments": {"text": "x"}},
        )  # fmt: skip
        prompts = _same_answer(
            http, fleet.url, "prompts/get", {"name": "secret_prompt"}, {"name": "missing_prompt"}
        )
        resources = _same_answer(
            http, fleet.url, "resources/read", {"uri": "test://secret"}, {"uri": "test://missing"}
        )
    assert tools == [{"code": -32602, "message": "Unknown tool: secret"}] * 2
    assert prompts == [{"code": -32602, "message": "Unknown prompt: secret_prompt"}] * 2
    assert [error["code"] for error in resources] == [-32002, -32602]
    assert all(error["data"] == {"uri": "test://secret"} for error in resources)


def test_only_registered_items_can_be_turned_on_and_off(fleet: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        answer = modern_rpc(
            http, fleet.url, "tools/call", {"name": "disable_unknown"}, name="disable_unknown"
        ).json()
    result = answer["result"]
    assert result["isError"] is True
    assert "no tool registered as 'no_such_tool'" in result["content"][0]["text"]


# --- an operator turns items on and off ---------------------------------------------------


def mcpfleet(fleet: RunningFleet, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MCPFLEET, *args, "--app", APP, "--redis", fleet.redis_url, "--fleet", fleet.fleet],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip


def listen(http: httpx.Client, url: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": "ops",
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": ENVELOPE},
    }
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": body["method"]}
    return http.stream("POST", url, json=body, headers=headers)  # type: ignore[return-value]


def test_an_operator_turns_a_tool_off_and_on_for_every_client(fleet: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http, listen(http, fleet.url) as stream:  # type: ignore[attr-defined]
        frames = (json.loads(event["data"]) for event in events(stream.iter_lines()))
        assert next(frames)["method"] == "notifications/subscriptions/acknowledged"
        off = mcpfleet(fleet, "tools", "disable", "echo")
        assert off.returncode == 0, off.stderr
        assert off.stdout == "tools disabled: echo (1 changed; announced to every client)\n"
        assert next(frames)["method"] == "notifications/tools/list_changed"
        assert "echo" not in listed(http, fleet.url)["tools"]
        shown = mcpfleet(fleet, "tools", "list")
        assert shown.stdout.splitlines()[:2] == [
            "echo\tdisabled\t(override)",
            "secret\tdisabled\t(declared)",
        ]
        again = mcpfleet(fleet, "tools", "disable", "echo")
        assert "0 changed; nothing changed, nothing announced" in again.stdout
        on = mcpfleet(fleet, "tools", "enable", "echo", "secret")
        assert on.returncode == 0, on.stderr
        assert next(frames)["method"] == "notifications/tools/list_changed"
        assert listed(http, fleet.url)["tools"] == UNLOCKED["tools"]
        reset = mcpfleet(fleet, "tools", "reset", "secret", "retired_long_ago")
        assert reset.returncode == 0, reset.stderr
        assert listed(http, fleet.url)["tools"] == DECLARED["tools"]
    unknown = mcpfleet(fleet, "prompts", "disable", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().endswith("registers no prompts named 'nope'")
    resources = mcpfleet(fleet, "resources", "enable", SECRETS["resources"])
    assert resources.returncode == 0, resources.stderr
    with httpx.Client(timeout=30) as http:
        wait_until(
            lambda: SECRETS["resources"] in listed(http, fleet.url)["resources"],
            deadline_s=10,
            what="the resource on",
        )
