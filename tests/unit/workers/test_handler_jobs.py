"""Every kind of call through the one handler runner (ADR-0007): what each kind answers for
a value, a ``ToolError``, a crash, a timeout, a cancellation, and a target the worker does
not know."""

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
    CallKind,
    CallMessage,
    CompletionArguments,
    ErrorObject,
    Implementation,
    ResourceReadArguments,
    ResultMeta,
    encode_call_arguments,
)
from workers import Completion, TextResource, ToolContext, ToolError, Toolset, UserMessage
from workers.handler_jobs import HandlerJob, HandlerJobs, Outcome
from workers.handler_runner import HandlerRunner
from workers.metrics import WorkerMetrics
from workers.result_render import ResultRenderer

INFO = Implementation(name="jobs", version="1")
LEGACY = "2025-11-25"
MODERN = "2026-07-28"

app = Toolset("jobs")
_starts: list[asyncio.Event] = []  # set when a blocking handler starts (see _block)


async def _block() -> None:
    """Await forever (until the timeout or a cancellation), telling the test it started."""
    for started in _starts:
        started.set()
    await asyncio.Event().wait()


@app.tool
def shout(text: str) -> str:
    return text.upper()


@app.resource("test://note", mime_type="text/plain")
def note() -> str:
    return "a note"


@app.resource("test://items/{item_id}{?detail}", timeout_s=0.05)
async def item(item_id: int, ctx: ToolContext, detail: bool = False) -> dict[str, object]:
    if item_id == 0:
        raise ToolError("No item 0")
    if item_id == 1:
        raise RuntimeError("the store is down")
    if item_id == 2:
        await _block()
    if item_id == 3:
        ctx.resource_updated("test://items/3")
    return {"id": item_id, "detail": detail, "principal": ctx.principal.name}


@app.prompt
def review(code: str, strict: bool = False) -> list[UserMessage]:
    """Ask for a review."""
    if code == "refuse":
        raise ToolError("Nothing to review")
    return [
        UserMessage(f"Review ({strict}): {code}"),
        UserMessage(TextResource("f://x", code, "text/x-python")),
    ]


@app.complete(prompt="review", argument="code")
def code_samples(value: str, context: dict[str, str], ctx: ToolContext) -> Completion:
    ctx.log("info", "completing")
    return Completion(values=[f"{value}{n}" for n in range(3)], total=30, has_more=True)


@app.complete(resource="test://items/{item_id}{?detail}", argument="item_id")
def item_ids(value: str, context: dict[str, str]) -> list[str]:
    if value == "boom":
        raise KeyError(value)
    return [value + "0", value + "1"]


@pytest.fixture(scope="module")
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        yield pool


def _call(kind: str, target: str, arguments: bytes, version: str = LEGACY) -> CallMessage:
    return CallMessage(
        call_id=1,
        front_id="f",
        tool=target,
        arguments=msgspec.Raw(arguments),
        protocol_version=version,
        deadline_ms=int(time.time() * 1000) + 10_000,
        request_id="r-1",
        kind=kind,
    )


def _read(uri: str, variables: dict[str, str] | None = None) -> bytes:
    return encode_call_arguments(ResourceReadArguments(uri, variables or {}))


def _jobs() -> HandlerJobs:
    return HandlerJobs(
        app, ResultRenderer(INFO), meta=ResultMeta(server_info=INFO), default_timeout_s=5.0
    )


def _run(
    executor: concurrent.futures.ThreadPoolExecutor,
    call: CallMessage,
    *,
    announced: list[str] | None = None,
    cancel: threading.Event | None = None,
) -> Outcome | None:
    job = _jobs().prepare(call)
    assert isinstance(job, HandlerJob), job
    outcome, _ = asyncio.run(
        HandlerRunner(executor, WorkerMetrics()).run(
            job,
            call,
            timeout_s=job.limit_s,
            progress_sink=None,
            cancel_flag=cancel or threading.Event(),
            announce=None if announced is None else announced.append,
        )
    )
    return outcome


def _result(outcome: Outcome | None) -> Any:
    assert isinstance(outcome, bytes), outcome
    return json.loads(outcome)


def test_a_tool_call_runs_as_before(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    outcome = _run(executor, _call(CallKind.TOOL, "shout", b'{"text":"hi"}'))
    assert _result(outcome)["content"] == [{"type": "text", "text": "HI"}]


def test_a_static_resource_reads_with_its_type(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    outcome = _run(executor, _call(CallKind.RESOURCE, "test://note", _read("test://note")))
    assert _result(outcome) == {
        "contents": [{"uri": "test://note", "mimeType": "text/plain", "text": "a note"}]
    }


def test_template_variables_decode_leniently_and_the_context_is_offered(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    uri = "test://items/7?detail=true"
    call = _call(
        CallKind.RESOURCE,
        "test://items/{item_id}{?detail}",
        _read(uri, {"item_id": "7", "detail": "true"}),
        MODERN,
    )
    result = _result(_run(executor, call))
    (contents,) = result["contents"]
    assert contents["uri"] == uri and contents["mimeType"] == "application/json"
    assert json.loads(contents["text"]) == {"id": 7, "detail": True, "principal": "anonymous"}
    assert (result["resultType"], result["ttlMs"], result["cacheScope"]) == (
        "complete",
        0,
        "public",
    )
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "jobs"


def test_a_handler_announces_resource_changes(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    announced: list[str] = []
    call = _call(CallKind.RESOURCE, "test://items/{item_id}{?detail}", _read("x", {"item_id": "3"}))
    _result(_run(executor, call, announced=announced))
    assert announced == ["test://items/3"]


@pytest.mark.parametrize(
    ("item_id", "error"),
    [
        ("0", ErrorObject(-32602, "No item 0", {"uri": "test://items/0"})),
        (
            "1",
            ErrorObject(
                -32603, "Resource 'test://items/1' failed: RuntimeError: the store is down"
            ),
        ),
        ("2", ErrorObject(-32603, "Resource 'test://items/2' timed out after 0.05 s")),
    ],
    ids=["tool-error", "crash", "timeout"],
)
def test_a_failing_read_is_a_json_rpc_error(
    executor: concurrent.futures.ThreadPoolExecutor, item_id: str, error: ErrorObject
) -> None:
    uri = f"test://items/{item_id}"
    call = _call(
        CallKind.RESOURCE, "test://items/{item_id}{?detail}", _read(uri, {"item_id": item_id})
    )
    assert _run(executor, call) == error


def test_a_prompt_gets_its_messages(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    call = _call(CallKind.PROMPT, "review", b'{"code":"x = 1","strict":"true"}')
    assert _result(_run(executor, call)) == {
        "description": "Ask for a review.",
        "messages": [
            {"role": "user", "content": {"type": "text", "text": "Review (True): x = 1"}},
            {
                "role": "user",
                "content": {
                    "type": "resource",
                    "resource": {"uri": "f://x", "mimeType": "text/x-python", "text": "x = 1"},
                },
            },
        ],
    }


def test_a_prompt_refused_by_its_author_is_invalid_params(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    call = _call(CallKind.PROMPT, "review", b'{"code":"refuse"}')
    assert _run(executor, call) == ErrorObject(-32602, "Nothing to review")


def test_a_completion_gets_the_value_the_context_and_its_tool_context(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    arguments = encode_call_arguments(CompletionArguments("ab", {"strict": "true"}))
    call = _call(CallKind.COMPLETE, "prompt:review:code", arguments, MODERN)
    result = _result(_run(executor, call))
    assert result["completion"] == {
        "values": ["ab0", "ab1", "ab2"],
        "total": 30,
        "hasMore": True,
    }
    assert result["resultType"] == "complete"


def test_a_failing_completion_names_what_it_completes(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    arguments = encode_call_arguments(CompletionArguments("boom"))
    call = _call(CallKind.COMPLETE, "resource:test://items/{item_id}{?detail}:item_id", arguments)
    assert _run(executor, call) == ErrorObject(
        -32603,
        "Completion of resource 'test://items/{item_id}{?detail}' argument 'item_id' failed: "
        "KeyError: 'boom'",
    )


def test_a_cancelled_read_has_no_answer(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    job = _jobs().prepare(
        _call(CallKind.RESOURCE, "test://items/{item_id}{?detail}", _read("x", {"item_id": "2"}))
    )
    assert isinstance(job, HandlerJob)
    cancel = threading.Event()

    async def cancelled() -> Outcome | None:
        started = asyncio.Event()
        _starts.append(started)
        runner = HandlerRunner(executor, WorkerMetrics())
        call = _call(CallKind.RESOURCE, "t", b"{}")
        task = asyncio.create_task(
            runner.run(job, call, timeout_s=10, progress_sink=None, cancel_flag=cancel)
        )
        await started.wait()
        cancel.set()  # the client's cancel, as the consumer delivers it
        task.cancel()
        return (await task)[0]

    try:
        assert asyncio.run(cancelled()) is None
    finally:
        _starts.clear()


@pytest.mark.parametrize(
    ("kind", "target", "arguments", "message"),
    [
        (CallKind.TOOL, "nope", b"{}", "Unknown tool: nope"),
        (
            CallKind.RESOURCE,
            "test://nope",
            b'{"uri":"test://nope"}',
            "Unknown resource: test://nope",
        ),
        (CallKind.PROMPT, "nope", b"{}", "Unknown prompt: nope"),
        (CallKind.COMPLETE, "prompt:nope:x", b'{"value":""}', "Unknown completion: prompt:nope:x"),
        ("task", "x", b"{}", "Unknown kind of call: 'task'"),
    ],
)
def test_a_target_the_worker_does_not_serve_is_invalid_params(
    kind: str, target: str, arguments: bytes, message: str
) -> None:
    assert _jobs().prepare(_call(kind, target, arguments)) == ErrorObject(-32602, message)


@pytest.mark.parametrize(
    ("kind", "target", "arguments"),
    [
        (
            CallKind.RESOURCE,
            "test://items/{item_id}{?detail}",
            b'{"uri":"x","variables":{"item_id":"seven"}}',
        ),
        (CallKind.RESOURCE, "test://note", b"[]"),
        (CallKind.PROMPT, "review", b'{"strict":"yes"}'),
        (CallKind.COMPLETE, "prompt:review:code", b'{"context":{}}'),
    ],
)
def test_arguments_the_worker_cannot_decode_are_invalid_params(
    kind: str, target: str, arguments: bytes
) -> None:
    refused = _jobs().prepare(_call(kind, target, arguments))
    assert isinstance(refused, ErrorObject) and refused.code == -32602
