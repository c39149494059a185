"""The conformance suite's resource, prompt and completion fixtures
(``examples/conformance_surface.py``, on ``examples.conformance:app``): the names the suite
reads and gets, and exactly what each returns, through the worker's jobs and runner."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import threading
from typing import Any

import msgspec

from examples.conformance import RED_PIXEL, app
from proto import (
    CallKind,
    CompletionArguments,
    Implementation,
    ResourceReadArguments,
    ResultMeta,
    encode_call_arguments,
)
from tests.fixtures.calls import call_message
from workers.handler_jobs import HandlerJob, HandlerJobs
from workers.handler_runner import HandlerRunner
from workers.metrics import WorkerMetrics
from workers.result_render import ResultRenderer

VERSION = "2025-11-25"


def _run(kind: str, target: str, arguments: bytes) -> Any:
    info = Implementation(name=app.name, version=app.version)
    jobs = HandlerJobs(
        app, ResultRenderer(info), meta=ResultMeta(server_info=info), default_timeout_s=10
    )
    call = call_message(kind, target, arguments, VERSION)
    job = jobs.prepare(call)
    assert isinstance(job, HandlerJob), job
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        outcome, _ = asyncio.run(
            HandlerRunner(executor, WorkerMetrics()).run(
                job, call, timeout_s=10, progress_sink=None, cancel_flag=threading.Event()
            )
        )
    assert isinstance(outcome, bytes), outcome
    return json.loads(outcome)


def _read(uri: str, template: str | None = None, **variables: str) -> Any:
    arguments = encode_call_arguments(ResourceReadArguments(uri, variables))
    return _run(CallKind.RESOURCE, template or uri, arguments)["contents"]


def test_the_resources_the_suite_reads() -> None:
    assert _read("test://static-text") == [
        {
            "uri": "test://static-text",
            "mimeType": "text/plain",
            "text": "This is the content of the static text resource.",
        }
    ]
    (binary,) = _read("test://static-binary")
    assert binary["mimeType"] == "image/png"
    assert base64.b64decode(binary["blob"]) == RED_PIXEL
    assert _read("test://template/123/data", "test://template/{id}/data", id="123") == [
        {
            "uri": "test://template/123/data",
            "mimeType": "application/json",
            "text": '{"id":"123","templateTest":true,"data":"Data for ID: 123"}',
        }
    ]
    assert "test://watched-resource" in app.resources


def _messages(name: str, **arguments: str) -> Any:
    return _run(CallKind.PROMPT, name, msgspec.json.encode(arguments))["messages"]


def test_the_prompts_the_suite_gets() -> None:
    assert _messages("test_simple_prompt") == [
        {
            "role": "user",
            "content": {"type": "text", "text": "This is a simple prompt for testing."},
        }
    ]
    assert _messages("test_prompt_with_arguments", arg1="hello", arg2="world") == [
        {
            "role": "user",
            "content": {
                "type": "text",
                "text": "Prompt with arguments: arg1='hello', arg2='world'",
            },
        }
    ]
    embedded, follow_up = _messages("test_prompt_with_embedded_resource", resourceUri="test://x")
    assert embedded["content"] == {
        "type": "resource",
        "resource": {
            "uri": "test://x",
            "mimeType": "text/plain",
            "text": "Embedded resource content for testing.",
        },
    }
    assert follow_up["content"]["text"] == "Please process the embedded resource above."
    image, text = _messages("test_prompt_with_image")
    assert image["content"]["type"] == "image" and image["content"]["mimeType"] == "image/png"
    assert base64.b64decode(image["content"]["data"]) == RED_PIXEL
    assert text["content"]["text"] == "Please analyze the image above."
    arguments = app.prompts["test_prompt_with_arguments"].arguments
    assert [(a.name, a.required, a.description) for a in arguments] == [
        ("arg1", True, "First test argument"),
        ("arg2", True, "Second test argument"),
    ]


def test_arg1_completes_to_cities() -> None:
    arguments = encode_call_arguments(CompletionArguments("par"))
    result = _run(CallKind.COMPLETE, "prompt:test_prompt_with_arguments:arg1", arguments)
    assert result["completion"] == {
        "values": ["paris", "park", "party"],
        "total": 3,
        "hasMore": False,
    }
