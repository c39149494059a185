"""End to end over stdio with the official ``mcp`` client, which launches the server itself
the way a desktop client does: ``mcpfleet up --stdio`` (the whole fleet, embedded Redis) and
``mcpfleet stdio`` (a stdio front for a fleet started by ``mcpfleet up --redis``), in both
eras, with progress and cancellation."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import TextContent

from tests.e2e.test_http_mcp_client import DEMO_TOOLS
from tests.fixtures.fleet import ROOT, RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async

NEGOTIATED = {"legacy": "2025-11-25", "2026-07-28": "2026-07-28", "auto": "2026-07-28"}
TOOLS = "tests.fixtures.tools:app"


def mcpfleet(*args: str) -> StdioServerParameters:
    """How a desktop client's config would launch mcpfleet (the client sets the env)."""
    return StdioServerParameters(
        command=sys.executable, args=["-m", "supervisor", *args], cwd=str(ROOT)
    )


def text_of(result: Any) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]
    assert len(blocks) == 1, result
    return blocks[0].text


def read_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention ``text`` (a test's own data dir)."""
    out = subprocess.run(["ps", "-ewwo", "args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if text in line and "ps -eww" not in line]


async def use_demo_tools(client: Client) -> tuple[list[str], str, str, list[tuple[Any, ...]]]:
    """List, echo and a progress call: what every client test checks."""
    seen: list[tuple[Any, ...]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    listing = await client.list_tools()
    echo = await client.call_tool("echo", {"text": "héllo\nworld"})
    slept = await client.call_tool(
        "sleep_progress", {"seconds": 0.3, "steps": 3}, progress_callback=on_progress
    )
    return [t.name for t in listing.tools], text_of(echo), text_of(slept), seen


def assert_demo_tools_served(outcome: tuple[list[str], str, str, list[tuple[Any, ...]]]) -> None:
    names, echo, slept, progress = outcome
    assert names == DEMO_TOOLS
    assert echo == "héllo\nworld"
    assert slept == "slept 0.3 s in 3 steps"
    assert progress == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_up_stdio_serves_the_client_and_everything_stops_when_it_leaves(
    tmp_path: Path, mode: str
) -> None:
    data_dir = tmp_path / "state"
    log_path = tmp_path / "stderr.jsonl"
    server = mcpfleet(
        "up", "--stdio", "--app", "examples.demo:app", "--data-dir", str(data_dir),
        "--workers", "1",
    )  # fmt: skip
    with log_path.open("w") as errlog:
        async with Client(
            stdio_client(server, errlog=errlog), mode=mode, read_timeout_seconds=30
        ) as client:
            assert client.protocol_version == NEGOTIATED[mode]
            outcome = await use_demo_tools(client)
    assert_demo_tools_served(outcome)
    # The client closed our stdin: the supervisor stopped the workers and the embedded Redis.
    await wait_until_async(
        lambda: processes_mentioning(str(data_dir)) == [],
        deadline_s=15,
        what="every process of the fleet to exit",
    )
    events = read_events(log_path)
    names = [e["event"] for e in events]
    assert "fleet.connection_closed" in names
    assert {"fleet.stopped", "redis.stopped", "worker.stopped"} <= set(names)
    assert [e for e in events if e["level"] in ("error", "critical")] == []


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28", "auto"])
async def test_stdio_front_serves_the_client_with_a_running_fleet(
    shared_fleet: RunningFleet, mode: str
) -> None:
    server = mcpfleet(
        "stdio", "--app", "examples.demo:app", "--redis", shared_fleet.redis_url,
        "--fleet", shared_fleet.fleet,
    )  # fmt: skip
    async with Client(server, mode=mode, read_timeout_seconds=30) as client:
        assert client.protocol_version == NEGOTIATED[mode]
        assert_demo_tools_served(await use_demo_tools(client))


@pytest.fixture(scope="module")
def tools_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    """The test tools (``wait_for_cancel`` logs when it is cancelled), one worker."""
    running = start_fleet(
        redis_server, "s" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app=TOOLS,
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_cancelled_call_stops_its_handler_on_the_worker(
    tools_fleet: RunningFleet, mode: str
) -> None:
    fleet = tools_fleet
    before = len(fleet.find("test_tool.cancelled"))
    server = mcpfleet(
        "stdio", "--app", TOOLS, "--redis", fleet.redis_url, "--fleet", fleet.fleet
    )  # fmt: skip
    async with Client(server, mode=mode, read_timeout_seconds=30) as client:
        received: list[object] = []
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:

                async def call() -> None:
                    received.append(await client.call_tool("wait_for_cancel", {"seconds": 60}))

                nursery.start_soon(call)
                await fleet.wait_for_calls_taken(1)
                # The client sends notifications/cancelled on stdio; the front cancels the
                # request, which tells the worker to stop the handler.
                scope.cancel()
        await fleet.wait_for_async("test_tool.cancelled", count=before + 1, deadline_s=10)
        assert received == []
        # The connection keeps serving.
        assert text_of(await client.call_tool("echo", {"text": "after"})) == "after"
