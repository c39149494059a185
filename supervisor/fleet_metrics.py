"""The supervisor's Prometheus metrics (ADR-0012): restarts of its children by why they
exited, resizes of the worker pool, the pool's slots by state, and the durable tasks it
fails after losing their worker; and the bookkeeping of the fleet's metrics directory when
a child exits.

``mcpfleet up`` names the directory (``supervisor/metrics_dir.py``) before this is built,
so its values go to the supervisor's own files there, which a front's ``/metrics`` adds to
everyone else's. ``prometheus_client`` is imported when :class:`FleetMetrics` is built,
never when this module is (the library fixes its mode at its first import).

When a child exits, its ``live*`` gauge files are removed at once (``mark_process_dead``),
so a dead process's gauges stop counting; its counters and histograms still count in the
sums (a restarted worker's calls are not lost): the :class:`MetricsCompactor` soon folds
its files into the directory's archives (supervisor/metrics_compactor.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import structlog
import trio

from proto import (
    FRONT_RESTARTS_METRIC,
    METRICS_DIR_ENV,
    SCALE_EVENTS_METRIC,
    TASKS_METRIC,
    TERMINAL_STATUSES,
    WORKER_RESTARTS_METRIC,
    WORKERS_METRIC,
    MetricSpec,
    ScaleDirection,
    TaskStatus,
)
from supervisor.child_slot import ChildExit, ExitReason, SlotState
from supervisor.metrics_compactor import MetricsCompactor
from supervisor.worker_pool import WorkerPool

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import Counter

__all__ = ["WORKER_STATES_INTERVAL_S", "FleetMetrics", "publish_worker_states"]

log = structlog.get_logger()

WORKER_STATES_INTERVAL_S: Final = 1.0
"""How often ``mcpfleet_workers`` is brought up to date."""

_REPLACED: Final = frozenset({ExitReason.RECYCLED, ExitReason.HUNG})
"""Exits the supervisor caused to replace a worker: a restart wherever the new one runs."""


class FleetMetrics:
    """What the supervisor records.

    Args:
        live_pids: the pids of the fleet's running children (for the compactor).

    Attributes:
        registry: where the values live outside a fleet (no ``PROMETHEUS_MULTIPROC_DIR``:
            tests); None in a fleet, where they go to the supervisor's files.
        compactor: folds exited children's files, once run (None outside a fleet).
    """

    def __init__(self, *, live_pids: Callable[[], Collection[int]] = tuple) -> None:
        from prometheus_client import CollectorRegistry, values  # noqa: PLC0415  # docstring
        from prometheus_client.metrics import Counter, Gauge  # noqa: PLC0415

        self._dir = os.environ.get(METRICS_DIR_ENV) or None
        if (self._dir is not None) != bool(getattr(values.ValueClass, "_multiprocess", False)):
            log.error("metrics.mode_mismatch", variable=METRICS_DIR_ENV, in_fleet=bool(self._dir))
        self.registry: CollectorRegistry | None = None if self._dir else CollectorRegistry()
        self.compactor = MetricsCompactor(Path(self._dir), live_pids) if self._dir else None
        self._worker_restarts = self._by_reason(Counter, WORKER_RESTARTS_METRIC)
        self._front_restarts = self._by_reason(Counter, FRONT_RESTARTS_METRIC)
        scale = Counter(
            SCALE_EVENTS_METRIC.name,
            SCALE_EVENTS_METRIC.help,
            SCALE_EVENTS_METRIC.labels,
            registry=self.registry,
        )
        self._scale = {
            direction.value: scale.labels(direction.value) for direction in ScaleDirection
        }
        # Only the supervisor sets it; "livesum" drops the pid label and the value of a
        # supervisor that is gone (the directory is emptied at the next start anyway).
        workers = Gauge(
            WORKERS_METRIC.name,
            WORKERS_METRIC.help,
            WORKERS_METRIC.labels,
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._workers = {state.value: workers.labels(state.value) for state in SlotState}
        tasks = Counter(
            TASKS_METRIC.name, TASKS_METRIC.help, TASKS_METRIC.labels, registry=self.registry
        )
        self._tasks = {status: tasks.labels(status.value) for status in TERMINAL_STATUSES}

    def _by_reason(self, counter: type[Counter], spec: MetricSpec) -> dict[ExitReason, Counter]:
        metric = counter(spec.name, spec.help, spec.labels, registry=self.registry)
        return {reason: metric.labels(reason.value) for reason in ExitReason}

    def worker_exited(self, exit: ChildExit) -> None:
        """A worker exited: count the restart that follows (if any) by why it exited, stop
        counting its live gauges, and have its files folded.

        A recycled or hung worker counts as restarted even when its slot was retired: a
        recycle starts its replacement in a new slot first, so the position lives on in
        another process (``restarting`` says only whether the same slot starts one).
        """
        if exit.restarting or exit.reason in _REPLACED:
            self._worker_restarts[exit.reason].inc()
        self._mark_dead(exit.pid)

    def front_exited(self, exit: ChildExit) -> None:
        """A front exited: as :meth:`worker_exited`, in ``mcpfleet_front_restarts_total``."""
        if exit.restarting:
            self._front_restarts[exit.reason].inc()
        self._mark_dead(exit.pid)

    def scale_event(self, direction: str) -> None:
        """Count one resize of the worker pool, ``up`` or ``down``.

        Raises:
            ValueError: another direction (the label stays bounded).
        """
        child = self._scale.get(direction)
        if child is None:
            raise ValueError(f"scale direction must be 'up' or 'down', not {direction!r}")
        child.inc()

    def worker_states(self, counts: Mapping[str, int]) -> None:
        """Set ``mcpfleet_workers`` from how many slots are in each state (``SlotState``
        values; a state left out counts 0, an unknown one is ignored)."""
        for state, gauge in self._workers.items():
            gauge.set(counts.get(state, 0))

    def task_ended(self, status: TaskStatus) -> None:
        """Count a durable task the supervisor moved to its final ``status``."""
        self._tasks[status].inc()

    def _mark_dead(self, pid: int) -> None:
        if self._dir is None or self.compactor is None:
            return
        from prometheus_client.multiprocess import mark_process_dead  # noqa: PLC0415

        try:
            mark_process_dead(pid, self._dir)  # type: ignore[no-untyped-call]  # untyped library
        except OSError as exc:  # a scrape misreads a gauge at worst; never stop the fleet
            log.warning("metrics.mark_dead_failed", pid=pid, error=str(exc))
        self.compactor.process_exited(pid)


def _pool_states(pool: WorkerPool) -> dict[str, int]:
    """How many of the pool's slots are in each state."""
    return {state.value: pool.count(state) for state in SlotState}


async def publish_worker_states(
    metrics: FleetMetrics,
    pool: WorkerPool,
    *,
    interval_s: float = WORKER_STATES_INTERVAL_S,
    task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Keep ``mcpfleet_workers`` up to date every ``interval_s`` until the scope it reports
    is cancelled."""
    with trio.CancelScope() as scope:
        task_status.started(scope)
        while True:
            metrics.worker_states(_pool_states(pool))
            await trio.sleep(interval_s)
