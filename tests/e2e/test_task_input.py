"""Durable tasks asking the client for input, end to end through a real fleet over raw HTTP
(ADR-0011 addendum): at 2026-07-28 ``tasks/get`` lists the outstanding ``inputRequests``,
``tasks/update`` answers them (partially too, unknown keys ignored) and the task finishes
with the answers; a task cancelled while it waits ends ``cancelled``; an
``input_before_task`` tool gathers its input by rounds of the creating call first. At
2025-11-25 the requests travel on the task's ``tasks/result`` stream (HTTP and stdio), and
the owner's responses, posted to any front, reach the task."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_tasks import marker, modern_poll, modern_submit
from tests.e2e.test_tasks_front import ACCEPT, LEGACY, WITH_TASKS, Session, modern, modern_result
from tests.fixtures.fleet import RunningFleet, module_fleet
from tests.fixtures.stdio_process import initialize, notification, request, stdio_front
from tests.fixtures.waiting import wait_until

APP = "tests.fixtures.task_tools:app"

ASKING = {
    **WITH_TASKS,
    "io.modelcontextprotocol/clientCapabilities": {
        "elicitation": {},
        "extensions": {"io.modelcontextprotocol/tasks": {}},
    },
}


task_fleet = module_fleet(APP)


@pytest.fixture
def http(task_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with task_fleet.http() as client:
        yield client


def submit(http: httpx.Client, tool: str, arguments: dict[str, Any]) -> str:
    response = modern(
        http, "tools/call", {"name": tool, "arguments": arguments}, name=tool, meta=ASKING
    )
    created = modern_result(response)
    assert created["resultType"] == "task"
    return str(created["taskId"])


def get(http: httpx.Client, task_id: str) -> dict[str, Any]:
    return modern_result(modern(http, "tasks/get", {"taskId": task_id}, name=task_id))


def wait_for_requests(http: httpx.Client, task_id: str, count: int) -> dict[str, Any]:
    """tasks/get until the task waits for ``count`` requests; its last answer."""
    last: dict[str, Any] = {}

    def asking() -> bool:
        last.clear()
        last.update(get(http, task_id))
        return last["status"] == "input_required" and len(last.get("inputRequests", {})) == count

    wait_until(asking, deadline_s=15, what=f"task {task_id} asks {count} things")
    return last


def update(http: httpx.Client, task_id: str, responses: dict[str, Any]) -> dict[str, Any]:
    params = {"taskId": task_id, "inputResponses": responses}
    return modern_result(modern(http, "tasks/update", params, name=task_id))


def accept(name: str) -> dict[str, Any]:
    return {"action": "accept", "content": {"name": name}}


def test_a_task_asks_and_finishes_with_the_answer(http: httpx.Client) -> None:
    task_id = submit(http, "confirm_in_task", {})
    task = wait_for_requests(http, task_id, 1)
    request = task["inputRequests"]["confirm"]
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Proceed?"
    assert "result" not in task and "error" not in task
    ack = update(http, task_id, {"confirm": accept("Ada"), "not-asked": {"ignored": True}})
    assert ack == {"resultType": "complete", "_meta": ack["_meta"]}
    done = modern_poll(http, task_id)
    assert done["status"] == "completed"
    assert done["result"]["content"][0]["text"] == "accept:Ada"
    assert "inputRequests" not in done


def test_partial_answers_keep_the_task_waiting_for_the_rest(http: httpx.Client) -> None:
    task_id = submit(http, "two_questions", {})
    assert set(wait_for_requests(http, task_id, 2)["inputRequests"]) == {"first", "second"}
    update(http, task_id, {"first": accept("one")})
    after = get(http, task_id)
    assert after["status"] == "input_required"
    assert set(after["inputRequests"]) == {"second"}
    # An answer to a key answered already is ignored: the first answer stays.
    update(http, task_id, {"first": accept("changed"), "second": accept("two")})
    done = modern_poll(http, task_id)
    assert done["status"] == "completed"
    assert done["result"]["content"][0]["text"] == "one+two"


def test_a_task_cancelled_while_it_waits_ends_cancelled(
    http: httpx.Client, task_fleet: RunningFleet
) -> None:
    m = marker()
    task_id = submit(http, "confirm_in_task", {"marker": m})
    wait_for_requests(http, task_id, 1)
    modern_result(modern(http, "tasks/cancel", {"taskId": task_id}, name=task_id))
    assert modern_poll(http, task_id)["status"] == "cancelled"
    task_fleet.wait_for("task.cancelled", task_id=task_id)
    # A late answer changes nothing.
    update(http, task_id, {"confirm": accept("late")})
    assert get(http, task_id)["status"] == "cancelled"


def test_without_the_capability_the_task_fails_with_32021(http: httpx.Client) -> None:
    task_id = modern_submit(http, "confirm_in_task", {})  # WITH_TASKS: no elicitation
    failed = modern_poll(http, task_id)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == -32021
    assert failed["error"]["data"]["requiredCapabilities"] == {"elicitation": {}}


def test_input_before_the_task_comes_by_rounds_of_the_call(http: httpx.Client) -> None:
    call = {"name": "name_first", "arguments": {}}
    first = modern_result(modern(http, "tools/call", call, name="name_first", meta=ASKING))
    assert first["resultType"] == "input_required"
    assert "taskId" not in first
    assert list(first["inputRequests"]) == ["user_name"]
    retry = {**call, "inputResponses": {"user_name": accept("Grace")}}
    retry["requestState"] = first["requestState"]
    second = modern_result(modern(http, "tools/call", retry, name="name_first", meta=ASKING))
    assert second["resultType"] == "task"
    assert "requestState" not in second and "inputRequests" not in second
    done = modern_poll(http, str(second["taskId"]))
    assert done["status"] == "completed"
    assert done["result"]["content"][0]["text"] == "Hello, Grace"


def test_a_tampered_state_is_refused(http: httpx.Client) -> None:
    call = {"name": "name_first", "arguments": {}}
    first = modern_result(modern(http, "tools/call", call, name="name_first", meta=ASKING))
    retry = {
        **call,
        "inputResponses": {"user_name": accept("Mallory")},
        "requestState": first["requestState"] + "x",
    }
    response = modern(http, "tools/call", retry, name="name_first", meta=ASKING)
    assert response.json()["error"]["code"] == -32602
    # The state is sealed, not secret: its body names the task, which still waits.
    body = first["requestState"].partition(".")[0]
    task_id = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))[-1]
    assert get(http, task_id)["status"] == "input_required"
    modern_result(modern(http, "tasks/cancel", {"taskId": task_id}, name=task_id))


# --- 2025-11-25: the requests travel on the tasks/result stream --------------------------------

ELICITING: dict[str, Any] = {"elicitation": {}}


class AskingSession(Session):
    """A 2025-11-25 session whose client can answer elicitation requests."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.version = LEGACY
        params = {"protocolVersion": LEGACY, "capabilities": ELICITING,
                  "clientInfo": {"name": "raw", "version": "1"}}  # fmt: skip
        init = http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params},
            headers={"accept": ACCEPT},
        )
        assert init.status_code == 200, init.text
        self.id = init.headers["mcp-session-id"]

    def headers(self) -> dict[str, str]:
        return {"accept": ACCEPT, "mcp-protocol-version": LEGACY, "mcp-session-id": self.id}

    def respond(self, rid: str, **outcome: Any) -> None:
        body = {"jsonrpc": "2.0", "id": rid, **outcome}
        posted = self.http.post("/mcp", json=body, headers=self.headers())
        assert posted.status_code == 202, posted.text


def sse_messages(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data:") and line[5:].strip():
            yield json.loads(line[5:])


def legacy_ask(session: AskingSession, tool: str) -> str:
    created = session.result("tools/call", {"name": tool, "arguments": {}, "task": {}})
    return str(created["task"]["taskId"])  # type: ignore[index]


def test_legacy_a_task_asks_on_its_result_stream_and_ends_with_the_answer(
    http: httpx.Client,
) -> None:
    session, stranger = AskingSession(http), AskingSession(http)
    task_id = legacy_ask(session, "confirm_in_task")
    body = {"jsonrpc": "2.0", "id": 9, "method": "tasks/result", "params": {"taskId": task_id}}
    with http.stream("POST", "/mcp", json=body, headers=session.headers()) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        messages = sse_messages(stream.iter_lines())
        asked = next(messages)
        assert asked["method"] == "elicitation/create"
        assert asked["id"] == f"mcpfleet-task-{task_id}:confirm"
        assert asked["params"]["message"] == "Proceed?"
        related = asked["params"]["_meta"]["io.modelcontextprotocol/related-task"]
        assert related == {"taskId": task_id}
        assert session.result("tasks/get", {"taskId": task_id})["status"] == "input_required"
        # Another session's answer is taken (202) and dropped: the task still waits.
        stranger.respond(asked["id"], result=accept("Mallory"))
        assert session.result("tasks/get", {"taskId": task_id})["status"] == "input_required"
        session.respond(asked["id"], result=accept("Ada"))
        final = next(m for m in messages if m.get("id") == 9)
    assert final["result"]["content"][0]["text"] == "accept:Ada"
    assert final["result"]["_meta"]["io.modelcontextprotocol/related-task"] == related
    assert session.result("tasks/get", {"taskId": task_id})["status"] == "completed"


def test_legacy_requests_are_sent_again_on_a_new_result_stream(http: httpx.Client) -> None:
    session = AskingSession(http)
    task_id = legacy_ask(session, "two_questions")
    body = {"jsonrpc": "2.0", "id": 3, "method": "tasks/result", "params": {"taskId": task_id}}
    with http.stream("POST", "/mcp", json=body, headers=session.headers()) as stream:
        first = sse_messages(stream.iter_lines())
        ids = {next(first)["id"], next(first)["id"]}
    # The client dropped that stream having answered one of the two: the next tasks/result
    # sends the other one again, with the same id.
    answered = f"mcpfleet-task-{task_id}:first"
    assert ids == {answered, f"mcpfleet-task-{task_id}:second"}
    session.respond(answered, result=accept("one"))
    with http.stream("POST", "/mcp", json=body, headers=session.headers()) as stream:
        messages = sse_messages(stream.iter_lines())
        again = next(messages)
        assert again["id"] == f"mcpfleet-task-{task_id}:second"
        session.respond(answered, result=accept("ignored: answered already"))
        session.respond(again["id"], result=accept("two"))
        final = next(m for m in messages if m.get("id") == 3)
    assert final["result"]["content"][0]["text"] == "one+two"


def test_legacy_a_refusal_reaches_the_handler_and_fails_the_task(http: httpx.Client) -> None:
    session = AskingSession(http)
    task_id = legacy_ask(session, "confirm_in_task")
    body = {"jsonrpc": "2.0", "id": 4, "method": "tasks/result", "params": {"taskId": task_id}}
    with http.stream("POST", "/mcp", json=body, headers=session.headers()) as stream:
        messages = sse_messages(stream.iter_lines())
        asked = next(messages)
        session.respond(asked["id"], error={"code": -32600, "message": "No user here"})
        final = next(m for m in messages if m.get("id") == 4)
    # The handler did not catch the refusal: a tool error, so failed at this revision.
    assert final["result"]["isError"] is True, final
    assert "No user here" in final["result"]["content"][0]["text"]
    assert session.result("tasks/get", {"taskId": task_id})["status"] == "failed"


def test_legacy_stdio_a_task_asks_on_the_connection(task_fleet: RunningFleet) -> None:
    front = stdio_front(task_fleet, app=APP)
    try:
        front.send(initialize(0, capabilities=ELICITING), notification("notifications/initialized"))
        front.result(0)
        front.send(request(1, "tools/call", {"name": "confirm_in_task", "task": {}}))
        task_id = front.result(1)["task"]["taskId"]
        front.send(request(2, "tasks/result", {"taskId": task_id}))
        asked_id = f"mcpfleet-task-{task_id}:confirm"
        wait_until(
            lambda: any(m.get("id") == asked_id for m in front.snapshot()),
            deadline_s=15,
            what="the task's request on stdout",
        )
        front.send({"jsonrpc": "2.0", "id": asked_id, "result": accept("Lin")})
        assert front.result(2)["content"][0]["text"] == "accept:Lin"
        front.close_stdin()
        assert front.wait_exit(deadline_s=15) == 0, front.log()
        front.assert_stdout_was_protocol_only()
    finally:
        front.kill()
