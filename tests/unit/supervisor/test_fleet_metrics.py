"""The supervisor's metrics (supervisor/fleet_metrics.py), outside a fleet (no metrics
directory): restarts counted by exit reason only when a new child follows, per role;
scale events by direction; the pool's states; tasks failed after a lost worker."""

from __future__ import annotations

import pytest

from proto import TaskStatus
from supervisor.child_slot import ChildExit, ExitReason
from supervisor.fleet_metrics import FleetMetrics


def value(metrics: FleetMetrics, name: str, **labels: str) -> float | None:
    assert metrics.registry is not None
    return metrics.registry.get_sample_value(name, labels)


def exited(reason: ExitReason, *, restarting: bool) -> ChildExit:
    return ChildExit("worker-0-abc123", 4242, -9, reason, restarting)


def test_restarts_are_counted_by_reason_when_a_new_child_follows() -> None:
    metrics = FleetMetrics()
    metrics.worker_exited(exited(ExitReason.KILLED, restarting=True))
    metrics.worker_exited(exited(ExitReason.CRASHED, restarting=True))
    metrics.worker_exited(exited(ExitReason.CRASHED, restarting=True))
    metrics.worker_exited(exited(ExitReason.STOPPED, restarting=False))  # shutdown
    metrics.front_exited(exited(ExitReason.KILLED, restarting=True))
    assert value(metrics, "mcpfleet_worker_restarts_total", reason="killed") == 1
    assert value(metrics, "mcpfleet_worker_restarts_total", reason="crashed") == 2
    assert value(metrics, "mcpfleet_worker_restarts_total", reason="stopped") == 0
    assert value(metrics, "mcpfleet_worker_restarts_total", reason="hung") == 0
    assert value(metrics, "mcpfleet_front_restarts_total", reason="killed") == 1


def test_a_recycled_or_hung_worker_counts_as_restarted_even_from_a_retired_slot() -> None:
    # A recycle starts the replacement in a new slot and retires the old one, whose exit
    # is therefore not followed by a restart of the same slot.
    metrics = FleetMetrics()
    metrics.worker_exited(exited(ExitReason.RECYCLED, restarting=False))
    metrics.worker_exited(exited(ExitReason.RECYCLED, restarting=True))
    metrics.worker_exited(exited(ExitReason.HUNG, restarting=True))
    metrics.worker_exited(exited(ExitReason.STOPPED, restarting=False))  # scaled down
    assert value(metrics, "mcpfleet_worker_restarts_total", reason="recycled") == 2
    assert value(metrics, "mcpfleet_worker_restarts_total", reason="hung") == 1
    assert value(metrics, "mcpfleet_worker_restarts_total", reason="stopped") == 0


def test_scale_events_by_direction_and_nothing_else() -> None:
    metrics = FleetMetrics()
    metrics.scale_event("up")
    metrics.scale_event("up")
    metrics.scale_event("down")
    assert value(metrics, "mcpfleet_scale_events_total", direction="up") == 2
    assert value(metrics, "mcpfleet_scale_events_total", direction="down") == 1
    with pytest.raises(ValueError, match="sideways"):
        metrics.scale_event("sideways")


def test_worker_states_are_set_from_the_counts() -> None:
    metrics = FleetMetrics()
    metrics.worker_states({"ready": 3, "starting": 1, "exploded": 9})
    assert value(metrics, "mcpfleet_workers", state="ready") == 3
    assert value(metrics, "mcpfleet_workers", state="starting") == 1
    assert value(metrics, "mcpfleet_workers", state="backoff") == 0
    assert value(metrics, "mcpfleet_workers", state="exploded") is None
    metrics.worker_states({"ready": 2})
    assert value(metrics, "mcpfleet_workers", state="ready") == 2
    assert value(metrics, "mcpfleet_workers", state="starting") == 0


def test_tasks_failed_by_the_supervisor_are_counted() -> None:
    metrics = FleetMetrics()
    metrics.task_ended(TaskStatus.FAILED)
    assert value(metrics, "mcpfleet_tasks_total", status="failed") == 1
