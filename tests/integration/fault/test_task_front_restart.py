"""A task outlives its front (ADR-0011, issue 5): the front SIGKILLed while its tasks run is
restarted by the supervisor on the same port, and the new front finds them and serves their
results, in both protocols (a 2025-11-25 session lives in Redis, so it survives too). And
one front serves the tasks another created (two fleets sharing a namespace)."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.test_tasks import legacy_poll, legacy_submit, modern_poll, modern_submit
from tests.e2e.test_tasks_front import Session, modern, modern_result
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer

APP = "tests.fixtures.task_tools:app"


@pytest.fixture(scope="module")
def task_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server, "f" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app=APP,
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])


def marker() -> str:
    return uuid.uuid4().hex[:12]


def test_tasks_running_when_the_front_is_killed_are_found_by_the_next_front(
    task_fleet: RunningFleet,
) -> None:
    modern_marker, legacy_marker = marker(), marker()
    with task_fleet.http() as http:
        session = Session(http)
        modern_id = modern_submit(http, "nap_once", {"seconds": 1.5, "marker": modern_marker})
        legacy_id = legacy_submit(session, "nap_once", {"seconds": 1.5, "marker": legacy_marker})
        task_fleet.wait_for("task_tool.ran", marker=modern_marker)
        task_fleet.wait_for("task_tool.ran", marker=legacy_marker)
        (front,) = task_fleet.front_pids()
        os.kill(front, signal.SIGKILL)
    task_fleet.wait_for("front.exited")
    task_fleet.wait_for("front.ready", count=2)
    assert task_fleet.front_pids() not in ([], [front])
    with task_fleet.http() as http:  # the same URL: the front came back on its port
        task = modern_poll(http, modern_id)
        assert task["status"] == "completed", task
        assert task["result"]["content"] == [{"type": "text", "text": "napped 1.5"}]
        session.http = http
        assert legacy_poll(session, legacy_id)["status"] == "completed"
        result = session.result("tasks/result", {"taskId": legacy_id})
        assert result["content"] == [{"type": "text", "text": "napped 1.5"}]
        listed = session.result("tasks/list", {})
        assert [t["taskId"] for t in listed["tasks"]] == [legacy_id]  # type: ignore[union-attr]


def test_one_front_serves_the_tasks_another_created(
    task_fleet: RunningFleet, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A second fleet on the same namespace: another front of the same deployment.
    other = start_fleet(
        redis_server, task_fleet.fleet, tmp_path_factory.mktemp("other"), workers=1, app=APP
    )
    try:
        with task_fleet.http() as first, other.http() as second:
            modern_id = modern_submit(first, "add_later", {"a": 2, "b": 5})
            session = Session(first)
            legacy_id = legacy_submit(session, "add_later", {"a": 4, "b": 5})
            assert modern_poll(second, modern_id)["result"]["structuredContent"] == 7
            session.http = second
            assert legacy_poll(session, legacy_id)["status"] == "completed"
            result = session.result("tasks/result", {"taskId": legacy_id})
            assert result["structuredContent"] == {"result": 9}
            ack = modern(second, "tasks/cancel", {"taskId": modern_id}, name=modern_id)
            assert modern_result(ack)["resultType"] == "complete"
    finally:
        assert other.stop() == 0
