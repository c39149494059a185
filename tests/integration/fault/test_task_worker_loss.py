"""A worker killed with SIGKILL in the middle of a durable task (ADR-0011): the supervisor
settles the task at once, not after rq's ~90 s plus maintenance. An idempotent tool's task
runs again and completes; any other ends ``failed`` with a "worker lost" reason. Tasks made
directly in Redis, and tasks made through the HTTP front in both protocols, whose clients see
the outcome."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.e2e.test_tasks import legacy_poll, legacy_submit, modern_poll, modern_submit
from tests.e2e.test_tasks_front import Session
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tasks import create_task, read_task
from tests.fixtures.waiting import wait_until

APP = "tests.fixtures.task_tools:app"


@pytest.fixture(scope="module")
def task_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    """One worker (so the one running a task is the one killed), the task-lane tools."""
    running = start_fleet(
        redis_server, "t" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app=APP,
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])


def kill_the_worker_running(fleet: RunningFleet, store: redis.Redis, task_id: str) -> float:
    """Wait until the task runs, SIGKILL its worker; the moment of the kill."""
    wait_until(
        lambda: read_task(store, fleet.fleet, task_id).get("attempts") == "1",
        deadline_s=30,
        what="the task started",
    )
    (pid,) = fleet.worker_pids()
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def test_an_idempotent_tools_task_runs_again_and_completes(task_fleet: RunningFleet) -> None:
    store = redis.Redis.from_url(task_fleet.redis_url)
    task_id = create_task(
        store, task_fleet.fleet, "nap_safely", {"seconds": 3}, retryable=True, max_attempts=3
    )
    kill_the_worker_running(task_fleet, store, task_id)
    wait_until(
        lambda: read_task(store, task_fleet.fleet, task_id).get("status") == "completed",
        deadline_s=40,
        what="the retried task completed",
    )
    record = read_task(store, task_fleet.fleet, task_id)
    assert record["attempts"] == "2"
    assert "napped 3" in record["outcome"]
    assert task_fleet.find("task.requeued_after_worker_loss", task_id=task_id)


def test_any_other_tools_task_fails_with_worker_lost_within_seconds(
    task_fleet: RunningFleet,
) -> None:
    store = redis.Redis.from_url(task_fleet.redis_url)
    task_id = create_task(store, task_fleet.fleet, "nap_once", {"seconds": 30})
    killed_at = kill_the_worker_running(task_fleet, store, task_id)
    wait_until(
        lambda: read_task(store, task_fleet.fleet, task_id).get("status") == "failed",
        deadline_s=10,
        what="the task failed",
    )
    settled_in_s = time.monotonic() - killed_at
    record = read_task(store, task_fleet.fleet, task_id)
    assert settled_in_s < 5, settled_in_s
    assert "Worker lost" in record["message"]
    assert '"reason":"worker_lost"' in record["outcome"]
    assert record["attempts"] == "1"
    # Nothing of it stays with rq: no job (deleted right after the record moved).
    wait_until(lambda: not store.exists(f"rq:job:{task_id}"), deadline_s=5, what="the job deleted")


# --- Through the HTTP front: what a client polling the tasks sees ----------------------------


def kill_the_worker_running_both(fleet: RunningFleet, store: redis.Redis, *ids: str) -> float:
    """Wait until every task runs (one worker, two slots), SIGKILL the worker."""
    for task_id in ids[:-1]:
        wait_until(
            lambda task_id=task_id: read_task(store, fleet.fleet, task_id).get("attempts") == "1",
            deadline_s=30,
            what="the task started",
        )
    return kill_the_worker_running(fleet, store, ids[-1])


@pytest.fixture
def http(task_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with task_fleet.http() as client:
        yield client


def test_2026_client_sees_the_retried_task_complete_and_the_other_fail(
    task_fleet: RunningFleet, http: httpx.Client
) -> None:
    store = redis.Redis.from_url(task_fleet.redis_url)
    once = modern_submit(http, "nap_once", {"seconds": 30})
    safe = modern_submit(http, "nap_safely", {"seconds": 1})
    killed_at = kill_the_worker_running_both(task_fleet, store, once, safe)
    failed = modern_poll(http, once)
    assert time.monotonic() - killed_at < 5
    assert failed["status"] == "failed"
    assert "Worker lost" in failed["statusMessage"]
    assert failed["error"]["code"] == -32603
    assert failed["error"]["data"]["reason"] == "worker_lost"
    done = modern_poll(http, safe)
    assert done["status"] == "completed", done
    assert done["result"]["content"] == [{"type": "text", "text": "napped 1.0"}]
    assert read_task(store, task_fleet.fleet, safe)["attempts"] == "2"


def test_2025_client_sees_the_retried_task_complete_and_the_other_fail(
    task_fleet: RunningFleet, http: httpx.Client
) -> None:
    store = redis.Redis.from_url(task_fleet.redis_url)
    session = Session(http)
    once = legacy_submit(session, "nap_once", {"seconds": 30})
    safe = legacy_submit(session, "nap_safely", {"seconds": 1})
    killed_at = kill_the_worker_running_both(task_fleet, store, once, safe)
    failed = legacy_poll(session, once)
    assert time.monotonic() - killed_at < 5
    assert failed["status"] == "failed"
    assert "Worker lost" in failed["statusMessage"]
    # The error the task ended with, -32603 as the call would have answered; relayed with
    # HTTP 200: the retrieval succeeded (ADR-0011).
    relayed = session.post("tasks/result", {"taskId": once})
    assert relayed.status_code == 200
    error = relayed.json()["error"]
    assert error["code"] == -32603 and error["data"]["reason"] == "worker_lost"
    assert "was lost before it finished" in error["message"]
    result = session.result("tasks/result", {"taskId": safe})
    assert result["content"] == [{"type": "text", "text": "napped 1.0"}]
    assert legacy_poll(session, safe)["status"] == "completed"
    assert read_task(store, task_fleet.fleet, safe)["attempts"] == "2"
