"""``queues`` in ``mcpfleet status --json`` (a documented interface, docs/operations.md):
the same five field names, each from its own part of the one queue-depth snapshot."""

from __future__ import annotations

import json

import msgspec

from server.queue_depths import LaneDepth, QueueSnapshot
from supervisor.status_command import queue_status


def test_each_field_comes_from_its_part_of_the_snapshot() -> None:
    snapshot = QueueSnapshot(calls=LaneDepth(3, 1.5), calls_taken=7, tasks=LaneDepth(2, 4.25))
    assert json.loads(msgspec.json.encode(queue_status(snapshot))) == {
        "calls_queued": 3,
        "calls_taken": 7,
        "oldest_call_wait_s": 1.5,
        "tasks_queued": 2,
        "oldest_task_wait_s": 4.25,
    }


def test_empty_lanes_show_zeros() -> None:
    assert msgspec.structs.asdict(queue_status(QueueSnapshot())) == {
        "calls_queued": 0,
        "calls_taken": 0,
        "oldest_call_wait_s": 0.0,
        "tasks_queued": 0,
        "oldest_task_wait_s": 0.0,
    }
