"""The front's Prometheus metrics (ADR-0012): every JSON-RPC request it serves, by method
and outcome, with its duration; the durable tasks it ends (a client's ``tasks/cancel``); the
requests refused for their token or its scopes (ADR-0016); requests its limits refuse, by
reason (ADR-0017); and the rendering of ``/metrics`` for every process of the fleet.

Two modes, chosen by the environment when the process starts:

- **fleet** (``PROMETHEUS_MULTIPROC_DIR`` set, as ``mcpfleet up`` does for every child):
  values go to this process's files in that directory, and a scrape adds up the files of
  every process of the fleet (prometheus-client's multiprocess mode).
- **alone** (a front started by hand, without the variable): values stay in this process
  and a scrape shows only them (and the queue gauges).

``prometheus_client`` is imported when :class:`FrontMetrics` is built, never when this module
is: the library fixes its mode at its first import, from the environment, and the supervisor
imports this package before it sets the variable for itself.

The per-request update is on the foreground call's path: a dictionary lookup for the
method's cached series, one counter increment and one histogram observation (measured in
ADR-0012), and one plain int increment for the front's load record.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

import structlog

from proto import (
    AUTH_FAILURES_METRIC,
    AUTHZ_DENIALS_METRIC,
    METRICS_DIR_ENV,
    OTHER_METHOD,
    QUEUE_DEPTH_METRIC,
    QUEUE_OLDEST_AGE_METRIC,
    REJECTIONS_METRIC,
    REQUEST_DURATION_BUCKETS_S,
    REQUEST_DURATION_METRIC,
    REQUESTS_METRIC,
    TASKS_METRIC,
    TERMINAL_STATUSES,
    AuthFailure,
    ErrorCode,
    ProtocolError,
    QueueLane,
    RejectionReason,
    RequestOutcome,
    TaskOutcomeError,
    TaskStatus,
)
from server.call_queue import CallCancelledError
from server.metrics_files import FleetFilesCollector

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import Counter, Histogram
    from prometheus_client.metrics_core import Metric

    from server.queue_depths import QueueSnapshot

__all__ = ["FrontMetrics", "render_metrics", "request_outcome"]

log = structlog.get_logger()

_OUTCOMES: Final = tuple(RequestOutcome)


def request_outcome(exc: BaseException) -> RequestOutcome:
    """How a request that raised ``exc`` ended: ``cancelled`` when the client cancelled it
    or went away (its scope was cancelled), ``refused`` for an error the client must fix
    (any JSON-RPC error but -32603), ``ok`` for a task's own error relayed by
    ``tasks/result`` (the retrieval succeeded), else ``error``."""
    if isinstance(exc, CallCancelledError) or not isinstance(exc, Exception):
        return RequestOutcome.CANCELLED
    if isinstance(exc, TaskOutcomeError):
        return RequestOutcome.OK
    if isinstance(exc, ProtocolError) and exc.code != ErrorCode.INTERNAL_ERROR:
        return RequestOutcome.REFUSED
    return RequestOutcome.ERROR


class _MethodSeries:
    """One method's series, cached so a request pays no label lookup."""

    __slots__ = ("counts", "duration")

    def __init__(self, requests: Counter, durations: Histogram, method: str) -> None:
        self.counts = {outcome: requests.labels(method, outcome) for outcome in _OUTCOMES}
        self.duration = durations.labels(method)


class FrontMetrics:
    """What one front process records.

    Args:
        methods: the methods it serves; any other is recorded as ``other``.

    Attributes:
        registry: where the values live when the process runs alone (no
            ``PROMETHEUS_MULTIPROC_DIR``); None in a fleet, where they go to its files.
        requests_served: requests counted so far, whatever their method and outcome (a
            plain int for this front's load record, ``server/front_load.py``).
        directory: the fleet's metrics directory (None when alone).
    """

    def __init__(self, methods: Iterable[str]) -> None:
        from prometheus_client import CollectorRegistry  # noqa: PLC0415  # module docstring
        from prometheus_client.metrics import Counter, Histogram  # noqa: PLC0415

        self.registry: CollectorRegistry | None = _registry_for_this_process(CollectorRegistry)
        self.directory = os.environ.get(METRICS_DIR_ENV) if self.registry is None else None
        self._requests = Counter(
            REQUESTS_METRIC.name,
            REQUESTS_METRIC.help,
            REQUESTS_METRIC.labels,
            registry=self.registry,
        )
        self._durations = Histogram(
            REQUEST_DURATION_METRIC.name,
            REQUEST_DURATION_METRIC.help,
            REQUEST_DURATION_METRIC.labels,
            registry=self.registry,
            buckets=REQUEST_DURATION_BUCKETS_S,
        )
        tasks = Counter(
            TASKS_METRIC.name, TASKS_METRIC.help, TASKS_METRIC.labels, registry=self.registry
        )
        self._tasks = {status: tasks.labels(status.value) for status in TERMINAL_STATUSES}
        # Series made on first use: a fleet without [auth] shows none (ADR-0016).
        self._auth_failures = Counter(
            AUTH_FAILURES_METRIC.name,
            AUTH_FAILURES_METRIC.help,
            AUTH_FAILURES_METRIC.labels,
            registry=self.registry,
        )
        self._authz_denials = Counter(
            AUTHZ_DENIALS_METRIC.name,
            AUTHZ_DENIALS_METRIC.help,
            AUTHZ_DENIALS_METRIC.labels,
            registry=self.registry,
        )
        rejections = Counter(
            REJECTIONS_METRIC.name,
            REJECTIONS_METRIC.help,
            REJECTIONS_METRIC.labels,
            registry=self.registry,
        )
        self._rejections = {reason: rejections.labels(reason.value) for reason in RejectionReason}
        self._known = frozenset(methods)
        self._series: dict[str, _MethodSeries] = {}
        self._other = self._series_of(OTHER_METHOD)
        self.requests_served = 0

    def request_served(self, method: str, outcome: RequestOutcome, duration_s: float) -> None:
        """Count one request of ``method`` that ended with ``outcome`` after ``duration_s``."""
        series = self._series.get(method)
        if series is None:
            series = self._series_of(method) if method in self._known else self._other
        series.counts[outcome].inc()
        series.duration.observe(duration_s)
        self.requests_served += 1

    def task_ended(self, status: TaskStatus) -> None:
        """Count a durable task this process moved to its final ``status``."""
        self._tasks[status].inc()

    def auth_failed(self, reason: AuthFailure) -> None:
        """Count a request refused with 401 (ADR-0016)."""
        self._auth_failures.labels(reason.value).inc()

    def authz_denied(self, tool: str) -> None:
        """Count a call of ``tool`` refused with 403 (a registered tool: the label stays
        bounded)."""
        self._authz_denials.labels(tool).inc()

    def rejected(self, reason: RejectionReason) -> None:
        """Count one request a limit refused (ADR-0017)."""
        self._rejections[reason].inc()

    def _series_of(self, method: str) -> _MethodSeries:
        series = self._series[method] = _MethodSeries(self._requests, self._durations, method)
        return series


def _registry_for_this_process(
    new_registry: type[CollectorRegistry],
) -> CollectorRegistry | None:
    """None in a fleet (values go to the multiprocess files), else a registry of this
    process's own. Logs an error when the library chose its mode before the variable was
    set (an import of ``prometheus_client`` too early): the values would be lost."""
    from prometheus_client import values  # noqa: PLC0415  # module docstring

    in_fleet = bool(os.environ.get(METRICS_DIR_ENV))
    if in_fleet != _records_to_files(values.ValueClass):
        log.error("metrics.mode_mismatch", variable=METRICS_DIR_ENV, in_fleet=in_fleet)
    return None if in_fleet else new_registry()


def _records_to_files(value_class: object) -> bool:
    return bool(getattr(value_class, "_multiprocess", False))


def render_metrics(metrics: FrontMetrics, queues: QueueSnapshot | None) -> bytes:
    """The Prometheus text exposition of every process of the fleet (this one alone when
    it runs alone) and of the queues (left out when they could not be read). Reads every
    process's files (server/metrics_files.py), waiting while dead ones are folded: call it
    in a thread."""
    from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415

    registry = CollectorRegistry()
    if metrics.directory is not None:
        # A registry per scrape: the files are read afresh, and nothing of this process is
        # registered twice. Exact sums, under the lock a fold of dead processes' files takes.
        registry.register(FleetFilesCollector(metrics.directory))
    elif metrics.registry is not None:
        registry.register(_Relay(metrics.registry))
    if queues is not None:
        registry.register(_QueueGauges(queues))
    return generate_latest(registry)


class _Relay:
    """This process's own registry, collected into the scrape's."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._source.collect()


class _QueueGauges:
    """The queue gauges of one scrape, from what was read from Redis just before."""

    def __init__(self, snapshot: QueueSnapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import GaugeMetricFamily  # noqa: PLC0415

        depth = GaugeMetricFamily(
            QUEUE_DEPTH_METRIC.name, QUEUE_DEPTH_METRIC.help, labels=QUEUE_DEPTH_METRIC.labels
        )
        age = GaugeMetricFamily(
            QUEUE_OLDEST_AGE_METRIC.name,
            QUEUE_OLDEST_AGE_METRIC.help,
            labels=QUEUE_OLDEST_AGE_METRIC.labels,
        )
        for lane, waiting in (
            (QueueLane.CALLS, self._snapshot.calls),
            (QueueLane.TASKS, self._snapshot.tasks),
        ):
            depth.add_metric([lane.value], waiting.depth)
            age.add_metric([lane.value], waiting.oldest_age_s)
        yield depth
        yield age
