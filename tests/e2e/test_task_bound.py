"""The bound on a caller's unfinished tasks through a real fleet (ADR-0017): past
``max_tasks_per_principal`` a task-creating ``tools/call`` gets 429 with ``Retry-After``
and the JSON-RPC error -31429 ``too_many_tasks`` in both protocols, before anything is
created; a task that completes, or that its owner cancels, frees its slot."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from proto import Keyspace
from tests.e2e.test_tasks import marker, modern_poll, modern_submit
from tests.e2e.test_tasks_front import Session, modern
from tests.fixtures.fleet import RunningFleet, module_fleet

bounded_fleet = module_fleet(
    "tests.fixtures.task_tools:app",
    env={"MCPFLEET_LIMITS__MAX_TASKS_PER_PRINCIPAL": "2"},
    quiet=True,
    doc="One worker running two tasks at once; each caller may hold two unfinished tasks.",
)


@pytest.fixture
def http(bounded_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with bounded_fleet.http() as client:
        yield client


def assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "1"
    assert "x-ratelimit-limit" not in response.headers
    error = response.json()["error"]
    assert error["code"] == -31429
    assert error["data"] == {"reason": "too_many_tasks", "retryAfter": 1, "maxTasks": 2}


def cancel(http: httpx.Client, task_id: str) -> None:
    response = modern(http, "tasks/cancel", {"taskId": task_id}, name=task_id)
    assert response.status_code == 200, response.text


def test_a_caller_holds_at_most_its_bound_of_unfinished_tasks(
    http: httpx.Client, bounded_fleet: RunningFleet
) -> None:
    keys = Keyspace(bounded_fleet.fleet)
    sync = redis.Redis.from_url(bounded_fleet.redis_url)
    # One task completes at once; its slot is free again for the next.
    quick = modern_submit(http, "add_later", {"a": 1, "b": 2})
    assert modern_poll(http, quick)["status"] == "completed"
    held = [modern_submit(http, "wait_for_cancel", {"marker": marker()}) for _ in range(2)]
    tasks = len(sync.keys(keys.task("*")))
    waiting = {"name": "wait_for_cancel", "arguments": {"marker": marker()}}
    assert_too_many(modern(http, "tools/call", waiting, name="wait_for_cancel"))
    # The same caller (one address) in a 2025-11-25 session: the same bound.
    session = Session(http)
    assert_too_many(session.post("tools/call", {**waiting, "task": {}}))
    assert len(sync.keys(keys.task("*"))) == tasks  # nothing was created
    # A plain call is no task: still served.
    plain = session.result("tools/call", {"name": "add_later", "arguments": {"a": 2, "b": 2}})
    assert plain["structuredContent"] == {"result": 4}
    # Its owner cancels one: the next is admitted.
    cancel(http, held[0])
    assert modern_poll(http, held[0])["status"] == "cancelled"
    held[0] = modern_submit(http, "wait_for_cancel", {"marker": marker()})
    assert_too_many(modern(http, "tools/call", waiting, name="wait_for_cancel"))
    for task_id in held:
        cancel(http, task_id)
    assert bounded_fleet.find("limit.rejected", reason="too_many_tasks", tool="wait_for_cancel")
