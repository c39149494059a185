"""Handlers asking the client for input, through the handler runner (ADR-0009): at
2026-07-28 a missing answer ends the handler with an ``InputRequiredReply`` and a retry's
answers let it finish; in the handshake era requests go out at once and the handler waits
for the answers its own session brings; what the client cannot answer is refused."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from proto import (
    AnsweredInput,
    CallMessage,
    ClientCapability,
    ClientRequestMessage,
    ErrorObject,
    Implementation,
    InputRequiredReply,
    ResultMeta,
)
from workers import (
    ClientRequestError,
    MissingClientCapabilityError,
    ToolContext,
    Toolset,
    elicitation_request,
    roots_request,
    sampling_request,
    url_elicitation_request,
)
from workers.client_input import InputChannel, LiveInputs, PendingAnswers, RetriedInputs
from workers.handler_jobs import HandlerJob, HandlerJobs
from workers.handler_runner import HandlerRunner
from workers.metrics import WorkerMetrics
from workers.result_render import ResultRenderer

INFO = Implementation(name="asking", version="1")
LEGACY = "2025-11-25"
MODERN = "2026-07-28"
EVERYTHING = int(ClientCapability.ROOTS | ClientCapability.SAMPLING | ClientCapability.ELICITATION)

app = Toolset("asking")


class Region(msgspec.Struct):
    name: str
    zone: int = 1


@app.tool
async def pick_region(ctx: ToolContext) -> str:
    answer = await ctx.elicit("Which region?", Region)
    if answer.content is None:
        return f"no region ({answer.action})"
    return f"{type(answer.content).__name__} {answer.content.name} {answer.content.zone}"


@app.tool
def pick_region_sync(ctx: ToolContext) -> str:
    answer = ctx.wait(ctx.elicit("Which region?", Region))
    return f"sync {answer.action} {answer.content}"


@app.tool
async def two_steps(ctx: ToolContext) -> str:
    first = await ctx.elicit("Name?", {"type": "object", "properties": {"n": {"type": "string"}}})
    reply = await ctx.sample(f"Greet {first.content}", max_tokens=5)
    return f"round {ctx.input_round}: {reply.text}"


@app.tool
async def all_at_once(ctx: ToolContext) -> str:
    answers = await ctx.ask(
        {
            "who": elicitation_request("Who?", {"type": "object", "properties": {}}),
            "model": sampling_request("Hi", max_tokens=3),
            "roots": roots_request(),
        }
    )
    return ",".join(f"{k}={type(v).__name__}" for k, v in sorted(answers.items()))


@app.tool
async def careful(ctx: ToolContext) -> str:
    try:
        reply = await ctx.sample("Hi", max_tokens=3)
    except MissingClientCapabilityError:
        return "no sampling here"
    except ClientRequestError as exc:
        return f"refused {exc.code}"
    return reply.text


@pytest.fixture(scope="module")
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        yield pool


def _call(tool: str, version: str, **fields: Any) -> CallMessage:
    return CallMessage(
        call_id=7,
        front_id="f",
        tool=tool,
        arguments=msgspec.Raw(b"{}"),
        protocol_version=version,
        deadline_ms=int(time.time() * 1000) + 10_000,
        request_id="r-7",
        **fields,
    )


def _job(call: CallMessage) -> HandlerJob:
    jobs = HandlerJobs(
        app, ResultRenderer(INFO), meta=ResultMeta(server_info=INFO), default_timeout_s=5.0
    )
    job = jobs.prepare(call)
    assert isinstance(job, HandlerJob), job
    return job


async def _run(
    executor: concurrent.futures.ThreadPoolExecutor, call: CallMessage, inputs: InputChannel
) -> object:
    job = _job(call)
    outcome, _ = await HandlerRunner(executor, WorkerMetrics()).run(
        job,
        call,
        timeout_s=2.0,
        progress_sink=None,
        cancel_flag=threading.Event(),
        inputs=inputs,
    )
    return outcome


def _text(outcome: object) -> str:
    assert isinstance(outcome, bytes), outcome
    result = json.loads(outcome)
    assert not result.get("isError"), result
    return str(result["content"][0]["text"])


def _raw(value: object) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(value))


ACCEPT_NAME = {"action": "accept", "content": {"name": "eu-west", "zone": 3}}
SAMPLED = {"role": "assistant", "content": {"type": "text", "text": "Hello"}, "model": "m"}
ROOTS = {"roots": [{"uri": "file:///src", "name": "src"}]}


# --- 2026-07-28: rounds ---------------------------------------------------------------------


def test_a_first_round_ends_with_the_requests(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    call = _call("pick_region", MODERN)
    outcome = asyncio.run(_run(executor, call, RetriedInputs(EVERYTHING, {})))
    assert isinstance(outcome, InputRequiredReply)
    assert outcome.round == 1 and outcome.answers == {}
    requests = json.loads(bytes(outcome.requests))
    assert list(requests) == ["elicitation-1"]
    assert requests["elicitation-1"]["method"] == "elicitation/create"
    schema = requests["elicitation-1"]["params"]["requestedSchema"]
    assert schema["properties"]["zone"] == {"type": "integer", "default": 1}


def test_a_retry_with_the_answer_finishes_with_the_typed_content(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    answers = {"elicitation-1": _raw(ACCEPT_NAME)}
    call = _call("pick_region", MODERN)
    outcome = asyncio.run(_run(executor, call, RetriedInputs(EVERYTHING, answers)))
    assert _text(outcome) == "Region eu-west 3"


def test_a_declined_form_has_no_content(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    answers = {"elicitation-1": _raw({"action": "decline"})}
    outcome = asyncio.run(
        _run(executor, _call("pick_region", MODERN), RetriedInputs(EVERYTHING, answers))
    )
    assert _text(outcome) == "no region (decline)"


def test_sync_handlers_ask_through_ctx_wait(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    first = asyncio.run(
        _run(executor, _call("pick_region_sync", MODERN), RetriedInputs(EVERYTHING, {}))
    )
    assert isinstance(first, InputRequiredReply)
    answers = {"elicitation-1": _raw(ACCEPT_NAME)}
    second = asyncio.run(
        _run(executor, _call("pick_region_sync", MODERN), RetriedInputs(EVERYTHING, answers))
    )
    assert _text(second) == "sync accept Region(name='eu-west', zone=3)"


def test_each_round_carries_the_answers_used_so_far(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    first = {"elicitation-1": _raw({"action": "accept", "content": {"n": "Ada"}})}
    call = _call("two_steps", MODERN, input_round=1)
    outcome = asyncio.run(_run(executor, call, RetriedInputs(EVERYTHING, first)))
    assert isinstance(outcome, InputRequiredReply)
    assert outcome.round == 2
    assert set(outcome.answers) == {"elicitation-1"}
    assert list(json.loads(bytes(outcome.requests))) == ["sampling-1"]

    both = {**outcome.answers, "sampling-1": _raw(SAMPLED)}
    call = _call("two_steps", MODERN, input_round=2)
    done = asyncio.run(_run(executor, call, RetriedInputs(EVERYTHING, both)))
    assert _text(done) == "round 2: Hello"


def test_ask_sends_every_missing_request_in_one_round(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    answers = {"model": _raw(SAMPLED)}
    outcome = asyncio.run(
        _run(executor, _call("all_at_once", MODERN), RetriedInputs(EVERYTHING, answers))
    )
    assert isinstance(outcome, InputRequiredReply)
    assert sorted(json.loads(bytes(outcome.requests))) == ["roots", "who"]
    assert outcome.answers == {}  # none was used: the handler never got past ask()


def test_an_answer_of_the_wrong_shape_fails_the_call_clearly(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    answers = {"elicitation-1": _raw({"roots": []})}
    outcome = asyncio.run(
        _run(executor, _call("pick_region", MODERN), RetriedInputs(EVERYTHING, answers))
    )
    result = json.loads(outcome)  # type: ignore[arg-type]
    assert result["isError"] is True
    assert "not a valid result" in result["content"][0]["text"]


# --- capabilities ---------------------------------------------------------------------------


def test_a_missing_capability_is_minus_32021_at_2026(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    elicit_only = int(ClientCapability.ELICITATION)
    outcome = asyncio.run(
        _run(executor, _call("all_at_once", MODERN), RetriedInputs(elicit_only, {}))
    )
    assert isinstance(outcome, ErrorObject)
    assert outcome.code == -32021
    assert outcome.data == {"requiredCapabilities": {"sampling": {}, "roots": {}}}


def test_a_missing_capability_is_a_tool_error_before_2026(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    outcome = asyncio.run(_run(executor, _call("pick_region", LEGACY), InputChannel(0)))
    result = json.loads(outcome)  # type: ignore[arg-type]
    assert result["isError"] is True
    assert "elicitation" in result["content"][0]["text"]


def test_handlers_may_catch_a_missing_capability(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    outcome = asyncio.run(_run(executor, _call("careful", MODERN), RetriedInputs(0, {})))
    assert _text(outcome) == "no sampling here"


class Address(msgspec.Struct):
    street: str


class Nested(msgspec.Struct):
    address: Address


def test_url_elicitations_need_an_absolute_http_url() -> None:
    request = url_elicitation_request("Sign in", "https://auth.example.com/x", elicitation_id="e1")
    assert request.params == {
        "mode": "url",
        "message": "Sign in",
        "url": "https://auth.example.com/x",
        "elicitationId": "e1",
    }
    for bad in ("ftp://x.example.com", "/relative", "https://", "javascript:alert(1)"):
        with pytest.raises(ValueError, match="absolute http"):
            url_elicitation_request("Sign in", bad)


def test_elicitation_forms_must_be_flat() -> None:
    with pytest.raises(TypeError, match="flat"):
        elicitation_request("Where?", Nested)
    with pytest.raises(TypeError, match="'note' must be"):
        elicitation_request("?", {"type": "object", "properties": {"note": {"type": "null"}}})


# --- handshake era: requests sent at once ---------------------------------------------------


class _Client:
    """Answers each request the handler sends, as a client's front would pass it on."""

    def __init__(self, answers: PendingAnswers, reply: dict[str, object], session: str) -> None:
        self.sent: list[ClientRequestMessage] = []
        self.registered: list[tuple[str, str]] = []
        self._answers = answers
        self._reply = reply
        self._session = session

    def send(self, message: ClientRequestMessage) -> None:
        self.sent.append(message)
        loop = asyncio.get_running_loop()
        response = msgspec.json.encode(self._reply)
        loop.call_soon(
            self._answers.on_answer,
            AnsweredInput(message.request_id, self._session, msgspec.Raw(response)),
        )


def _live(client: _Client, answers: PendingAnswers, session: str = "s1") -> LiveInputs:
    async def register(request_id: str, session_id: str) -> None:
        client.registered.append((request_id, session_id))

    return LiveInputs(
        EVERYTHING, answers, session_id=session, send=client.send, call_id=7, register=register
    )


def test_handshake_requests_go_out_and_their_answers_come_back(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    async def scenario() -> object:
        answers = PendingAnswers()
        client = _Client(answers, {"result": ACCEPT_NAME}, "s1")
        outcome = await _run(executor, _call("pick_region", LEGACY), _live(client, answers))
        assert [m.method for m in client.sent] == ["elicitation/create"]
        assert client.sent[0].request_id.startswith("mcpfleet-ask-")
        # Outstanding for its session before it went out: fronts pass on only such answers.
        assert client.registered == [(client.sent[0].request_id, "s1")]
        return outcome

    assert _text(asyncio.run(scenario())) == "Region eu-west 3"


def test_a_client_error_reaches_the_handler(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    async def scenario() -> object:
        answers = PendingAnswers()
        client = _Client(answers, {"error": {"code": -1, "message": "user said no"}}, "s1")
        return await _run(executor, _call("careful", LEGACY), _live(client, answers))

    assert _text(asyncio.run(scenario())) == "refused -1"


def test_an_answer_from_another_session_is_not_taken(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    async def scenario() -> object:
        answers = PendingAnswers()
        intruder = _Client(answers, {"result": ACCEPT_NAME}, "someone-else")
        job = _job(_call("pick_region", LEGACY))
        outcome, _ = await HandlerRunner(executor, WorkerMetrics()).run(
            job,
            _call("pick_region", LEGACY),
            timeout_s=0.3,
            progress_sink=None,
            cancel_flag=threading.Event(),
            inputs=_live(intruder, answers, session="s1"),
        )
        return outcome

    result = json.loads(asyncio.run(scenario()))  # type: ignore[arg-type]
    assert result["isError"] is True
    assert "timed out" in result["content"][0]["text"]
