"""The fleet's Prometheus metrics, spelled once (ADR-0012): each one's name, help text and
label names, and the values its bounded labels take.

Fronts, workers and the supervisor each record some of them into prometheus-client's
multiprocess files, and a front's ``/metrics`` adds up every process's values: a metric
recorded by several processes (``mcpfleet_tasks_total``) must be built from the same spec in
each, which is why the specs live here. No label ever takes an id (of a request, call, task,
session, worker or process), so the number of series stays bounded; a label's values come
from the enums below or from the app's registered tool names. Names and labels are
documented for operators in docs/operations.md ("Metrics").
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

__all__ = [
    "ALL_METRICS",
    "AUTHZ_DENIALS_METRIC",
    "AUTH_FAILURES_METRIC",
    "FRONT_RESTARTS_METRIC",
    "METRICS_DIR_ENV",
    "OTHER_METHOD",
    "QUEUE_DEPTH_METRIC",
    "QUEUE_OLDEST_AGE_METRIC",
    "REJECTIONS_METRIC",
    "REQUESTS_METRIC",
    "REQUEST_DURATION_BUCKETS_S",
    "REQUEST_DURATION_METRIC",
    "SCALE_EVENTS_METRIC",
    "TASKS_METRIC",
    "TOOL_CALLS_METRIC",
    "TOOL_DURATION_BUCKETS_S",
    "TOOL_DURATION_METRIC",
    "WORKERS_METRIC",
    "WORKER_RESTARTS_METRIC",
    "AuthFailure",
    "MetricSpec",
    "QueueLane",
    "RequestOutcome",
    "ScaleDirection",
    "ToolOutcome",
]

METRICS_DIR_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable naming the directory of prometheus-client's multiprocess files.
``mcpfleet up`` sets it (``<data_dir>/run/metrics``) for itself and every child; it must be
set before ``prometheus_client`` is first imported in a process."""

OTHER_METHOD: Final = "other"
"""The ``method`` label of a request whose method the front does not serve."""


class MetricSpec(msgspec.Struct, frozen=True):
    """One metric: its exposed name, help text and label names."""

    name: str
    help: str
    labels: tuple[str, ...] = ()


class RequestOutcome(enum.StrEnum):
    """How a JSON-RPC request ended (``outcome`` of ``mcpfleet_requests_total``)."""

    OK = "ok"
    """Answered with a result (a tool's ``isError: true`` result included)."""
    REFUSED = "refused"
    """Answered with an error that is the client's to fix (-32602 invalid params, -32601
    unknown method, a missing client capability...)."""
    ERROR = "error"
    """Answered with an error on our side (-32603: no worker answered, a worker was lost,
    Redis unavailable, a bug)."""
    CANCELLED = "cancelled"
    """The client cancelled it or went away; nothing was answered."""


class ToolOutcome(enum.StrEnum):
    """How one run of a tool's handler ended (``outcome`` of ``mcpfleet_tool_calls_total``)."""

    OK = "ok"
    """It returned a result."""
    TOOL_ERROR = "tool_error"
    """It refused (``ToolError``), or needed a client capability the client lacks."""
    ERROR = "error"
    """It raised anything else."""
    TIMEOUT = "timeout"
    """It ran past its time limit."""
    CANCELLED = "cancelled"
    """The client cancelled it, or the worker's shutdown interrupted it."""
    INPUT_REQUIRED = "input_required"
    """2026-07-28: it asked the client for input its request did not bring."""


class AuthFailure(enum.StrEnum):
    """Why a request's bearer token was refused (``reason`` of
    ``mcpfleet_auth_failures_total`` and of the ``auth.failed`` audit line; ADR-0016)."""

    MISSING = "missing"
    """No ``Authorization: Bearer`` header (or another scheme)."""
    INVALID_REQUEST = "invalid_request"
    """Several ``Authorization`` headers, or an empty token."""
    MALFORMED = "malformed"
    """Not a JWT."""
    ALGORITHM = "algorithm"
    """An algorithm outside the allow-list (``none`` included), or not its key's."""
    KEY = "key"
    """No configured key of the algorithm's family."""
    UNKNOWN_KEY = "unknown_key"
    """The issuer's key set has no key of the token's ``kid``."""
    SIGNATURE = "signature"
    """The signature does not verify."""
    EXPIRED = "expired"
    """Past ``exp`` (beyond the leeway)."""
    NOT_YET_VALID = "not_yet_valid"
    """Before ``nbf``, or ``iat`` in the future (beyond the leeway)."""
    AUDIENCE = "audience"
    """Issued for another audience."""
    ISSUER = "issuer"
    """Issued by another issuer."""
    CLAIMS = "claims"
    """A required claim missing (``exp``, ``sub``, ...) or malformed."""
    LIFETIME = "lifetime"
    """Living longer than ``auth.max_token_lifetime_s``."""


class QueueLane(enum.StrEnum):
    """Where work waits for a worker (``lane`` of the queue gauges)."""

    CALLS = "calls"
    """Foreground calls on the call stream, not yet taken by any worker."""
    TASKS = "tasks"
    """Durable tasks in the rq queue, not yet taken by any worker."""


class ScaleDirection(enum.StrEnum):
    """Which way the pool was resized (``direction`` of ``mcpfleet_scale_events_total``)."""

    UP = "up"
    DOWN = "down"


REQUEST_DURATION_BUCKETS_S: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)  # fmt: skip
"""From half a millisecond (a listing served from memory) to minutes (a slow tool call)."""

TOOL_DURATION_BUCKETS_S: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
)  # fmt: skip
"""From a millisecond to a quarter of an hour (durable tasks run long)."""

REQUESTS_METRIC: Final = MetricSpec(
    "mcpfleet_requests_total",
    "JSON-RPC requests a front served, by method and outcome (both eras, HTTP and stdio).",
    ("method", "outcome"),
)
REQUEST_DURATION_METRIC: Final = MetricSpec(
    "mcpfleet_request_duration_seconds",
    "Time a front took to serve a JSON-RPC request, by method (queue wait and worker included).",
    ("method",),
)
TOOL_CALLS_METRIC: Final = MetricSpec(
    "mcpfleet_tool_calls_total",
    "Runs of tool handlers on the workers (foreground calls and task runs), by tool and outcome.",
    ("tool", "outcome"),
)
TOOL_DURATION_METRIC: Final = MetricSpec(
    "mcpfleet_tool_duration_seconds",
    "Time a tool's handler ran on a worker, by tool.",
    ("tool",),
)
TASKS_METRIC: Final = MetricSpec(
    "mcpfleet_tasks_total",
    "Durable tasks that reached a final status, by that status.",
    ("status",),
)
WORKER_RESTARTS_METRIC: Final = MetricSpec(
    "mcpfleet_worker_restarts_total",
    "Worker processes the supervisor started again after one exited, by why it exited.",
    ("reason",),
)
FRONT_RESTARTS_METRIC: Final = MetricSpec(
    "mcpfleet_front_restarts_total",
    "Front processes the supervisor started again after one exited, by why it exited.",
    ("reason",),
)
SCALE_EVENTS_METRIC: Final = MetricSpec(
    "mcpfleet_scale_events_total",
    "Times the supervisor resized the worker pool, by direction.",
    ("direction",),
)
WORKERS_METRIC: Final = MetricSpec(
    "mcpfleet_workers",
    "Worker slots of the pool, by the state of their process.",
    ("state",),
)
AUTH_FAILURES_METRIC: Final = MetricSpec(
    "mcpfleet_auth_failures_total",
    "HTTP requests refused with 401 because their bearer token was missing or invalid, by why.",
    ("reason",),
)
AUTHZ_DENIALS_METRIC: Final = MetricSpec(
    "mcpfleet_authz_denials_total",
    "Calls refused with 403 because the token lacked a scope the tool requires, by tool.",
    ("tool",),
)
QUEUE_DEPTH_METRIC: Final = MetricSpec(
    "mcpfleet_queue_depth",
    "Work waiting for a worker (not yet taken by any), read from Redis at scrape time.",
    ("lane",),
)
QUEUE_OLDEST_AGE_METRIC: Final = MetricSpec(
    "mcpfleet_queue_oldest_age_seconds",
    "How long the oldest waiting work has waited (0 when none), read at scrape time.",
    ("lane",),
)
REJECTIONS_METRIC: Final = MetricSpec(
    "mcpfleet_rejections_total",
    "Requests a front's limits refused before anything was queued, by reason (ADR-0017).",
    ("reason",),
)

ALL_METRICS: Final = (
    REQUESTS_METRIC,
    REQUEST_DURATION_METRIC,
    TOOL_CALLS_METRIC,
    TOOL_DURATION_METRIC,
    TASKS_METRIC,
    WORKER_RESTARTS_METRIC,
    FRONT_RESTARTS_METRIC,
    SCALE_EVENTS_METRIC,
    WORKERS_METRIC,
    QUEUE_DEPTH_METRIC,
    QUEUE_OLDEST_AGE_METRIC,
    AUTH_FAILURES_METRIC,
    AUTHZ_DENIALS_METRIC,
    REJECTIONS_METRIC,
)
"""Every metric the fleet exposes."""
