"""Tasks across a stop and a start of ``mcpfleet up`` with its embedded Redis (ADR-0011,
issue 5): its append-only file in the data dir keeps them. What ended is found with its
result (a 2025-11-25 session survives too, within its idle TTL); at the stop, a running
task gets ``worker.drain_timeout_s``, then a retryable one goes back in line and runs at
the next start while any other ends ``failed`` ("worker stopped"); a task still queued
stays queued and runs at the next start."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_tasks import legacy_poll, legacy_submit, modern_poll, modern_submit
from tests.e2e.test_tasks_front import Session, modern, modern_result
from tests.fixtures.fleet import RunningFleet, start_embedded_fleet

APP = "tests.fixtures.task_tools:app"


def marker() -> str:
    return uuid.uuid4().hex[:12]


def start(data_dir: Path) -> RunningFleet:
    # One worker, two task slots; a short drain so that the stop interrupts the long tasks.
    fleet = start_embedded_fleet(
        data_dir, workers=1, app=APP, env={"MCPFLEET_WORKER__DRAIN_TIMEOUT_S": "0.5"}
    )
    fleet.wait_for("fleet.ready")
    return fleet


def get(http: httpx.Client, task_id: str) -> dict[str, Any]:
    return modern_result(modern(http, "tasks/get", {"taskId": task_id}, name=task_id))


def test_tasks_outlive_a_stop_and_start_of_the_fleet(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    first = start(data_dir)
    try:
        with first.http() as http:
            done = modern_submit(http, "add_later", {"a": 1, "b": 2})
            session = Session(http)
            done_legacy = legacy_submit(session, "add_later", {"a": 3, "b": 4})
            assert modern_poll(http, done)["status"] == "completed"
            assert legacy_poll(session, done_legacy)["status"] == "completed"
            safe_marker, once_marker, queued_marker = marker(), marker(), marker()
            safe = modern_submit(http, "nap_safely", {"seconds": 2, "marker": safe_marker})
            once = modern_submit(http, "nap_once", {"seconds": 30, "marker": once_marker})
            first.wait_for("task_tool.ran", marker=safe_marker)
            first.wait_for("task_tool.ran", marker=once_marker)
            # Both slots are busy: this one waits in the queue.
            queued = modern_submit(http, "add_later", {"a": 5, "b": 6, "marker": queued_marker})
    finally:
        assert first.stop() == 0, "".join(first.lines[-40:])
    first.join_log()
    assert first.find("task.requeued_after_shutdown", task_id=safe)
    assert first.find("task.interrupted_by_shutdown", task_id=once)
    assert first.find("task_tool.ran", marker=queued_marker) == []
    assert first.errors() == [], first.errors()

    second = start(data_dir)
    try:
        with second.http() as http:
            assert get(http, done)["result"]["structuredContent"] == 3
            session.http = http
            assert session.result("tasks/get", {"taskId": done_legacy})["status"] == "completed"
            result = session.result("tasks/result", {"taskId": done_legacy})
            assert result["structuredContent"] == {"result": 7}
            failed = get(http, once)
            assert failed["status"] == "failed"
            assert "Worker stopped" in failed["statusMessage"]
            assert failed["error"]["data"] == {"reason": "worker_stopped", "runs": 1}
            rerun = modern_poll(http, safe)
            assert rerun["status"] == "completed", rerun
            assert rerun["result"]["content"] == [{"type": "text", "text": "napped 2.0"}]
            assert modern_poll(http, queued)["result"]["structuredContent"] == 11
        second.wait_for("task_tool.ran", marker=queued_marker)
        assert len(second.find("task_tool.ran", marker=safe_marker)) == 1
    finally:
        assert second.stop() == 0, "".join(second.lines[-40:])
    assert second.errors() == [], second.errors()
