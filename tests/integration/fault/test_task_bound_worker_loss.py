"""A task whose worker is killed (SIGKILL) ends ``failed`` when the supervisor settles it
(ADR-0014), and from then on no longer counts against its caller's bound on unfinished
tasks (ADR-0017): the caller, refused while it ran, is admitted again."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import redis

from tests.e2e.test_tasks import marker, modern_poll, modern_submit
from tests.e2e.test_tasks_front import modern
from tests.fixtures.fleet import start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tasks import read_task
from tests.fixtures.waiting import wait_until


def test_a_task_failed_after_its_worker_was_lost_frees_its_slot(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = start_fleet(
        redis_server, fleet_name, tmp_path, workers=1, app="tests.fixtures.task_tools:app",
        env={"MCPFLEET_LIMITS__MAX_TASKS_PER_PRINCIPAL": "1"},
    )  # fmt: skip
    try:
        store = redis.Redis.from_url(fleet.redis_url)
        with fleet.http() as http:
            lost = modern_submit(http, "nap_once", {"seconds": 30, "marker": marker()})
            another = {"name": "add_later", "arguments": {"a": 1, "b": 1}}
            refused = modern(http, "tools/call", another, name="add_later")
            assert refused.status_code == 429
            assert refused.json()["error"]["data"]["reason"] == "too_many_tasks"
            wait_until(
                lambda: read_task(store, fleet.fleet, lost).get("attempts") == "1",
                deadline_s=30,
                what="the task started",
            )
            (pid,) = fleet.worker_pids()
            os.kill(pid, signal.SIGKILL)
            assert modern_poll(http, lost)["status"] == "failed"
            admitted = modern_submit(http, "add_later", {"a": 1, "b": 1})
            fleet.wait_for("worker.ready", count=2)  # the replacement takes it
            assert modern_poll(http, admitted)["status"] == "completed"
    finally:
        assert fleet.stop() == 0
