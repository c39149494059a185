"""Durable tasks run by real worker processes (``mcpfleet up``): tasks made as a front makes
them (tests/fixtures/tasks.py) end with the outcome their tool gives, cancels reach them
queued or running, and a task whose record is gone or ended never runs."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from proto import MODERN_VERSIONS, TaskStatus
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tasks import cancel_task, create_task, job_exists, read_task
from tests.fixtures.waiting import wait_until

ENDED = {s.value for s in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)}


@pytest.fixture(scope="module")
def task_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server,
        "k" + uuid.uuid4().hex[:10],
        tmp_path_factory.mktemp("tasks"),
        workers=1,
        app="tests.fixtures.task_tools:app",
    )
    yield running
    code = running.stop()
    assert code == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


@pytest.fixture
def client(task_fleet: RunningFleet) -> redis.Redis:
    return redis.Redis.from_url(task_fleet.redis_url)


def _ended(client: redis.Redis, fleet: RunningFleet, task_id: str) -> dict[str, str]:
    wait_until(
        lambda: (
            read_task(client, fleet.fleet, task_id).get("status") in ENDED
            and not job_exists(client, task_id)
        ),
        deadline_s=20,
        what=f"task {task_id} to end",
    )
    return read_task(client, fleet.fleet, task_id)


def _outcome(record: dict[str, str]) -> dict[str, Any]:
    outcome = json.loads(record["outcome"])
    assert isinstance(outcome, dict)
    return outcome


def _marker() -> str:
    return uuid.uuid4().hex


@pytest.mark.parametrize("tool", ["add_later", "add_in_thread"])
def test_a_task_runs_once_and_completes_with_its_result(
    task_fleet: RunningFleet, client: redis.Redis, tool: str
) -> None:
    marker = _marker()
    task_id = create_task(client, task_fleet.fleet, tool, {"a": 2, "b": 3, "marker": marker})
    record = _ended(client, task_fleet, task_id)
    assert record["status"] == "completed"
    assert "is_error" not in record
    result = _outcome(record)["result"]
    assert result["content"] == [{"type": "text", "text": "5"}]
    assert result.get("isError", False) is False
    assert record["attempts"] == "1"
    assert re.fullmatch(r".+-task-[01]", record["worker"])
    assert len(task_fleet.find("task_tool.ran", marker=marker)) == 1


def test_a_2026_task_stores_the_result_rendered_for_that_revision(
    task_fleet: RunningFleet, client: redis.Redis
) -> None:
    version = sorted(MODERN_VERSIONS)[-1]
    task_id = create_task(client, task_fleet.fleet, "add_later", {"a": 1, "b": 1}, version=version)
    result = _outcome(_ended(client, task_fleet, task_id))["result"]
    assert result["resultType"] == "complete"
    assert result["content"] == [{"type": "text", "text": "2"}]


def test_a_tool_error_completes_the_task_marked_is_error(
    task_fleet: RunningFleet, client: redis.Redis
) -> None:
    task_id = create_task(client, task_fleet.fleet, "refuse")
    record = _ended(client, task_fleet, task_id)
    assert record["status"] == "completed"
    assert record["is_error"] == "1"
    result = _outcome(record)["result"]
    assert result["isError"] is True
    assert "refused on purpose" in result["content"][0]["text"]


def test_a_handler_past_its_time_limit_is_a_tool_error(
    task_fleet: RunningFleet, client: redis.Redis
) -> None:
    task_id = create_task(client, task_fleet.fleet, "overrun")
    record = _ended(client, task_fleet, task_id)
    assert (record["status"], record["is_error"]) == ("completed", "1")
    assert "timed out after 0.3 s" in _outcome(record)["result"]["content"][0]["text"]


def test_a_tool_the_worker_does_not_know_fails_the_task_with_an_error(
    task_fleet: RunningFleet, client: redis.Redis
) -> None:
    task_id = create_task(client, task_fleet.fleet, "no_such_tool")
    record = _ended(client, task_fleet, task_id)
    assert record["status"] == "failed"
    assert _outcome(record)["error"] == {"code": -32602, "message": "Unknown tool: no_such_tool"}
    assert record["message"] == "Unknown tool: no_such_tool"


def test_progress_lands_in_the_record(task_fleet: RunningFleet, client: redis.Redis) -> None:
    task_id = create_task(client, task_fleet.fleet, "count_up", {"steps": 3})
    record = _ended(client, task_fleet, task_id)
    assert record["status"] == "completed"
    assert json.loads(record["progress"]) == {"progress": 3, "total": 3, "message": "step 3"}


def test_a_task_cancelled_while_queued_never_runs(
    task_fleet: RunningFleet, client: redis.Redis
) -> None:
    marker = _marker()
    task_id = create_task(
        client, task_fleet.fleet, "add_later", {"a": 1, "b": 2, "marker": marker},
        status=TaskStatus.CANCELLED,
    )  # fmt: skip
    record = _ended(client, task_fleet, task_id)
    task_fleet.wait_for("task.ended_unrun", task_id=task_id)
    assert record["status"] == "cancelled"
    assert record["attempts"] == "0"
    assert "outcome" not in record
    assert task_fleet.find("task_tool.ran", marker=marker) == []


def test_a_task_whose_record_expired_is_skipped(
    task_fleet: RunningFleet, client: redis.Redis
) -> None:
    marker = _marker()
    task_id = create_task(
        client, task_fleet.fleet, "add_later", {"a": 1, "b": 2, "marker": marker},
        with_record=False,
    )  # fmt: skip
    task_fleet.wait_for("task.expired_unrun", task_id=task_id)
    wait_until(lambda: not job_exists(client, task_id), deadline_s=10, what="the job gone")
    assert read_task(client, task_fleet.fleet, task_id) == {}  # not brought back
    assert task_fleet.find("task_tool.ran", marker=marker) == []


@pytest.mark.parametrize("tool", ["wait_for_cancel", "wait_in_thread"])
def test_a_cancel_stops_the_running_handler_and_the_task_stays_cancelled(
    task_fleet: RunningFleet, client: redis.Redis, tool: str
) -> None:
    marker = _marker()
    task_id = create_task(client, task_fleet.fleet, tool, {"marker": marker})
    task_fleet.wait_for("task_tool.ran", marker=marker)
    record = read_task(client, task_fleet.fleet, task_id)
    assert (record["status"], record["attempts"]) == ("working", "1")
    assert cancel_task(client, task_fleet.fleet, task_id) == 1
    task_fleet.wait_for("task_tool.cancelled", marker=marker)
    record = _ended(client, task_fleet, task_id)
    assert (record["status"], record["cancel"]) == ("cancelled", "1")
    assert "outcome" not in record  # the late outcome did not move it
    task_fleet.wait_for("task.ended", task_id=task_id, status="cancelled", recorded=False)


def test_twenty_tasks_complete_on_the_worker_s_slots(
    task_fleet: RunningFleet, client: redis.Redis
) -> None:
    ids = [create_task(client, task_fleet.fleet, "add_later", {"a": n, "b": 1}) for n in range(20)]
    for n, task_id in enumerate(ids):
        record = _ended(client, task_fleet, task_id)
        assert _outcome(record)["result"]["content"][0]["text"] == str(n + 1)


def test_a_stopping_worker_finishes_its_running_task_first(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fleet = start_fleet(
        redis_server,
        "k" + uuid.uuid4().hex[:10],
        tmp_path_factory.mktemp("drain"),
        workers=1,
        app="tests.fixtures.task_tools:app",
    )
    client = redis.Redis.from_url(fleet.redis_url)
    marker = _marker()
    task_id = create_task(client, fleet.fleet, "short_nap", {"ms": 1500, "marker": marker})
    fleet.wait_for("task_tool.ran", marker=marker)
    assert fleet.stop() == 0
    fleet.join_log()
    assert fleet.find("task_tool.finished", marker=marker)
    assert read_task(client, fleet.fleet, task_id)["status"] == "completed"
    assert fleet.find("task_lane.stopped", tasks_run=1)
    assert fleet.errors() == []
