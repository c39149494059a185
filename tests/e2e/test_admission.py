"""Admission control through real fleets (ADR-0017): a lane holding ``max_queued`` waiting
entries refuses new work with 503 and ``Retry-After`` before anything is queued, in both
eras and on stdio, while ``/health/ready`` reports the lane full; once it drains, the front
is ready and admits again. The call lane counts calls no worker took (here: one worker
running one call at a time), the task lane its queued tasks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis
import trio
from mcp import Client, MCPError

from proto import Keyspace
from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE, call, modern_headers
from tests.e2e.test_rate_limits import WITH_TASKS
from tests.e2e.test_response_headers import assert_secured
from tests.fixtures.fleet import RunningFleet, module_fleet, start_fleet
from tests.fixtures.metrics import scrape_async, total
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.stdio_process import call as stdio_call
from tests.fixtures.stdio_process import initialize, stdio_front
from tests.fixtures.waiting import wait_until_async, wait_until_true_async

FULL_CALLS = {
    "MCPFLEET_MAX_QUEUED": "2",
    "MCPFLEET_WORKER__MAX_CONCURRENT_CALLS": "1",
}


async def post_modern(
    http: httpx.AsyncClient, tool: str, arguments: dict[str, object]
) -> httpx.Response:
    body = call(tool, arguments, meta=ENVELOPE)
    headers = {"accept": ACCEPT, **modern_headers("tools/call", tool)}
    return await http.post("/mcp", json=body, headers=headers)


def assert_overloaded(response: httpx.Response, lane: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert "x-ratelimit-limit" not in response.headers
    assert_secured(response)  # a refusal carries the security headers like any answer
    error = response.json()["error"]
    assert error["code"] == -31503
    assert error["data"] == {"reason": "queue_full", "retryAfter": 1, "lane": lane}


async def test_a_full_call_lane_refuses_before_queueing_until_it_drains(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = start_fleet(redis_server, fleet_name, tmp_path, workers=1, env=FULL_CALLS)
    stdio = stdio_front(fleet, env={"MCPFLEET_MAX_QUEUED": "2"})
    try:
        stdio.send(initialize())
        stdio.response(0)
        stream = Keyspace(fleet.fleet).call_stream()
        sync = redis.Redis.from_url(fleet.redis_url)
        async with httpx.AsyncClient(base_url=fleet.base_url, timeout=60) as http:
            slow: list[httpx.Response] = []

            async def slow_call(ms: int) -> None:
                slow.append(await post_modern(http, "wait", {"ms": ms}))

            async with trio.open_nursery() as nursery:
                # The worker takes the long call; the next two wait behind it: full.
                nursery.start_soon(slow_call, 8000)
                await fleet.wait_for_calls_taken(1)
                nursery.start_soon(slow_call, 10)
                nursery.start_soon(slow_call, 10)
                await wait_until_async(
                    lambda: sync.xlen(stream) == 3, deadline_s=10, what="two calls waiting"
                )
                assert_overloaded(await post_modern(http, "echo", {"text": "x"}), "calls")
                assert sync.xlen(stream) == 3  # refused before anything was queued
                async with Client(fleet.url, mode="legacy", read_timeout_seconds=30) as client:
                    with pytest.raises(MCPError) as refused:
                        await client.call_tool("echo", {"text": "handshake era"})
                assert refused.value.code == -31503
                assert refused.value.data["reason"] == "queue_full"
                stdio.send(stdio_call(1, "echo", {"text": "stdio"}))
                error = stdio.error(1)
                assert error["code"] == -31503
                assert error["data"] == {"reason": "queue_full", "retryAfter": 1, "lane": "calls"}
                probe = await http.get("/health/ready")
                assert probe.status_code == 503
                assert probe.json()["checks"]["queue"] == "full: 2 calls waiting (max 2)"

            # Every admitted call was answered; the lane drained, and the front is ready.
            assert [r.status_code for r in slow] == [200, 200, 200]

            async def ready() -> bool:
                return (await http.get("/health/ready")).status_code == 200

            await wait_until_true_async(ready, deadline_s=20, what="readiness once drained")
            assert (await http.get("/health/ready")).json()["checks"]["queue"] == "ok"
            again = await post_modern(http, "echo", {"text": "admitted"})
            assert again.json()["result"]["content"][0]["text"] == "admitted"
            samples = await scrape_async(fleet.url)
        assert total(samples, "mcpfleet_rejections_total", reason="queue_full") == 2  # HTTP
        audits = fleet.find("limit.rejected", reason="queue_full")
        assert {a["tool"] for a in audits} == {"echo"}
        assert stdio.find("limit.rejected", reason="queue_full")
    finally:
        stdio.terminate()
        stdio.wait_exit(deadline_s=20)
        assert fleet.stop() == 0
    assert fleet.errors() == []


task_lane_fleet = module_fleet(
    "tests.fixtures.task_front_tools:app",
    env={"MCPFLEET_WORKER__TASK_SLOTS": "0", "MCPFLEET_MAX_QUEUED": "2"},
    quiet=True,
    doc="A fleet whose worker takes no task: the task lane fills at two.",
)


def test_a_full_task_lane_refuses_new_tasks_before_creating_them(
    task_lane_fleet: RunningFleet,
) -> None:
    keys = Keyspace(task_lane_fleet.fleet)
    sync = redis.Redis.from_url(task_lane_fleet.redis_url)
    body = call("maybe_task", {"text": "x"}, meta=WITH_TASKS)
    headers = {"accept": ACCEPT, **modern_headers("tools/call", "maybe_task")}
    with task_lane_fleet.http() as http:
        for _ in range(2):
            created = http.post("/mcp", json=body, headers=headers)
            assert created.json()["result"]["resultType"] == "task", created.text
        tasks = len(sync.keys(keys.task("*")))
        assert_overloaded(http.post("/mcp", json=body, headers=headers), "tasks")
        assert len(sync.keys(keys.task("*"))) == tasks
        # A plain call is on the other lane, which has room.
        plain = http.post(
            "/mcp",
            json=call("never_task", {"text": "y"}, meta=ENVELOPE),
            headers={"accept": ACCEPT, **modern_headers("tools/call", "never_task")},
        )
        assert plain.json()["result"]["content"][0]["text"] == "y"
        probe = http.get("/health/ready")
    assert probe.status_code == 503
    assert probe.json()["checks"]["queue"] == "full: 2 tasks waiting (max 2)"
