"""Durable tasks end to end through real workers, in both protocols (ADR-0011,
mcp-protocol.md 10), over raw HTTP JSON-RPC (the official client speaks neither task
protocol): submit, poll to completion, fetch the result, list, cancel a queued and a running
task, a failed tool, a timeout, a protocol error, another session's task."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import trio

from tests.e2e.test_tasks_front import (
    LEGACY,
    WITH_TASKS,
    Session,
    modern,
    modern_result,
)
from tests.fixtures.fleet import RunningFleet, module_fleet
from tests.fixtures.stdio_process import initialize, notification, request, stdio_front
from tests.fixtures.waiting import wait_until, wait_until_async

APP = "tests.fixtures.task_tools:app"


task_fleet = module_fleet(
    APP, doc="One worker with two task slots: two long tasks keep a third one queued."
)


@pytest.fixture
def http(task_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with task_fleet.http() as client:
        yield client


def marker() -> str:
    return uuid.uuid4().hex[:12]


# --- 2025-11-25 ------------------------------------------------------------------------------


def legacy_submit(session: Session, tool: str, arguments: dict[str, Any]) -> str:
    result = session.result("tools/call", {"name": tool, "arguments": arguments, "task": {}})
    task: dict[str, Any] = result["task"]  # type: ignore[assignment]
    assert task["status"] == "working"
    return str(task["taskId"])


ENDED = ("completed", "failed", "cancelled")


def poll(get: Callable[[], dict[str, Any]], task_id: str) -> dict[str, Any]:
    """``get`` (a tasks/get) until the task ends; its last answer."""
    last: dict[str, Any] = {}

    def ended() -> bool:
        last.clear()
        last.update(get())
        return last["status"] in ENDED

    wait_until(ended, deadline_s=30, what=f"task {task_id} ended")
    return last


def legacy_poll(session: Session, task_id: str) -> dict[str, Any]:
    return poll(lambda: session.result("tasks/get", {"taskId": task_id}), task_id)


def test_legacy_submit_poll_result_list(http: httpx.Client) -> None:
    session = Session(http)
    task_id = legacy_submit(session, "add_later", {"a": 2, "b": 3})
    assert legacy_poll(session, task_id)["status"] == "completed"
    result = session.result("tasks/result", {"taskId": task_id})
    assert result["structuredContent"] == {"result": 5}
    assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task_id}  # type: ignore[index]
    listed = session.result("tasks/list", {})
    assert [t["taskId"] for t in listed["tasks"]] == [task_id]  # type: ignore[union-attr]


def test_legacy_tasks_result_waits_for_the_end(http: httpx.Client) -> None:
    session = Session(http)
    task_id = legacy_submit(session, "short_nap", {"ms": 600})
    started = time.monotonic()
    result = session.result("tasks/result", {"taskId": task_id})
    assert time.monotonic() - started > 0.3  # it waited for the nap, it did not poll once
    assert result["content"][0]["text"] == "rested"  # type: ignore[index]


def test_legacy_tool_errors_and_timeouts_fail_the_task(http: httpx.Client) -> None:
    session = Session(http)
    refused = legacy_submit(session, "refuse", {})
    overran = legacy_submit(session, "overrun", {})
    for task_id, text in ((refused, "refused on purpose"), (overran, "timed out")):
        task = legacy_poll(session, task_id)
        assert task["status"] == "failed", task  # isError is failed in this revision
        result = session.result("tasks/result", {"taskId": task_id})
        assert result["isError"] is True
        assert text in result["content"][0]["text"]  # type: ignore[index]


def test_legacy_another_sessions_task_is_not_found(http: httpx.Client) -> None:
    owner, stranger = Session(http), Session(http)
    task_id = legacy_submit(owner, "add_later", {"a": 1, "b": 1})
    for method in ("tasks/get", "tasks/result", "tasks/cancel"):
        assert "not found" in stranger.error(method, {"taskId": task_id}, -32602)
    assert stranger.result("tasks/list", {}) == {"tasks": []}


def test_legacy_cancel_a_queued_task_and_a_running_one(
    http: httpx.Client, task_fleet: RunningFleet
) -> None:
    session = Session(http)
    running = [marker(), marker()]
    held = [legacy_submit(session, "wait_for_cancel", {"marker": m}) for m in running]
    for m in running:
        task_fleet.wait_for("task_tool.ran", marker=m)
    queued_marker = marker()
    queued = legacy_submit(session, "add_later", {"a": 1, "b": 2, "marker": queued_marker})
    cancelled = session.result("tasks/cancel", {"taskId": queued})
    assert cancelled["status"] == "cancelled"
    for task_id, m in zip(held, running, strict=True):
        assert session.result("tasks/cancel", {"taskId": task_id})["status"] == "cancelled"
        task_fleet.wait_for("task_tool.cancelled", marker=m)
    # The slots are free again: a later task runs, the cancelled one never did.
    after = legacy_submit(session, "add_later", {"a": 1, "b": 1})
    assert legacy_poll(session, after)["status"] == "completed"
    assert task_fleet.find("task_tool.ran", marker=queued_marker) == []
    assert session.result("tasks/get", {"taskId": queued})["status"] == "cancelled"
    message = session.error("tasks/cancel", {"taskId": after}, -32602)
    assert "terminal" in message


# --- 2026-07-28 ------------------------------------------------------------------------------


def modern_submit(http: httpx.Client, tool: str, arguments: dict[str, Any]) -> str:
    response = modern(http, "tools/call", {"name": tool, "arguments": arguments}, name=tool)
    created = modern_result(response)
    assert created["resultType"] == "task"
    assert "ttlMs" in created and "ttl" not in created
    return str(created["taskId"])


def modern_poll(http: httpx.Client, task_id: str) -> dict[str, Any]:
    return poll(
        lambda: modern_result(modern(http, "tasks/get", {"taskId": task_id}, name=task_id)),
        task_id,
    )


def test_modern_submit_and_poll_to_the_inlined_result(http: httpx.Client) -> None:
    task_id = modern_submit(http, "add_in_thread", {"a": 20, "b": 22})
    task = modern_poll(http, task_id)
    assert task["status"] == "completed"
    assert task["resultType"] == "complete"
    assert task["result"]["structuredContent"] == 42
    assert "io.modelcontextprotocol/related-task" not in task["result"].get("_meta", {})


def test_modern_tool_errors_complete_and_protocol_errors_fail(http: httpx.Client) -> None:
    refused = modern_poll(http, modern_submit(http, "refuse", {}))
    assert refused["status"] == "completed"  # a tool that ran: completed, isError inside
    assert refused["result"]["isError"] is True
    overran = modern_poll(http, modern_submit(http, "overrun", {}))
    assert overran["status"] == "completed" and overran["result"]["isError"] is True
    asked = modern_poll(http, modern_submit(http, "ask_in_task", {}))
    assert asked["status"] == "failed"
    assert asked["error"]["code"] == -32021
    assert "result" not in asked


def test_modern_cancel_a_running_task(http: httpx.Client, task_fleet: RunningFleet) -> None:
    m = marker()
    task_id = modern_submit(http, "wait_in_thread", {"marker": m})
    task_fleet.wait_for("task_tool.ran", marker=m)
    ack = modern_result(modern(http, "tasks/cancel", {"taskId": task_id}, name=task_id))
    assert ack == {"resultType": "complete", "_meta": ack["_meta"]}
    assert modern_poll(http, task_id)["status"] == "cancelled"
    # Cancelling again is acknowledged the same way.
    again = modern(http, "tasks/cancel", {"taskId": task_id}, name=task_id)
    assert modern_result(again)["resultType"] == "complete"


def test_modern_without_the_extension_runs_in_the_foreground(http: httpx.Client) -> None:
    meta = {**WITH_TASKS, "io.modelcontextprotocol/clientCapabilities": {}}
    response = modern(
        http, "tools/call", {"name": "add_later", "arguments": {"a": 1, "b": 2}},
        name="add_later", meta=meta,
    )  # fmt: skip
    result = modern_result(response)
    assert result["resultType"] == "complete"
    assert result["structuredContent"] == 3


# --- 2025-11-25: task status events -------------------------------------------------------


def test_legacy_tasks_result_returns_as_soon_as_the_task_ends(http: httpx.Client) -> None:
    """It wakes on the task's event: polling with a growing interval would answer a
    half-second task only after about 1.5 s."""
    session = Session(http)
    task_id = legacy_submit(session, "short_nap", {"ms": 500})
    started = time.monotonic()
    result = session.result("tasks/result", {"taskId": task_id})
    assert result["content"][0]["text"] == "rested"  # type: ignore[index]
    assert time.monotonic() - started < 1.0


class StatusNotifications:
    """What a session's standalone GET stream carried: its ``notifications/tasks/status``."""

    def __init__(self) -> None:
        self.primed = False
        self.params: list[dict[str, Any]] = []
        self.meta_seen = False

    def statuses(self, task_id: str) -> list[str]:
        return [p["status"] for p in self.params if p["taskId"] == task_id]


async def read_get_stream(url: str, session_id: str, into: StatusNotifications) -> None:
    """Read the session's GET stream until cancelled, collecting task status changes."""
    headers = {
        "accept": "text/event-stream",
        "mcp-protocol-version": LEGACY,
        "mcp-session-id": session_id,
    }
    async with (
        httpx.AsyncClient(timeout=60) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line.removeprefix("data:").strip()
            if not data:
                into.primed = True  # the priming event: the stream is being served
                continue
            message = json.loads(data)
            if message.get("method") == "notifications/tasks/status":
                into.params.append(message["params"])
                into.meta_seen |= "_meta" in message["params"]


async def test_the_owners_get_stream_hears_each_status_change_of_its_tasks(
    task_fleet: RunningFleet,
) -> None:
    base = task_fleet.base_url
    with httpx.Client(base_url=base, timeout=30) as http:
        owner, stranger = Session(http), Session(http)
        heard, overheard = StatusNotifications(), StatusNotifications()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_get_stream, task_fleet.url, owner.id, heard)
            nursery.start_soon(read_get_stream, task_fleet.url, stranger.id, overheard)
            await wait_until_async(
                lambda: heard.primed and overheard.primed, deadline_s=10, what="GET streams"
            )
            done = await trio.to_thread.run_sync(legacy_submit, owner, "count_up", {"steps": 3})
            await wait_until_async(
                lambda: heard.statuses(done) == ["completed"], deadline_s=15, what="completed"
            )
            m = marker()
            held = await trio.to_thread.run_sync(
                legacy_submit, owner, "wait_for_cancel", {"marker": m}
            )
            await trio.to_thread.run_sync(lambda: task_fleet.wait_for("task_tool.ran", marker=m))
            await trio.to_thread.run_sync(owner.result, "tasks/cancel", {"taskId": held})
            await wait_until_async(
                lambda: heard.statuses(held) == ["cancelled"], deadline_s=15, what="cancelled"
            )
            # The stranger's stream was served all along and heard nothing of them.
            finished = await trio.to_thread.run_sync(
                legacy_submit, stranger, "short_nap", {"ms": 10}
            )
            await wait_until_async(
                lambda: overheard.statuses(finished) == ["completed"],
                deadline_s=15,
                what="the stranger's own task",
            )
            nursery.cancel_scope.cancel()
    # Progress (count_up reports each step) and the record's own writes sent nothing more.
    assert [p["taskId"] for p in heard.params] == [done, held]
    assert [p["taskId"] for p in overheard.params] == [finished]
    completed = heard.params[0]
    assert {"taskId", "status", "createdAt", "lastUpdatedAt", "ttl"} <= completed.keys()
    assert not heard.meta_seen


def test_a_stdio_connection_hears_its_tasks_status_changes(task_fleet: RunningFleet) -> None:
    front = stdio_front(task_fleet, app=APP)
    try:
        front.send(initialize(0), notification("notifications/initialized"))
        front.result(0)
        task = {"name": "count_up", "arguments": {"steps": 3}, "task": {}}
        front.send(request(1, "tools/call", task))
        task_id = front.result(1)["task"]["taskId"]

        def statuses() -> list[str]:
            return [
                m["params"]["status"]
                for m in front.snapshot()
                if m.get("method") == "notifications/tasks/status"
                and m["params"]["taskId"] == task_id
            ]

        wait_until(lambda: statuses() == ["completed"], deadline_s=15, what="completed")
        front.close_stdin()
        assert front.wait_exit(deadline_s=15) == 0, front.log()
        assert statuses() == ["completed"]  # progress sent nothing
        front.assert_stdout_was_protocol_only()
    finally:
        front.kill()
