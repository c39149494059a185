"""Handler logs reaching stdio clients (issue 4): ``logging/setLevel`` per connection in
the handshake era, the per-request ``_meta`` opt-in at 2026-07-28, entries as lines before
the response, and the local OS user as the principal. With the official ``mcp`` client and
on the raw wire (``mcpfleet stdio`` serving with the workers of a running fleet)."""

from __future__ import annotations

import getpass
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import LoggingMessageNotificationParams

from tests.fixtures.fleet import ROOT, RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.stdio_process import (
    ENVELOPE,
    Message,
    StdioProcess,
    call,
    initialize,
    notification,
    request,
    stdio_front,
)

APP = "tests.fixtures.tools:app"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"

# The client marks logging deprecated (2026-07-28, SEP-2577); it still works, as tested.
pytestmark = pytest.mark.filterwarnings("ignore:The logging capability is deprecated")


@pytest.fixture(scope="module")
def tools_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server, "o" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app=APP,
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


@pytest.fixture
def front(tools_fleet: RunningFleet) -> Iterator[StdioProcess]:
    process = stdio_front(tools_fleet, app=APP)
    try:
        yield process
        process.close_stdin()
        assert process.wait_exit(deadline_s=15) == 0, process.log()
        process.assert_stdout_was_protocol_only()
        assert process.errors() == [], process.errors()
    finally:
        process.kill()


def log_lines_before(front: StdioProcess, rid: object) -> list[dict[str, Any]]:
    """The ``notifications/message`` params written before the response to ``rid``."""
    front.response(rid)
    found: list[dict[str, Any]] = []
    for message in front.snapshot():
        if message.get("id") == rid and ("result" in message or "error" in message):
            return found
        if message.get("method") == "notifications/message":
            found.append(message["params"])
    raise AssertionError("no response")


def modern_call(rid: object, tool: str, level: str | None = None) -> Message:
    message = call(rid, tool, {}, modern=True)
    if level is not None:
        message["params"]["_meta"] = {**ENVELOPE, LOG_LEVEL_KEY: level}
    return message


def test_a_handshake_connection_gets_entries_once_it_sets_a_level(front: StdioProcess) -> None:
    front.send(initialize(0), notification("notifications/initialized"))
    assert front.result(0)["capabilities"]["logging"] == {}
    front.send(call(1, "log_each_level", {}))
    assert log_lines_before(front, 1) == []
    front.send(request(2, "logging/setLevel", {"level": "info"}))
    assert front.result(2) == {}
    front.send(call(3, "log_with_data", {"count": 2}))
    front.response(3)
    front.send(call(4, "log_each_level", {}))
    entries = [m for m in log_lines_before(front, 4) if m["logger"] == "log_each_level"]
    assert [m["level"] for m in entries] == [
        "info", "notice", "warning", "error", "critical", "alert", "emergency",
    ]  # fmt: skip
    assert entries[0]["data"] == "a info entry"
    sync_entries = [m for m in front.snapshot() if m.get("method") == "notifications/message"
                    and m["params"]["logger"] == "log_with_data"]  # fmt: skip
    assert [m["params"]["data"]["message"] for m in sync_entries] == ["step 0", "step 1"]


def test_a_handshake_connection_refuses_an_unknown_level(front: StdioProcess) -> None:
    front.send(initialize(0), request(1, "logging/setLevel", {"level": "chatty"}))
    assert front.error(1)["code"] == -32602


def test_a_modern_request_gets_entries_only_when_it_opts_in(front: StdioProcess) -> None:
    front.send(modern_call(1, "log_each_level"))
    assert log_lines_before(front, 1) == []
    front.send(modern_call(2, "log_each_level", "critical"))
    levels = [m["level"] for m in log_lines_before(front, 2)]
    assert levels == ["critical", "alert", "emergency"]
    front.send(request(3, "logging/setLevel", {"level": "info"}, modern=True))
    assert front.error(3)["code"] == -32601
    front.send(modern_call(4, "log_each_level", "verbose"))
    assert front.error(4)["code"] == -32602


@pytest.mark.parametrize("modern", [False, True])
def test_a_stdio_caller_is_the_local_user(front: StdioProcess, modern: bool) -> None:
    if not modern:
        front.send(initialize(0))
    front.send(call(1, "whoami", {}, modern=modern))
    principal = front.result(1)["structuredContent"]
    assert principal["kind"] == "local"
    assert principal["subject"] == getpass.getuser()
    assert principal["name"] == f"local:{getpass.getuser()}"
    assert principal["session_id"] == ""


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_official_client_receives_entries_over_stdio(
    tools_fleet: RunningFleet, mode: str
) -> None:
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "supervisor", "stdio", "--app", APP, "--redis", tools_fleet.redis_url,
              "--fleet", tools_fleet.fleet],
        cwd=str(ROOT),
    )  # fmt: skip
    level = "error" if mode == "2026-07-28" else None
    async with Client(server, mode=mode, logging_callback=on_log, log_level=level) as client:
        if mode == "legacy":
            await client.set_logging_level("error")
        await client.call_tool("log_each_level", {})
    assert [p.level for p in received] == ["error", "critical", "alert", "emergency"]
