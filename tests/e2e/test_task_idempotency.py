"""Idempotency keys of task-creating calls (docs/tasks.md, ``_meta["mcpfleet/idempotencyKey"]``)
through a real fleet, in both protocols: a resubmission by the same owner is answered with the
task the first one created (as it stands now), concurrent submissions all get one task, another
owner never shares it, and a key reused for another call is -32602. The worker runs no tasks
(``task_slots = 0``): tasks stay ``working`` unless cancelled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from proto import IDEMPOTENCY_KEY, Keyspace
from tests.e2e.test_tasks_front import WITH_TASKS, Session, modern, modern_result
from tests.fixtures.fleet import RunningFleet, module_fleet

task_fleet = module_fleet(
    "tests.fixtures.task_front_tools:app", env={"MCPFLEET_WORKER__TASK_SLOTS": "0"}, quiet=True
)


@pytest.fixture
def http(task_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with task_fleet.http() as client:
        yield client


def new_key() -> str:
    return "order-" + uuid.uuid4().hex


def legacy_call(
    session: Session, key: object, text: str = "hi", tool: str = "maybe_task"
) -> dict[str, object]:
    params: dict[str, object] = {
        "name": tool,
        "arguments": {"text": text},
        "task": {},
        "_meta": {IDEMPOTENCY_KEY: key},
    }
    task: dict[str, object] = session.result("tools/call", params)["task"]  # type: ignore[assignment]
    return task


def modern_call(http: httpx.Client, key: object, text: str = "hi") -> httpx.Response:
    params: dict[str, object] = {"name": "maybe_task", "arguments": {"text": text}}
    return modern(
        http, "tools/call", params, name="maybe_task", meta={**WITH_TASKS, IDEMPOTENCY_KEY: key}
    )


def test_legacy_resubmission_gets_the_same_task_as_it_stands(http: httpx.Client) -> None:
    session = Session(http)
    key = new_key()
    first = legacy_call(session, key)
    again = legacy_call(session, key, text="hi")
    assert again == first
    task_id = first["taskId"]
    session.result("tasks/cancel", {"taskId": task_id})
    after = legacy_call(session, key)
    assert (after["taskId"], after["status"]) == (task_id, "cancelled")
    other = legacy_call(session, new_key())
    assert other["taskId"] != task_id
    listed = session.result("tasks/list", {})["tasks"]
    assert [t["taskId"] for t in listed] == [task_id, other["taskId"]]  # type: ignore[attr-defined]


def test_modern_resubmission_gets_the_same_task(http: httpx.Client) -> None:
    key = new_key()
    first = modern_result(modern_call(http, key))
    assert (first["resultType"], first["status"]) == ("task", "working")
    again = modern_result(modern_call(http, key))
    assert again["taskId"] == first["taskId"] and again["resultType"] == "task"
    task_id = str(first["taskId"])
    got = modern_result(modern(http, "tasks/get", {"taskId": task_id}, name=task_id))
    assert got["status"] == "working"
    assert modern_result(modern_call(http, new_key()))["taskId"] != task_id


def test_concurrent_submissions_share_one_task_found_at_once(
    http: httpx.Client, task_fleet: RunningFleet
) -> None:
    key = new_key()

    def submit(_: int) -> str:
        with httpx.Client(base_url=str(http.base_url), timeout=30) as client:
            task_id = str(modern_result(modern_call(client, key))["taskId"])
            got = modern(client, "tasks/get", {"taskId": task_id}, name=task_id)
            assert modern_result(got)["taskId"] == task_id  # an immediate read resolves
            return task_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        answered = set(pool.map(submit, range(8)))
    assert len(answered) == 1
    created = [e for e in task_fleet.find("task.created") if e.get("task_id") in answered]
    assert len(created) == 1


def test_owners_never_share_a_key(http: httpx.Client) -> None:
    key = new_key()
    one, two = Session(http), Session(http)
    first = legacy_call(one, key)
    second = legacy_call(two, key)
    assert first["taskId"] != second["taskId"]
    anonymous = modern_result(modern_call(http, key))
    assert anonymous["taskId"] not in (first["taskId"], second["taskId"])
    assert two.error("tasks/get", {"taskId": first["taskId"]}, -32602) == "Task not found"


def test_a_key_reused_for_another_call_is_refused(http: httpx.Client) -> None:
    session = Session(http)
    key = new_key()
    task_id = legacy_call(session, key, text="one")["taskId"]
    meta = {IDEMPOTENCY_KEY: key}
    other_arguments: dict[str, object] = {
        "name": "maybe_task",
        "arguments": {"text": "two"},
        "task": {},
        "_meta": meta,
    }
    assert "another tool call" in session.error("tools/call", other_arguments, -32602)
    other_tool: dict[str, object] = {
        **other_arguments,
        "name": "only_task",
        "arguments": {"text": "one"},
    }
    assert "another tool call" in session.error("tools/call", other_tool, -32602)
    listed = session.result("tasks/list", {})["tasks"]
    assert [t["taskId"] for t in listed] == [task_id]  # type: ignore[attr-defined]
    modern_key = new_key()
    assert modern_result(modern_call(http, modern_key, text="x"))["resultType"] == "task"
    assert modern_call(http, modern_key, text="y").json()["error"]["code"] == -32602


@pytest.mark.parametrize("key", ["", "k" * 201, 42, None])
def test_a_malformed_key_is_refused_and_nothing_is_created(
    http: httpx.Client, task_fleet: RunningFleet, key: object
) -> None:
    session = Session(http)
    meta = {IDEMPOTENCY_KEY: key}
    params: dict[str, object] = {
        "name": "maybe_task",
        "arguments": {"text": "x"},
        "task": {},
        "_meta": meta,
    }
    assert "idempotencyKey" in session.error("tools/call", params, -32602)
    assert session.result("tasks/list", {}) == {"tasks": []}
    assert modern_call(http, key).json()["error"]["code"] == -32602


def test_a_key_on_a_call_that_makes_no_task_is_ignored(
    http: httpx.Client, task_fleet: RunningFleet
) -> None:
    session = Session(http)
    meta = {IDEMPOTENCY_KEY: 42}
    params: dict[str, object] = {
        "name": "maybe_task",
        "arguments": {"text": "plain"},
        "_meta": meta,
    }
    assert session.result("tools/call", params)["content"] == [{"type": "text", "text": "plain"}]
    plain = modern(
        http, "tools/call", {"name": "never_task", "arguments": {"text": "p"}},
        name="never_task", meta={**WITH_TASKS, IDEMPOTENCY_KEY: ""},
    )  # fmt: skip
    assert modern_result(plain)["content"] == [{"type": "text", "text": "p"}]


def test_the_key_is_kept_hashed_for_the_tasks_retention(
    http: httpx.Client, task_fleet: RunningFleet
) -> None:
    session = Session(http)
    key = "my key: with spaces } and braces"
    task_id = legacy_call(session, key)["taskId"]
    conn = redis.Redis.from_url(task_fleet.redis_url)
    claims = list(conn.scan_iter(match=Keyspace(task_fleet.fleet).task_idempotency("*", "*")))
    held = {c: conn.get(c) for c in claims}
    assert str(task_id).encode() in held.values()
    (claim,) = [c for c, v in held.items() if v == str(task_id).encode()]
    assert key.encode() not in claim
    assert 3_000_000 < conn.pttl(claim) <= 3_600_000  # the default retention


def test_the_same_arguments_spelled_differently_are_the_same_call(http: httpx.Client) -> None:
    session = Session(http)
    key = new_key()
    first = legacy_call(session, key, text="spaced")
    meta = f'"_meta": {{"{IDEMPOTENCY_KEY}": "{key}"}}'
    body = (
        '{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "maybe_task",'
        ' "arguments": {  "text" :   "spaced"  }, "task": {}, ' + meta + "}}"
    )
    response = session.http.post(
        "/mcp",
        content=body.encode(),
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": session.version,
            "mcp-session-id": session.id,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["task"]["taskId"] == first["taskId"]
