"""A worker's Prometheus metrics (ADR-0012): every run of a tool's handler, by tool and
outcome, with its duration (foreground calls and durable-task runs alike), and the durable
tasks it ends.

In a fleet (``PROMETHEUS_MULTIPROC_DIR`` set by ``mcpfleet up``) the values go to this
process's files, which a front's ``/metrics`` adds to every other process's; counters
therefore survive a worker's restart. A worker started by hand without the variable keeps
them in memory, unexposed. ``prometheus_client`` is imported when :class:`WorkerMetrics` is
built, never when this module is (the library fixes its mode at its first import).

The ``tool`` label takes only names of registered tools (a call naming another is refused
before anything runs, and not counted), so it stays bounded.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

import structlog

from proto import (
    METRICS_DIR_ENV,
    TASKS_METRIC,
    TERMINAL_STATUSES,
    TOOL_CALLS_METRIC,
    TOOL_DURATION_BUCKETS_S,
    TOOL_DURATION_METRIC,
    TaskStatus,
    ToolOutcome,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import Counter, Histogram

__all__ = ["WorkerMetrics"]

log = structlog.get_logger()

_OUTCOMES: Final = tuple(ToolOutcome)


class _ToolSeries:
    """One tool's series, cached so a run pays no label lookup."""

    __slots__ = ("counts", "duration")

    def __init__(self, calls: Counter, durations: Histogram, tool: str) -> None:
        self.counts = {outcome: calls.labels(tool, outcome) for outcome in _OUTCOMES}
        self.duration = durations.labels(tool)


class WorkerMetrics:
    """What one worker process records.

    Attributes:
        registry: where the values live when the process runs alone (no
            ``PROMETHEUS_MULTIPROC_DIR``); None in a fleet, where they go to its files.
    """

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry  # noqa: PLC0415  # module docstring
        from prometheus_client.metrics import Counter, Histogram  # noqa: PLC0415

        self.registry: CollectorRegistry | None = _registry_for_this_process(CollectorRegistry)
        self._calls = Counter(
            TOOL_CALLS_METRIC.name,
            TOOL_CALLS_METRIC.help,
            TOOL_CALLS_METRIC.labels,
            registry=self.registry,
        )
        self._durations = Histogram(
            TOOL_DURATION_METRIC.name,
            TOOL_DURATION_METRIC.help,
            TOOL_DURATION_METRIC.labels,
            registry=self.registry,
            buckets=TOOL_DURATION_BUCKETS_S,
        )
        tasks = Counter(
            TASKS_METRIC.name, TASKS_METRIC.help, TASKS_METRIC.labels, registry=self.registry
        )
        self._tasks = {status: tasks.labels(status.value) for status in TERMINAL_STATUSES}
        self._tools: dict[str, _ToolSeries] = {}

    def tool_ran(self, tool: str, outcome: ToolOutcome, duration_s: float) -> None:
        """Count one run of registered tool ``tool`` that ended with ``outcome`` after
        ``duration_s``. Called on the worker's loop."""
        series = self._tools.get(tool)
        if series is None:
            series = self._tools[tool] = _ToolSeries(self._calls, self._durations, tool)
        series.counts[outcome].inc()
        series.duration.observe(duration_s)

    def task_ended(self, status: TaskStatus) -> None:
        """Count a durable task this process moved to its final ``status``."""
        self._tasks[status].inc()


def _registry_for_this_process(
    new_registry: type[CollectorRegistry],
) -> CollectorRegistry | None:
    """None in a fleet (values go to the multiprocess files), else a registry of this
    process's own. Logs an error when the library chose its mode before the variable was
    set (an import of ``prometheus_client`` too early): the values would be lost."""
    from prometheus_client import values  # noqa: PLC0415  # module docstring

    in_fleet = bool(os.environ.get(METRICS_DIR_ENV))
    if in_fleet != bool(getattr(values.ValueClass, "_multiprocess", False)):
        log.error("metrics.mode_mismatch", variable=METRICS_DIR_ENV, in_fleet=in_fleet)
    return None if in_fleet else new_registry()
