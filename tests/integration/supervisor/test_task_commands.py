"""``mcpfleet tasks list|get|cancel`` against a real fleet running real tasks (docs/tasks.md):
the operator sees every owner's tasks, reads a whole record, cancels a running task the way a
client would (its worker hears it), and gets exit 1 for an unknown task, 2 for bad usage."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_tasks_front import Session
from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env, module_fleet
from tests.fixtures.waiting import wait_until

APP = "tests.fixtures.task_tools:app"


fleet = module_fleet(APP)


@pytest.fixture
def http(fleet: RunningFleet) -> Iterator[httpx.Client]:
    with fleet.http() as client:
        yield client


def tasks(fleet: RunningFleet, *args: str, redis: bool = True) -> subprocess.CompletedProcess[str]:
    where = ["--redis", fleet.redis_url, "--fleet", fleet.fleet] if redis else []
    return subprocess.run(
        [*MCPFLEET, "tasks", *args, *where],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip


def submit(session: Session, tool: str, arguments: dict[str, Any]) -> str:
    result = session.result("tools/call", {"name": tool, "arguments": arguments, "task": {}})
    return str(result["task"]["taskId"])  # type: ignore[index]


def status_of(session: Session, task_id: str) -> str:
    return str(session.result("tasks/get", {"taskId": task_id})["status"])


def listed(fleet: RunningFleet, *args: str) -> dict[str, dict[str, Any]]:
    shown = tasks(fleet, "list", "--json", *args)
    assert shown.returncode == 0, shown.stderr
    return {task["taskId"]: task for task in json.loads(shown.stdout)}


def test_list_and_get_show_every_owners_tasks(http: httpx.Client, fleet: RunningFleet) -> None:
    one, two = Session(http), Session(http)
    done = submit(one, "add_later", {"a": 2, "b": 3})
    refused = submit(two, "refuse", {})
    wait_until(lambda: status_of(one, done) == "completed", deadline_s=20, what="add_later")
    wait_until(lambda: status_of(two, refused) == "failed", deadline_s=20, what="refuse")
    everything = listed(fleet)
    assert {done, refused} <= set(everything)
    assert everything[done]["owner"] != everything[refused]["owner"]  # two sessions
    assert everything[refused]["status"] == "completed"  # the neutral record: a tool error
    assert everything[refused]["isError"] is True
    assert done not in listed(fleet, "--status", "working")
    assert done in listed(fleet, "--status", "completed")

    table = tasks(fleet, "list")
    assert table.returncode == 0, table.stderr
    header, *rows = [line.split("\t") for line in table.stdout.splitlines()]
    assert header == ["id", "status", "tool", "created", "updated", "attempts", "owner"]
    (row,) = [row for row in rows if row[0] == done]
    assert row[1:3] == ["completed", "add_later"] and row[5] == "1"

    got = tasks(fleet, "get", done)
    assert got.returncode == 0, got.stderr
    record = json.loads(got.stdout)
    assert (record["tool"], record["arguments"], record["status"]) == (
        "add_later", {"a": 2, "b": 3}, "completed",
    )  # fmt: skip
    assert record["outcome"]["result"]["structuredContent"] == {"result": 5}
    assert record["protocolVersion"] == "2025-11-25" and record["worker"]
    assert 0 < record["expiresInMs"] <= record["ttlMs"]


def test_cancel_a_running_task_as_its_client_would(http: httpx.Client, fleet: RunningFleet) -> None:
    session = Session(http)
    marker = uuid.uuid4().hex[:12]
    task_id = submit(session, "wait_for_cancel", {"marker": marker})
    fleet.wait_for("task_tool.ran", marker=marker)
    cancelled = tasks(fleet, "cancel", task_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout == f"task {task_id} cancelled\n"
    fleet.wait_for("task_tool.cancelled", marker=marker)  # its worker heard it
    assert status_of(session, task_id) == "cancelled"
    again = tasks(fleet, "cancel", task_id)
    assert again.returncode == 0, again.stderr
    assert "already ended (cancelled): nothing to cancel" in again.stdout


def test_an_unknown_task_is_exit_1_and_bad_usage_exit_2(fleet: RunningFleet) -> None:
    for action in ("get", "cancel"):
        missing = tasks(fleet, action, "no-such-task")
        assert missing.returncode == 1
        lines = missing.stderr.splitlines()
        # A cancel is audited whatever its outcome (docs/security.md).
        audited = [json.loads(line) for line in lines if line.startswith("{")]
        assert [line["outcome"] for line in audited] == (
            ["not_found"] if action == "cancel" else []
        )
        assert [line for line in lines if not line.startswith("{")] == [
            "mcpfleet: no task no-such-task (unknown, or expired)"
        ]
        assert missing.stdout == ""
    assert tasks(fleet, "get").returncode == 2
    assert tasks(fleet, "list", "--status", "sleeping").returncode == 2


def test_without_a_redis_the_fleet_of_the_data_dir_is_used(
    http: httpx.Client, fleet: RunningFleet
) -> None:
    task_id = submit(Session(http), "add_later", {"a": 1, "b": 1})
    shown = tasks(fleet, "list", "--json", "--data-dir", fleet.data_dir, redis=False)
    assert shown.returncode == 0, shown.stderr
    assert task_id in {task["taskId"] for task in json.loads(shown.stdout)}
