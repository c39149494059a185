"""Handlers asking the client for input, end to end (ADR-0009): elicitation, sampling and
roots from tools, prompts and resources, in both eras, over HTTP (two fronts of one
deployment) and stdio, with the official ``mcp`` client answering through its callbacks;
raw HTTP for what the client never does (a forged ``requestState``, an answer from another
session)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import mcp_types as types
import pytest
import redis
from mcp import Client
from mcp.shared.exceptions import MCPError

from proto import Keyspace
from tests.e2e.test_stdio_mcp_client import mcpfleet
from tests.fixtures.fleet import RunningFleet, start_pair, stop_pair
from tests.fixtures.redis_server import RedisServer

APP = "tests.fixtures.asking_tools:app"
ACCEPT = "application/json, text/event-stream"
MODERN = "2026-07-28"
MODES = ["legacy", MODERN]
EVERYTHING = {"elicitation": {}, "sampling": {}, "roots": {}}


@pytest.fixture(scope="module")
def pair(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningFleet, RunningFleet]]:
    """Two fronts of one deployment serving the asking tools."""
    one, two = start_pair(redis_server, tmp_path_factory, app=APP)
    yield one, two
    stop_pair(one, two)


@pytest.fixture
def front(pair: tuple[RunningFleet, RunningFleet]) -> RunningFleet:
    return pair[0]


class FakeUser:
    """The client side: answers elicitation, sampling and roots, and counts the questions."""

    def __init__(self, *, form: dict[str, Any] | None = None, action: str = "accept") -> None:
        self.form = form if form is not None else {"name": "eu-west", "zone": 3}
        self.action = action
        self.elicited: list[types.ElicitRequestParams] = []
        self.sampled: list[types.CreateMessageRequestParams] = []
        self.roots_asked = 0

    async def elicit(
        self, context: object, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self.elicited.append(params)
        if isinstance(params, types.ElicitRequestURLParams):
            return types.ElicitResult(action=self.action)  # type: ignore[arg-type]
        if self.action != "accept":
            return types.ElicitResult(action=self.action)  # type: ignore[arg-type]
        return types.ElicitResult(action="accept", content=self.form)

    async def sample(
        self, context: object, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        self.sampled.append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Hi there"),
            model="test-model",
        )

    async def roots(self, context: object) -> types.ListRootsResult:
        self.roots_asked += 1
        return types.ListRootsResult(
            roots=[types.Root(uri="file:///work", name="work")]  # type: ignore[arg-type]
        )

    def client(self, target: Any, mode: str, **options: Any) -> Client:
        return Client(
            target,
            mode=mode,  # type: ignore[arg-type]
            read_timeout_seconds=30,
            elicitation_callback=self.elicit,  # type: ignore[arg-type]
            sampling_callback=self.sample,  # type: ignore[arg-type]
            list_roots_callback=self.roots,  # type: ignore[arg-type]
            **options,
        )


def text_of(result: Any) -> str:
    blocks = [b for b in result.content if isinstance(b, types.TextContent)]
    assert len(blocks) == 1, result
    return blocks[0].text


# --- with the official client ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_elicits_a_typed_form(front: RunningFleet, mode: str) -> None:
    user = FakeUser()
    async with user.client(front.url, mode) as client:
        result = await client.call_tool("pick_region", {})
        synced = await client.call_tool("pick_region_sync", {})
    assert not result.is_error, result
    assert text_of(result) == "Region eu-west zone 3"
    assert text_of(synced) == "sync Region eu-west zone 3"
    asked = user.elicited[0]
    assert asked.message == "Which region?"
    schema = asked.requested_schema  # type: ignore[union-attr]
    assert schema["properties"]["zone"] == {"type": "integer", "default": 1}
    assert len(user.elicited) == 2  # once per call, in either era


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_sends_the_user_to_a_url(front: RunningFleet, mode: str) -> None:
    user = FakeUser()
    async with user.client(front.url, mode) as client:
        result = await client.call_tool("sign_in", {})
    assert text_of(result) == "sign-in accept"
    (asked,) = user.elicited
    assert isinstance(asked, types.ElicitRequestURLParams)
    assert asked.url == "https://auth.example.com/start?flow=42"
    # elicitationId names the interaction at 2025-11-25; 2026-07-28 removed it.
    assert (asked.elicitation_id is not None) == (mode == "legacy")


@pytest.mark.parametrize("mode", MODES)
async def test_a_declined_form_reaches_the_handler(front: RunningFleet, mode: str) -> None:
    async with FakeUser(action="decline").client(front.url, mode) as client:
        result = await client.call_tool("pick_region", {})
    assert text_of(result) == "no region (decline)"


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_samples_the_clients_model(front: RunningFleet, mode: str) -> None:
    user = FakeUser()
    async with user.client(front.url, mode) as client:
        result = await client.call_tool("ask_model", {"question": "Capital of Norway?"})
    assert text_of(result) == "test-model: Hi there"
    (asked,) = user.sampled
    assert asked.max_tokens == 20
    assert asked.system_prompt == "Be brief"
    assert asked.messages[0].content.text == "Capital of Norway?"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
async def test_questions_in_a_row_are_each_asked_once(front: RunningFleet, mode: str) -> None:
    user = FakeUser(form={"name": "Ada"})
    async with user.client(front.url, mode) as client:
        result = await client.call_tool("three_steps", {})
    # At 2026-07-28 the handler ran four times (three rounds of questions), yet the state
    # carried the earlier answers back: no question was put to the user twice.
    rounds = 3 if mode == MODERN else 0
    assert text_of(result) == f"Hi there (1 roots, round {rounds})"
    assert (len(user.elicited), len(user.sampled), user.roots_asked) == (1, 1, 1)
    assert user.sampled[0].messages[0].content.text == "Greet Ada"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
async def test_questions_asked_together_go_out_together(front: RunningFleet, mode: str) -> None:
    user = FakeUser(form={"name": "Ada"})
    async with user.client(front.url, mode) as client:
        result = await client.call_tool("all_at_once", {})
    assert text_of(result) == "Ada|Hi there|['file:///work']"
    assert (len(user.elicited), len(user.sampled), user.roots_asked) == (1, 1, 1)


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_and_resources_ask_too(front: RunningFleet, mode: str) -> None:
    user = FakeUser(form={"name": "Grace"})
    async with user.client(front.url, mode) as client:
        prompt = await client.get_prompt("interview", {})
        read = await client.read_resource("ask://profile")
    assert prompt.messages[0].content.text == "Interview Grace"  # type: ignore[union-attr]
    assert read.contents[0].text == "profile of Grace"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_without_the_capability(front: RunningFleet, mode: str) -> None:
    async with Client(front.url, mode=mode, read_timeout_seconds=30) as client:  # type: ignore[arg-type]
        careful = await client.call_tool("careful", {})
        assert text_of(careful) == "no sampling here"
        if mode == MODERN:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("needs_sampling", {})
            assert refused.value.error.code == -32021
            assert refused.value.error.data == {"requiredCapabilities": {"sampling": {}}}
            with pytest.raises(MCPError) as asked:
                await client.call_tool("pick_region", {})
            assert asked.value.error.data == {"requiredCapabilities": {"elicitation": {}}}
        else:
            refused_result = await client.call_tool("needs_sampling", {})
            assert refused_result.is_error
            assert "sampling" in text_of(refused_result)
            asked_result = await client.call_tool("pick_region", {})
            assert asked_result.is_error
            assert "elicitation" in text_of(asked_result)


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_refusing_to_sample(front: RunningFleet, mode: str) -> None:
    async def refuse(context: object, params: object) -> types.ErrorData:
        return types.ErrorData(code=-1, message="User rejected sampling")

    async with Client(
        front.url,
        mode=mode,  # type: ignore[arg-type]
        read_timeout_seconds=30,
        sampling_callback=refuse,  # type: ignore[arg-type]
    ) as client:
        if mode == MODERN:
            # No error travels back in an input round: the client gives up on its own.
            with pytest.raises(MCPError, match="User rejected sampling"):
                await client.call_tool("careful", {})
            return
        result = await client.call_tool("careful", {})
    # In the handshake era the error answers our request, and the handler sees it.
    assert text_of(result) == "refused (-1)"


@pytest.mark.parametrize("mode", MODES)
async def test_stdio_clients_are_asked_too(front: RunningFleet, mode: str) -> None:
    server = mcpfleet("stdio", "--app", APP, "--redis", front.redis_url, "--fleet", front.fleet)
    user = FakeUser(form={"name": "Ada"})
    async with user.client(server, mode) as client:
        result = await client.call_tool("all_at_once", {})
        region = await client.call_tool("pick_region", {})
    assert text_of(result) == "Ada|Hi there|['file:///work']"
    assert text_of(region) == "Region Ada zone 1"


# --- raw HTTP: what the official client never sends ------------------------------------------


def modern_call(rid: int, tool: str, **extra: object) -> tuple[dict[str, Any], dict[str, str]]:
    params: dict[str, object] = {
        "name": tool,
        "arguments": {},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": EVERYTHING,
        },
        **extra,
    }
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call",
               "mcp-name": tool}  # fmt: skip
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}, headers


def post_modern(
    http: httpx.Client, url: str, rid: int, tool: str, **extra: object
) -> httpx.Response:
    body, headers = modern_call(rid, tool, **extra)
    return http.post(url, json=body, headers=headers)


def test_the_first_round_is_an_input_required_result(front: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        first = post_modern(http, front.url, 1, "pick_region")
    assert first.status_code == 200
    result = first.json()["result"]
    assert result["resultType"] == "input_required"
    assert list(result["inputRequests"]) == ["elicitation-1"]
    assert result["inputRequests"]["elicitation-1"]["method"] == "elicitation/create"
    assert isinstance(result["requestState"], str)
    assert "ttlMs" not in result  # input_required results carry no cache hints


def test_a_round_is_finished_on_the_other_front(pair: tuple[RunningFleet, RunningFleet]) -> None:
    one, two = pair
    answers = {"elicitation-1": {"action": "accept", "content": {"name": "ap-south"}}}
    with httpx.Client(timeout=30) as http:
        first = post_modern(http, one.url, 1, "pick_region").json()["result"]
        second = post_modern(
            http, two.url, 2, "pick_region",
            inputResponses={**answers, "unknown": {"action": "cancel"}},
            requestState=first["requestState"],
        )  # fmt: skip
    result = second.json()["result"]
    assert result["resultType"] == "complete"
    assert result["content"][0]["text"] == "Region ap-south zone 1"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda state: state[:-2] + ("AA" if state[-2:] != "AA" else "BB"), "altered"),
        (lambda state: "garbage", "malformed"),
    ],
)
def test_a_forged_state_is_refused(front: RunningFleet, change: Any, why: str) -> None:
    with httpx.Client(timeout=30) as http:
        state = post_modern(http, front.url, 1, "pick_region").json()["result"]["requestState"]
        forged = post_modern(
            http, front.url, 2, "pick_region",
            inputResponses={"elicitation-1": {"action": "decline"}}, requestState=change(state),
        )  # fmt: skip
    assert forged.status_code == 400
    error = forged.json()["error"]
    assert error["code"] == -32602
    assert why in error["message"]


def test_a_state_is_bound_to_its_request(front: RunningFleet) -> None:
    with httpx.Client(timeout=30) as http:
        state = post_modern(http, front.url, 1, "pick_region").json()["result"]["requestState"]
        elsewhere = post_modern(
            http, front.url, 2, "pick_region_sync",
            inputResponses={"elicitation-1": {"action": "decline"}}, requestState=state,
        )  # fmt: skip
    assert elsewhere.status_code == 400
    assert "another request" in elsewhere.json()["error"]["message"]


@pytest.mark.parametrize("responses", [[1, 2], {"elicitation-1": "yes"}, "x"])
def test_malformed_input_responses_are_refused(front: RunningFleet, responses: object) -> None:
    with httpx.Client(timeout=30) as http:
        refused = post_modern(http, front.url, 1, "pick_region", inputResponses=responses)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == -32602
    assert "inputResponses" in refused.json()["error"]["message"]


def open_session(http: httpx.Client, url: str, capabilities: dict[str, object]) -> dict[str, str]:
    params = {"protocolVersion": "2025-11-25", "capabilities": capabilities,
              "clientInfo": {"name": "raw", "version": "1"}}  # fmt: skip
    init = http.post(
        url,
        json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params},
        headers={"accept": ACCEPT},
    )
    assert init.status_code == 200, init.text
    return {"mcp-session-id": init.headers["mcp-session-id"], "accept": ACCEPT,
            "mcp-protocol-version": "2025-11-25"}  # fmt: skip


def sse_messages(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data:") and line[5:].strip():
            yield json.loads(line[5:])


def test_an_answer_may_reach_any_front_but_only_from_its_session(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    one, two = pair
    call = {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "ask_with_deadline", "arguments": {}}}  # fmt: skip
    answer = {"action": "accept", "content": {"name": "us-east", "zone": 2}}
    with httpx.Client(timeout=30) as http:
        mine = open_session(http, one.url, EVERYTHING)
        theirs = open_session(http, one.url, EVERYTHING)
        for answering_session, expected in ((theirs, "timed out"), (mine, "us-east zone 2")):
            with http.stream("POST", one.url, json=call, headers=mine) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                messages = sse_messages(stream.iter_lines())
                request = next(messages)
                assert request["method"] == "elicitation/create"
                assert request["id"].startswith("mcpfleet-ask-")
                posted = http.post(
                    two.url,
                    json={"jsonrpc": "2.0", "id": request["id"], "result": answer},
                    headers=answering_session,
                )
                assert posted.status_code == 202
                final = next(m for m in messages if m.get("id") == 5)
            assert expected in final["result"]["content"][0]["text"], final


def test_responses_nobody_waits_for_are_accepted_and_dropped(front: RunningFleet) -> None:
    broadcast = Keyspace(front.fleet).cancel_stream()
    store = redis.Redis.from_url(front.redis_url)
    before = store.xlen(broadcast)
    with httpx.Client(timeout=30) as http:
        session = open_session(http, front.url, EVERYTHING)
        for rid in (99, "mcpfleet-ask-never-sent"):
            posted = http.post(
                front.url,
                json={"jsonrpc": "2.0", "id": rid, "result": {"x": "y" * 10_000}},
                headers=session,
            )
            assert posted.status_code == 202
        still = http.post(
            front.url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=session
        )
    assert still.json()["result"] == {}
    # Neither reached the workers' broadcast stream: only outstanding requests are answered.
    assert store.xlen(broadcast) == before
