"""The front's metrics (server/metrics.py): how a request's end is classified, what one
request records, methods outside the served set, and the rendering of a scrape (this
process alone: the test runs without the fleet's metrics directory)."""

from __future__ import annotations

import trio
from prometheus_client.parser import text_string_to_metric_families

from proto import (
    BackendUnavailableError,
    ErrorCode,
    InvalidParamsError,
    LocalProtocolError,
    MethodNotFoundError,
    ProtocolError,
    RequestOutcome,
    ServiceUnavailableError,
    TaskOutcomeError,
    TaskStatus,
)
from server.call_queue import CallCancelledError
from server.metrics import FrontMetrics, render_metrics, request_outcome
from server.queue_depths import LaneDepth, QueueSnapshot


def test_how_a_request_ended() -> None:
    assert request_outcome(InvalidParamsError("bad")) is RequestOutcome.REFUSED
    assert request_outcome(MethodNotFoundError("nope")) is RequestOutcome.REFUSED
    # A worker's relayed refusal of the client's input (a resource read's -32602).
    relayed = ProtocolError("no such item", code=ErrorCode.INVALID_PARAMS)
    assert request_outcome(relayed) is RequestOutcome.REFUSED
    assert request_outcome(ProtocolError("worker lost")) is RequestOutcome.ERROR
    assert request_outcome(LocalProtocolError("bug")) is RequestOutcome.ERROR
    assert request_outcome(ServiceUnavailableError("redis")) is RequestOutcome.ERROR
    assert request_outcome(BackendUnavailableError("redis")) is RequestOutcome.ERROR
    assert request_outcome(KeyError("bug")) is RequestOutcome.ERROR
    assert request_outcome(CallCancelledError()) is RequestOutcome.CANCELLED
    assert request_outcome(trio.Cancelled._create()) is RequestOutcome.CANCELLED
    # tasks/result relaying the task's own error: the retrieval itself succeeded.
    relayed_task = TaskOutcomeError("tool failed", code=ErrorCode.INTERNAL_ERROR)
    assert request_outcome(relayed_task) is RequestOutcome.OK


def samples(metrics: FrontMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = render_metrics(metrics, None).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_request_is_counted_and_timed_under_its_method() -> None:
    metrics = FrontMetrics({"tools/call", "tools/list"})
    metrics.request_served("tools/call", RequestOutcome.OK, 0.002)
    metrics.request_served("tools/call", RequestOutcome.OK, 0.004)
    metrics.request_served("tools/call", RequestOutcome.REFUSED, 0.001)
    got = samples(metrics)
    call = frozenset({("method", "tools/call")})
    assert got[("mcpfleet_requests_total", call | {("outcome", "ok")})] == 2
    assert got[("mcpfleet_requests_total", call | {("outcome", "refused")})] == 1
    assert got[("mcpfleet_requests_total", call | {("outcome", "cancelled")})] == 0
    assert got[("mcpfleet_request_duration_seconds_count", call)] == 3
    assert abs(got[("mcpfleet_request_duration_seconds_sum", call)] - 0.007) < 1e-9
    assert got[("mcpfleet_request_duration_seconds_bucket", call | {("le", "0.0025")})] == 2
    # A served method nobody asked for yet has no series.
    assert (
        "mcpfleet_request_duration_seconds_count",
        frozenset({("method", "tools/list")}),
    ) not in got


def test_a_method_outside_the_served_set_is_other() -> None:
    metrics = FrontMetrics({"tools/call"})
    metrics.request_served("x/" + "a" * 40, RequestOutcome.REFUSED, 0.0001)
    metrics.request_served("x/another", RequestOutcome.REFUSED, 0.0001)
    got = samples(metrics)
    other = frozenset({("method", "other"), ("outcome", "refused")})
    assert got[("mcpfleet_requests_total", other)] == 2
    methods = {dict(labels).get("method") for _, labels in got}
    assert methods <= {None, "other"}


def test_tasks_ended_here_are_counted() -> None:
    metrics = FrontMetrics(())
    metrics.task_ended(TaskStatus.CANCELLED)
    got = samples(metrics)
    assert got[("mcpfleet_tasks_total", frozenset({("status", "cancelled")}))] == 1
    assert got[("mcpfleet_tasks_total", frozenset({("status", "failed")}))] == 0


def test_a_scrape_carries_the_queue_gauges_it_was_given() -> None:
    metrics = FrontMetrics(())
    queues = QueueSnapshot(calls=LaneDepth(3, 1.25), tasks=LaneDepth(0, 0.0))
    text = render_metrics(metrics, queues).decode()
    got = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert got[("mcpfleet_queue_depth", frozenset({("lane", "calls")}))] == 3
    assert got[("mcpfleet_queue_oldest_age_seconds", frozenset({("lane", "calls")}))] == 1.25
    assert got[("mcpfleet_queue_depth", frozenset({("lane", "tasks")}))] == 0
    assert "mcpfleet_queue_depth" not in render_metrics(metrics, None).decode()
