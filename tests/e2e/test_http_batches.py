"""JSON-RPC batches over Streamable HTTP (mcp-protocol.md 2.2): served on 2025-03-26 sessions
as a JSON array (or an SSE stream once progress flows), refused with 400 -32600 everywhere
else, as conformance requires from 2025-06-18 on. The official client cannot send batches,
so these tests speak raw HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import trio

from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sse import events as sse_events

ACCEPT = "application/json, text/event-stream"
MODERN = "2026-07-28"


@pytest.fixture(scope="module")
def front(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    # Keep-alive comments far apart, so a stream that fails to end is a read timeout
    # (REQUEST_TIMEOUT) rather than a test that waits forever.
    env = {"MCPFLEET_FRONT__SSE_KEEPALIVE_S": "120"}
    running = start_fleet(
        redis_server, "b" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("b"), env=env
    )
    yield running
    assert running.stop() == 0
    assert running.errors() == [], running.errors()


REQUEST_TIMEOUT = httpx.Timeout(30, read=20)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        yield client


def open_session(http: httpx.Client, url: str, version: str = "2025-03-26") -> dict[str, str]:
    """``initialize`` at ``version``; the headers of the session's later requests."""
    params = {"protocolVersion": version, "capabilities": {},
              "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
    init = http.post(
        url,
        json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params},
        headers={"accept": ACCEPT},
    )
    assert init.status_code == 200, init.text
    assert init.json()["result"]["protocolVersion"] == version
    return {"mcp-session-id": init.headers["mcp-session-id"], "accept": ACCEPT}


def request(rid: object, method: str, params: object = None) -> dict[str, object]:
    message: dict[str, object] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        message["params"] = params
    return message


def call(rid: object, tool: str, arguments: object, meta: object = None) -> dict[str, object]:
    params: dict[str, object] = {"name": tool, "arguments": arguments}
    if meta is not None:
        params["_meta"] = meta
    return request(rid, "tools/call", params)


def notification(method: str, params: object = None) -> dict[str, object]:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def assert_refused(response: httpx.Response, status: int = 400) -> str:
    """A single JSON-RPC error object, -32600 with id null; returns its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict), body
    assert (body["jsonrpc"], body["id"], body["error"]["code"]) == ("2.0", None, -32600)
    return str(body["error"]["message"])


# --- served on 2025-03-26 ----------------------------------------------------------------


def test_requests_are_answered_with_an_array_in_batch_order(
    front: RunningFleet, http: httpx.Client
) -> None:
    session = open_session(http, front.url)
    batch = [
        call("slow", "wait", {"ms": 300}),  # finishes last, still answered first
        request("p", "ping"),
        call(3, "echo", {"text": "in a batch"}),
        request("l", "tools/list"),
        notification("notifications/initialized"),
    ]
    response = http.post(front.url, json=batch, headers=session)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    replies = response.json()
    assert [r["id"] for r in replies] == ["slow", "p", 3, "l"]
    assert all(r["jsonrpc"] == "2.0" for r in replies)
    assert replies[0]["result"]["content"][0]["text"] == "waited 300 ms"
    assert replies[1]["result"] == {}
    assert replies[2]["result"]["content"][0]["text"] == "in a batch"
    assert "structuredContent" not in replies[2]["result"]  # served at 2025-03-26
    assert {t["name"] for t in replies[3]["result"]["tools"]} >= {"echo", "wait"}


def test_notifications_and_responses_only_get_202(front: RunningFleet, http: httpx.Client) -> None:
    session = open_session(http, front.url)
    batch = [
        notification("notifications/initialized"),
        notification("notifications/unknown", {"x": 1}),
        {"jsonrpc": "2.0", "id": "server-1", "result": {}},  # a posted response
        notification("notifications/cancelled", {"requestId": "never-sent"}),
    ]
    response = http.post(front.url, json=batch, headers=session)
    assert response.status_code == 202
    assert response.content == b""


def test_each_invalid_member_gets_its_own_error(front: RunningFleet, http: httpx.Client) -> None:
    session = open_session(http, front.url)
    envelope = {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}
    batch = [
        request("ok", "ping"),
        {"foo": 1},
        {"jsonrpc": "2.0", "id": 7},  # neither a request nor a response
        5,
        [request("nested", "ping")],
        request("ok", "ping"),  # the same id twice
        request("enveloped", "tools/list", envelope),
        request("unknown", "no/such/method"),
        call("bad-args", "echo", {"text": 5}),
        notification("notifications/initialized"),
    ]
    response = http.post(front.url, json=batch, headers=session)
    assert response.status_code == 200, response.text
    replies = response.json()
    codes = [(r["id"], r["error"]["code"] if "error" in r else None) for r in replies]
    assert codes == [
        ("ok", None),
        (None, -32600),
        (7, -32600),
        (None, -32600),
        (None, -32600),
        ("ok", -32600),
        ("enveloped", -32020),
        ("unknown", -32601),
        ("bad-args", -32602),  # 2025-03-26: invalid arguments are a protocol error
    ]
    assert "twice" in replies[5]["error"]["message"]


def test_initialize_inside_a_batch_is_refused(front: RunningFleet, http: httpx.Client) -> None:
    session = open_session(http, front.url)
    params = {"protocolVersion": "2025-03-26", "capabilities": {},
              "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
    batch = [request("init", "initialize", params), request("p", "ping")]
    response = http.post(front.url, json=batch, headers=session)
    assert response.status_code == 200
    init, ping = response.json()
    assert (init["id"], init["error"]["code"]) == ("init", -32600)
    assert "initialize" in init["error"]["message"]
    assert (ping["id"], ping["result"]) == ("p", {})
    assert "mcp-session-id" not in response.headers  # no session was opened


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[]", "empty"),
        (b"  [ ] ", "empty"),
        (json.dumps([request(i, "ping") for i in range(65)]).encode(), "limit of 64"),
    ],
)
def test_a_batch_refused_whole_gets_one_error(
    front: RunningFleet, http: httpx.Client, body: bytes, words: str
) -> None:
    session = {**open_session(http, front.url), "content-type": "application/json"}
    response = http.post(front.url, content=body, headers=session)
    assert words in assert_refused(response)


def test_a_batch_that_is_not_json_is_a_parse_error(front: RunningFleet, http: httpx.Client) -> None:
    session = {**open_session(http, front.url), "content-type": "application/json"}
    response = http.post(front.url, content=b'[{"jsonrpc": "2.0",', headers=session)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700


def test_progress_turns_the_answer_into_a_resumable_stream(
    front: RunningFleet, http: httpx.Client
) -> None:
    session = open_session(http, front.url)
    arguments = {"seconds": 0.6, "steps": 3}
    batch = [
        call("slow", "sleep_progress", arguments, {"progressToken": "tok"}),
        call("quick", "echo", {"text": "held, then streamed"}),
        notification("notifications/initialized"),
    ]
    with http.stream("POST", front.url, json=batch, headers=session) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        events = list(sse_events(response.iter_lines()))  # the stream ends by itself
    # 2025-03-26 clients get no priming event, but every event is stored with an id.
    assert all(e["data"] and e["id"] for e in events)
    messages = [json.loads(e["data"]) for e in events]
    progress = [m["params"] for m in messages if m.get("method") == "notifications/progress"]
    assert [(p["progressToken"], p["progress"]) for p in progress] == [
        ("tok", 1),
        ("tok", 2),
        ("tok", 3),
    ]
    responses = {m["id"]: m for m in messages if "id" in m}
    assert set(responses) == {"slow", "quick"}
    assert responses["quick"]["result"]["content"][0]["text"] == "held, then streamed"
    assert messages[-1]["id"] == "slow"  # the stream ends with the last response
    assert messages[-1]["result"]["content"][0]["text"] == "slept 0.6 s in 3 steps"
    # Resumed after its first event, the stream replays the rest and ends (the last
    # response was stored as final).
    resume = {**session, "last-event-id": events[0]["id"]}
    with http.stream("GET", front.url, headers=resume) as replay:
        assert replay.status_code == 200
        rest = list(sse_events(replay.iter_lines()))
    assert [e["id"] for e in rest] == [e["id"] for e in events[1:]]


async def test_a_request_cancelled_by_a_later_post_is_left_out(front: RunningFleet) -> None:
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
        params = {"protocolVersion": "2025-03-26", "capabilities": {},
                  "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
        init = await client.post(
            front.url, json=request(0, "initialize", params), headers={"accept": ACCEPT}
        )
        session = {"mcp-session-id": init.headers["mcp-session-id"], "accept": ACCEPT}
        answers: list[httpx.Response] = []

        async def post(batch: list[dict[str, object]]) -> None:
            answers.append(await client.post(front.url, json=batch, headers=session))

        batch = [call("long", "wait", {"ms": 30_000}), call("e", "echo", {"text": "kept"})]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(post, batch)
            await front.wait_for_calls_taken(1)  # "long" runs; "e" is done or nearly
            cancel = notification("notifications/cancelled", {"requestId": "long"})
            acknowledged = await client.post(front.url, json=[cancel], headers=session)
            assert acknowledged.status_code == 202
        (answer,) = answers
        assert answer.status_code == 200
        assert [r["id"] for r in answer.json()] == ["e"]

        # Every request of a batch cancelled: no response at all, as for a single one.
        answers.clear()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(post, [call("alone", "wait", {"ms": 30_000})])
            await front.wait_for_calls_taken(1)
            cancel = notification("notifications/cancelled", {"requestId": "alone"})
            assert (await client.post(front.url, json=cancel, headers=session)).status_code == 202
        (answer,) = answers
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/event-stream"
        assert answer.content == b""


# --- refused everywhere else -------------------------------------------------------------


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
@pytest.mark.parametrize("with_header", [True, False])
def test_a_batch_on_a_later_handshake_session_is_refused(
    front: RunningFleet, http: httpx.Client, version: str, with_header: bool
) -> None:
    session = open_session(http, front.url, version)
    if with_header:
        session["mcp-protocol-version"] = version
    response = http.post(front.url, json=[request(1, "ping")], headers=session)
    assert "2025-03-26" in assert_refused(response)


def test_a_batch_at_2026_07_28_is_refused(front: RunningFleet, http: httpx.Client) -> None:
    envelope = {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                          "io.modelcontextprotocol/clientCapabilities": {}}}  # fmt: skip
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/list"}
    response = http.post(front.url, json=[request(1, "tools/list", envelope)], headers=headers)
    assert "2025-03-26" in assert_refused(response)


@pytest.mark.parametrize("version_header", [None, "2025-03-26"])
def test_a_batch_without_a_session_is_refused(
    front: RunningFleet, http: httpx.Client, version_header: str | None
) -> None:
    headers = {"accept": ACCEPT}
    if version_header is not None:
        headers["mcp-protocol-version"] = version_header
    response = http.post(front.url, json=[request(1, "ping")], headers=headers)
    assert "Mcp-Session-Id" in assert_refused(response)


def test_a_batch_on_an_unknown_session_is_404(front: RunningFleet, http: httpx.Client) -> None:
    headers = {"accept": ACCEPT, "mcp-session-id": uuid.uuid4().hex}
    response = http.post(front.url, json=[request(1, "ping")], headers=headers)
    assert_refused(response, 404)
