"""Handler logs reaching HTTP clients (issue 4): ``logging/setLevel`` in the handshake era,
stored with the session so every front honours it; the per-request ``_meta`` opt-in at
2026-07-28; the level filter; the rate bound; and the principal a handler sees. Through
two fronts of one deployment, real workers and the official ``mcp`` client where it can say
it (raw httpx for what it cannot: unknown levels, headers, a second front)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
import redis
import trio
from mcp import Client
from mcp_types import LoggingMessageNotificationParams, TextContent

from proto import LOG_LEVELS, Keyspace, SessionRecord
from tests.fixtures.fleet import RunningFleet, start_pair, stop_pair
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async

APP = "tests.fixtures.tools:app"
ACCEPT = "application/json, text/event-stream"
MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"

# The client marks logging deprecated (2026-07-28, SEP-2577); it still works, as tested.
pytestmark = pytest.mark.filterwarnings("ignore:The logging capability is deprecated")


@pytest.fixture(scope="module")
def pair(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningFleet, RunningFleet]]:
    """Two fronts of one deployment serving the test tools."""
    one, two = start_pair(redis_server, tmp_path_factory, app=APP)
    yield one, two
    stop_pair(one, two)


@pytest.fixture
def front(pair: tuple[RunningFleet, RunningFleet]) -> RunningFleet:
    return pair[0]


async def worker_log(
    pair: tuple[RunningFleet, RunningFleet], event: str, count: int, **fields: object
) -> list[dict[str, object]]:
    """The ``event`` lines of both fleets (either fleet's worker may take a call), once
    there are ``count``."""

    def found() -> list[dict[str, object]]:
        return [e for fleet in pair for e in fleet.find(event, **fields)]

    await wait_until_async(
        lambda: len(found()) >= count, deadline_s=30, what=f"{count}x {event} {fields}"
    )
    return found()


class Logs:
    """A ``logging_callback`` that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[LoggingMessageNotificationParams] = []

    async def __call__(self, params: LoggingMessageNotificationParams) -> None:
        self.received.append(params)

    @property
    def levels(self) -> list[str]:
        return [p.level for p in self.received]


def text_of(result: Any) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]
    assert len(blocks) == 1, result
    return blocks[0].text


# --- raw HTTP helpers ----------------------------------------------------------------------


def open_session(http: httpx.Client, url: str) -> dict[str, str]:
    params = {"protocolVersion": "2025-11-25", "capabilities": {},
              "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
    init = http.post(
        url,
        json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params},
        headers={"accept": ACCEPT},
    )
    assert init.status_code == 200, init.text
    assert init.json()["result"]["capabilities"]["logging"] == {}
    return {"mcp-session-id": init.headers["mcp-session-id"], "accept": ACCEPT,
            "mcp-protocol-version": "2025-11-25"}  # fmt: skip


def rpc(rid: int, method: str, params: dict[str, object]) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


def messages_of(response: httpx.Response) -> list[dict[str, Any]]:
    """Every JSON-RPC message of a response, plain JSON or SSE (comments and the priming
    event skipped)."""
    if response.headers["content-type"] == "application/json":
        return [response.json()]
    found = []
    for line in response.text.splitlines():
        if line.startswith("data:") and line[5:].strip():
            found.append(json.loads(line[5:]))
    return found


def log_notifications(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["params"] for m in messages if m.get("method") == "notifications/message"]


def modern_call(
    http: httpx.Client, url: str, tool: str, arguments: object, *, level: str | None = None
) -> httpx.Response:
    meta: dict[str, object] = dict(ENVELOPE)
    if level is not None:
        meta[LOG_LEVEL_KEY] = level
    body = rpc(1, "tools/call", {"name": tool, "arguments": arguments, "_meta": meta})
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call",
               "mcp-name": tool}  # fmt: skip
    return http.post(url, json=body, headers=headers)


# --- handshake era -------------------------------------------------------------------------


async def test_after_set_level_the_client_gets_entries_at_and_above_it(
    front: RunningFleet,
) -> None:
    logs = Logs()
    async with Client(front.url, mode="legacy", logging_callback=logs) as client:
        await client.set_logging_level("warning")
        result = await client.call_tool("log_each_level", {})
    assert text_of(result) == "logged"
    assert logs.levels == ["warning", "error", "critical", "alert", "emergency"]
    first = logs.received[0]
    assert (first.logger, first.data) == ("log_each_level", "a warning entry")


async def test_a_sync_handler_logs_structured_data_in_order(front: RunningFleet) -> None:
    logs = Logs()
    async with Client(front.url, mode="legacy", logging_callback=logs) as client:
        await client.set_logging_level("debug")
        result = await client.call_tool("log_with_data", {"count": 3})
    assert text_of(result) == "logged 3"
    assert [p.data for p in logs.received] == [
        {"message": f"step {n}", "data": {"step": n, "of": 3}} for n in range(3)
    ]
    assert {p.level for p in logs.received} == {"info"}


async def test_before_set_level_nothing_is_sent(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    logs = Logs()
    async with Client(pair[0].url, mode="legacy", logging_callback=logs) as client:
        result = await client.call_tool("log_each_level", {})
    assert text_of(result) == "logged"
    assert logs.received == []
    # The worker's own log has every entry its level lets through (the fleet's log_level
    # is info), with the request id, whatever the client took.
    entries = await worker_log(pair, "tool.log", 7, tool="log_each_level")
    assert {e["mcp_level"] for e in entries} == set(LOG_LEVELS) - {"debug"}
    assert {e["level"] for e in entries} == {"info", "warning"}  # fleet errors stay the fleet's
    assert all(e["request_id"] and e["principal"] == "anonymous" for e in entries)


def test_without_a_level_a_call_is_answered_as_plain_json(front: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        session = open_session(http, front.url)
        response = http.post(front.url, json=rpc(1, "tools/call", {"name": "log_each_level",
                             "arguments": {}}), headers=session)  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["result"]["content"][0]["text"] == "logged"


def test_set_level_is_stored_with_the_session_and_honoured_by_another_front(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    one, two = pair
    with httpx.Client(timeout=30) as http:
        session = open_session(http, one.url)
        answer = http.post(one.url, json=rpc(1, "logging/setLevel", {"level": "error"}),
                           headers=session)  # fmt: skip
        assert answer.status_code == 200
        assert answer.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
        stored = redis.Redis.from_url(one.redis_url).get(
            Keyspace(one.fleet).session(session["mcp-session-id"])
        )
        assert stored is not None
        assert msgspec.json.decode(stored, type=SessionRecord).log_level == "error"
        response = http.post(two.url, json=rpc(2, "tools/call", {"name": "log_each_level",
                             "arguments": {}}), headers=session)  # fmt: skip
    assert response.headers["content-type"] == "text/event-stream"
    messages = messages_of(response)
    assert [p["level"] for p in log_notifications(messages)] == [
        "error", "critical", "alert", "emergency",
    ]  # fmt: skip
    assert messages[-1]["id"] == 2
    assert messages[-1]["result"]["content"][0]["text"] == "logged"


def test_an_unknown_level_is_invalid_params(front: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        session = open_session(http, front.url)
        bad = http.post(front.url, json=rpc(1, "logging/setLevel", {"level": "loud"}),
                        headers=session)  # fmt: skip
        missing = http.post(front.url, json=rpc(2, "logging/setLevel", {}), headers=session)
    for response, rid in ((bad, 1), (missing, 2)):
        assert response.status_code == 200
        error = response.json()["error"]
        assert response.json()["id"] == rid
        assert error["code"] == -32602
    assert "debug" in bad.json()["error"]["message"]


async def test_a_handler_logging_in_a_tight_loop_stays_bounded(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    logs = Logs()
    async with Client(pair[0].url, mode="legacy", logging_callback=logs) as client:
        await client.set_logging_level("debug")
        result = await client.call_tool("log_flood", {"count": 5000})
    assert text_of(result) == "flooded 5000"
    flood = [p for p in logs.received if p.logger == "log_flood"]
    notes = [p for p in logs.received if p.logger == "mcpfleet"]
    # A burst of 50 and then 50 per second: the loop takes well under a few seconds.
    assert 50 <= len(flood) < 500
    assert notes and all(p.level == "warning" for p in notes)
    dropped = sum(int(str(p.data).split()[0]) for p in notes)
    assert len(flood) + dropped == 5000
    reported = await worker_log(pair, "tool.log_dropped", len(notes), tool="log_flood")
    assert sum(int(str(e["dropped"])) for e in reported) == dropped


def test_a_handshake_caller_is_anonymous_and_bound_to_its_session(
    front: RunningFleet,
) -> None:
    with httpx.Client(timeout=30) as http:
        session = open_session(http, front.url)
        response = http.post(front.url, json=rpc(1, "tools/call", {"name": "whoami",
                             "arguments": {}}), headers=session)  # fmt: skip
    principal = response.json()["result"]["structuredContent"]
    assert principal == {
        "kind": "anonymous", "subject": "", "issuer": "", "scopes": [],
        "session_id": session["mcp-session-id"], "name": "anonymous",
    }  # fmt: skip


# --- 2026-07-28 ------------------------------------------------------------------------------


async def test_modern_requests_get_entries_only_when_they_opt_in(front: RunningFleet) -> None:
    quiet, opted, synced = Logs(), Logs(), Logs()
    async with Client(front.url, mode=MODERN, logging_callback=quiet) as client:
        await client.call_tool("log_each_level", {})
        await client.call_tool("log_with_data", {"count": 2})
    async with Client(front.url, mode=MODERN, logging_callback=opted, log_level="error") as client:
        result = await client.call_tool("log_each_level", {})
    async with Client(front.url, mode=MODERN, logging_callback=synced, log_level="info") as client:
        from_thread = await client.call_tool("log_with_data", {"count": 2})  # a sync handler
    assert text_of(result) == "logged"
    assert quiet.received == []
    assert opted.levels == ["error", "critical", "alert", "emergency"]
    assert text_of(from_thread) == "logged 2"
    assert [(p.level, p.logger, p.data) for p in synced.received] == [
        ("info", "log_with_data", {"message": f"step {n}", "data": {"step": n, "of": 2}})
        for n in range(2)
    ]


async def test_concurrent_modern_calls_keep_their_entries_apart(front: RunningFleet) -> None:
    """One opted-in call and one not, running at once: entries go only to their own call's
    response, never to the other's."""
    answers: dict[str, httpx.Response] = {}

    async def run(name: str, level: str | None) -> None:
        meta: dict[str, object] = dict(ENVELOPE)
        if level is not None:
            meta[LOG_LEVEL_KEY] = level
        body = rpc(1, "tools/call", {"name": "log_with_data", "arguments": {"count": 5},
                   "_meta": meta})  # fmt: skip
        headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call",
                   "mcp-name": "log_with_data"}  # fmt: skip
        answers[name] = await http.post(front.url, json=body, headers=headers)

    async with httpx.AsyncClient(timeout=30) as http, trio.open_nursery() as nursery:
        nursery.start_soon(run, "quiet", None)
        nursery.start_soon(run, "opted", "info")
    quiet, opted = answers["quiet"], answers["opted"]
    assert quiet.headers["content-type"] == "application/json"
    assert quiet.json()["result"]["content"][0]["text"] == "logged 5"
    assert opted.headers["content-type"] == "text/event-stream"
    messages = messages_of(opted)
    assert [p["data"]["data"]["step"] for p in log_notifications(messages)] == [0, 1, 2, 3, 4]
    assert messages[-1]["result"]["content"][0]["text"] == "logged 5"


def test_a_modern_request_without_a_level_gets_no_stream_and_no_entry(
    front: RunningFleet,
) -> None:
    with httpx.Client(timeout=30) as http:
        quiet = modern_call(http, front.url, "log_each_level", {})
        opted = modern_call(http, front.url, "log_each_level", {}, level="notice")
    assert quiet.headers["content-type"] == "application/json"
    assert log_notifications(messages_of(quiet)) == []
    assert opted.headers["content-type"] == "text/event-stream"
    levels = [p["level"] for p in log_notifications(messages_of(opted))]
    assert levels == list(LOG_LEVELS[LOG_LEVELS.index("notice") :])


def test_a_modern_unknown_level_is_invalid_params(front: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        response = modern_call(http, front.url, "log_each_level", {}, level="loud")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602


def test_modern_set_level_is_not_a_method_and_discover_declares_logging(
    front: RunningFleet,
) -> None:
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN}
    with httpx.Client(timeout=30) as http:
        set_level = http.post(
            front.url,
            json=rpc(1, "logging/setLevel", {"level": "info", "_meta": ENVELOPE}),
            headers={**headers, "mcp-method": "logging/setLevel"},
        )
        discover = http.post(
            front.url,
            json=rpc(2, "server/discover", {"_meta": ENVELOPE}),
            headers={**headers, "mcp-method": "server/discover"},
        )
    assert set_level.status_code == 404
    assert set_level.json()["error"]["code"] == -32601
    assert discover.json()["result"]["capabilities"]["logging"] == {}


async def test_a_modern_caller_is_anonymous_without_a_session(front: RunningFleet) -> None:
    async with Client(front.url, mode=MODERN) as client:
        result = await client.call_tool("whoami", {})
    assert result.structured_content is not None
    assert result.structured_content["name"] == "anonymous"
    assert result.structured_content["session_id"] == ""
