"""End to end over Streamable HTTP with the official ``mcp`` client, in both eras, through a
real supervisor, front, worker processes and redis-server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mcp import Client, MCPError
from mcp_types import TextContent

from tests.e2e.test_http_bad_input import ENVELOPE, MODERN, call, modern_headers, post
from tests.fixtures.fleet import RunningFleet
from tests.fixtures.sse import events

DEMO_TOOLS = [
    "echo", "add", "sleep_progress", "cpu_burn", "wait", "blocking_wait", "fail", "regional_echo",
]  # fmt: skip
MODES = ["legacy", "2026-07-28", "auto"]
NEGOTIATED = {"legacy": "2025-11-25", "2026-07-28": "2026-07-28", "auto": "2026-07-28"}


def text_of(result: object) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]  # type: ignore[attr-defined]
    assert len(blocks) == 1, result
    return blocks[0].text


@pytest.mark.parametrize("mode", MODES)
async def test_lists_the_demo_tools(shared_fleet: RunningFleet, mode: str) -> None:
    async with Client(shared_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        assert client.protocol_version == NEGOTIATED[mode]
        listing = await client.list_tools()
    assert [t.name for t in listing.tools] == DEMO_TOOLS
    add = next(t for t in listing.tools if t.name == "add")
    assert add.input_schema["type"] == "object"
    assert add.input_schema["required"] == ["a", "b"]
    assert add.input_schema["properties"]["a"]["description"] == "the first addend."
    assert add.description == "Add two numbers."


@pytest.mark.parametrize("mode", MODES)
async def test_calls_sync_and_async_tools_through_workers(
    shared_fleet: RunningFleet, mode: str
) -> None:
    async with Client(shared_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        echo = await client.call_tool("echo", {"text": "héllo\nworld"})
        add = await client.call_tool("add", {"a": 2, "b": 3.5})
        waited = await client.call_tool("wait", {"ms": 5})
        blocked = await client.call_tool("blocking_wait", {"ms": 5})
        burned = await client.call_tool("cpu_burn", {"ms": 5})
    assert (text_of(echo), echo.is_error) == ("héllo\nworld", False)
    assert text_of(add) == "5.5"
    assert text_of(waited) == "waited 5 ms"
    assert text_of(blocked) == "blocked 5 ms"
    assert burned.structured_content is not None and burned.structured_content["rounds"] >= 0


@pytest.mark.parametrize("mode", MODES)
async def test_a_raising_handler_is_a_tool_error_and_the_worker_keeps_serving(
    shared_fleet: RunningFleet, mode: str
) -> None:
    async with Client(shared_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        failed = await client.call_tool("fail", {"message": "boom"})
        after = await client.call_tool("echo", {"text": "still here"})
    assert failed.is_error is True
    assert "RuntimeError: boom" in text_of(failed)
    assert text_of(after) == "still here"


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_tool_is_a_protocol_error(shared_fleet: RunningFleet, mode: str) -> None:
    async with Client(shared_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("no_such_tool", {})
    assert info.value.code == -32602
    assert "no_such_tool" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_schema_invalid_arguments_are_a_tool_error_the_model_can_read(
    shared_fleet: RunningFleet, mode: str
) -> None:
    # Both 2025-11-25 (legacy mode) and 2026-07-28 report validation failures as tool
    # execution errors (SEP-1303), checked in the front before anything is queued.
    async with Client(shared_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        missing = await client.call_tool("add", {"a": 1})
        wrong = await client.call_tool("echo", {"text": 5})
        extra = await client.call_tool("echo", {"text": "x", "other": 1})
    assert missing.is_error and "missing required field `b`" in text_of(missing)
    assert wrong.is_error and "$.text" in text_of(wrong)
    assert extra.is_error and "unknown field `other`" in text_of(extra)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_progress_reaches_the_caller_over_sse(shared_fleet: RunningFleet, mode: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(shared_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        result = await client.call_tool(
            "sleep_progress", {"seconds": 0.6, "steps": 3}, progress_callback=on_progress
        )
    assert text_of(result) == "slept 0.6 s in 3 steps"
    assert seen == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


def progress_call_over_http(shared_fleet: RunningFleet, version: str, token: str | None) -> Any:
    """POST a ``sleep_progress`` call (it reports two steps) at ``version``, in a fresh
    session for a handshake version; ``token`` is its ``progressToken`` (None: none)."""
    meta: dict[str, object] = dict(ENVELOPE) if version == MODERN else {}
    if token is not None:
        meta["progressToken"] = token
    body = call("sleep_progress", {"seconds": 0.2, "steps": 2}, rid=7, meta=meta or None)
    headers = modern_headers("tools/call", "sleep_progress") if version == MODERN else {}
    origin = shared_fleet.base_url
    with httpx.Client(base_url=origin, timeout=30) as http:
        return post(http, body=body, version=version, headers=headers)


def sse_messages(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(e["data"]) for e in events(iter(response.text.splitlines())) if e["data"]]


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
def test_no_progress_token_means_a_plain_json_answer(
    shared_fleet: RunningFleet, version: str
) -> None:
    # The tool reports progress either way: with a token the answer is a stream of it...
    asked = progress_call_over_http(shared_fleet, version, "tok")
    assert asked.headers["content-type"] == "text/event-stream"
    streamed = sse_messages(asked)
    progress = [m["params"] for m in streamed if m.get("method") == "notifications/progress"]
    assert [(p["progressToken"], p["progress"]) for p in progress] == [("tok", 1), ("tok", 2)]
    # ...without one, one JSON answer and nothing else.
    plain = progress_call_over_http(shared_fleet, version, None)
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/json"
    answer = plain.json()
    assert answer["id"] == 7
    assert answer["result"]["content"] == [{"type": "text", "text": "slept 0.2 s in 2 steps"}]


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_error_carries_the_authors_message(
    shared_fleet: RunningFleet, mode: str
) -> None:
    async with Client(shared_fleet.url, mode=mode, read_timeout_seconds=30) as client:
        refused = await client.call_tool("sleep_progress", {"seconds": 0, "steps": 0})
    assert refused.is_error is True
    assert text_of(refused) == "steps must be at least 1"  # the ToolError's own words
