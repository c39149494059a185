"""server/admission.py without Redis: which limits a request meets (its ``ADMIT`` command,
built once per caller and tool) and what a refusal becomes (the error, the count)."""

from __future__ import annotations

from structlog.testing import capture_logs

from proto import (
    ADMIT,
    AdmitRefusal,
    Bucket,
    Keyspace,
    OverloadedError,
    Principal,
    QueueLane,
    RateLimitedError,
    RejectionReason,
    TooManyTasksError,
    encode_command,
    limit_identity,
)
from server.admission import AdmissionControl, Caller
from server.limits_config import LimitsConfig, ToolRate
from server.metrics import FrontMetrics

KEYS = Keyspace("f")
ALICE = Caller(Principal.bearer("alice", "https://idp.example", ()), "10.0.0.1", "front-1")


def control(config: LimitsConfig, metrics: FrontMetrics | None = None) -> AdmissionControl:
    return AdmissionControl(config, KEYS, metrics or FrontMetrics(()), task_slots_ttl_ms=60_000)


def test_no_limit_means_no_command_and_the_plain_xadd() -> None:
    admission = control(LimitsConfig())
    assert admission.call_command(ALICE, "echo") is None
    assert admission.task_command(ALICE, "echo") is None
    # Only other tools have a bucket: none for this one.
    only_report = control(LimitsConfig(tool_rates={"report": ToolRate(rate=1)}))
    assert only_report.call_command(ALICE, "echo") is None
    assert only_report.call_command(ALICE, "report") is not None


def test_a_calls_buckets_in_order_fleet_caller_tool() -> None:
    config = LimitsConfig(
        rate=2, burst=5, global_rate=100, tool_rates={"report": ToolRate(rate=0.5, burst=1)}
    )
    admit = control(config).call_command(ALICE, "report")
    assert admit is not None
    identity = limit_identity(ALICE.principal, ALICE.client)
    assert list(admit.buckets) == [
        Bucket(RejectionReason.GLOBAL_RATE_LIMITED, KEYS.global_rate_bucket(), 100.0, 100),
        Bucket(RejectionReason.RATE_LIMITED, KEYS.rate_bucket(identity), 2.0, 5),
        Bucket(RejectionReason.TOOL_RATE_LIMITED, KEYS.rate_bucket(identity, "report"), 0.5, 1),
    ]
    assert admit.keys[-1] == KEYS.call_stream()
    # A resource read or a prompt (no tool) meets the caller's and the fleet's only.
    other = control(config).call_command(ALICE, None)
    assert other is not None and len(other.buckets) == 2


def test_the_encoded_command_is_the_script_call_with_the_payload_last() -> None:
    admit = control(LimitsConfig(rate=1, max_queued=10)).call_command(ALICE, "echo")
    assert admit is not None
    assert admit.encoded(b"call") == encode_command(
        ["EVALSHA", ADMIT.sha, len(admit.keys), *admit.keys, *admit.argv, b"call"]
    )
    assert admit.argv[2] == 10  # the lane's bound


def test_commands_are_built_once_per_caller_and_tool() -> None:
    admission = control(LimitsConfig(rate=1))
    first = admission.call_command(ALICE, "echo")
    assert admission.call_command(ALICE._replace(request_id="front-2"), "echo") is first
    # A bearer caller is one caller from any address.
    assert admission.call_command(ALICE._replace(client="10.9.9.9"), "echo") is first
    anonymous = Caller(Principal.anonymous("s1"), "10.0.0.1", "front-3")
    other_address = anonymous._replace(client="10.0.0.2")
    one, two = (
        admission.call_command(anonymous, "echo"),
        admission.call_command(other_address, "echo"),
    )
    assert one is not None and two is not None and one.keys != two.keys


def test_a_task_takes_a_slot_of_its_caller_only_with_the_bound() -> None:
    bounded = control(LimitsConfig(max_tasks_per_principal=3)).task_command(ALICE, "report")
    assert bounded is not None
    slots = KEYS.task_slots(limit_identity(ALICE.principal, ALICE.client))
    assert bounded.slots == slots
    assert bounded.keys == ["rq:queue:" + KEYS.task_queue(), slots]
    assert bounded.argv == [0, "task", 0, 3, 60_000]
    unbounded = control(LimitsConfig(max_queued=5)).task_command(ALICE, "report")
    assert unbounded is not None and unbounded.slots == ""
    assert unbounded.argv[2] == 5


def test_refusals_become_their_errors_and_are_counted() -> None:
    metrics = FrontMetrics(())
    admission = control(LimitsConfig(rate=2, burst=5, max_tasks_per_principal=3), metrics)
    bucket = Bucket(RejectionReason.RATE_LIMITED, "k", 2.0, 5)
    rate = admission.refuse(
        AdmitRefusal(
            reason=RejectionReason.RATE_LIMITED, retry_after_s=1, bucket=bucket, reset_s=3
        ),
        ALICE,
        "echo",
        lane=QueueLane.CALLS,
    )
    assert isinstance(rate, RateLimitedError)
    assert rate.message == "Rate limit exceeded (2 per second, 5 at once): retry after 1 s"
    full = admission.refuse(
        AdmitRefusal(reason=RejectionReason.QUEUE_FULL, retry_after_s=4),
        ALICE,
        "echo",
        lane=QueueLane.TASKS,
    )
    assert isinstance(full, OverloadedError)
    assert full.data == {"reason": "queue_full", "retryAfter": 4, "lane": "tasks"}
    tasks = admission.refuse(
        AdmitRefusal(reason=RejectionReason.TOO_MANY_TASKS, retry_after_s=1, waiting=3),
        ALICE,
        "report",
        lane=QueueLane.TASKS,
    )
    assert isinstance(tasks, TooManyTasksError)
    assert tasks.data == {"reason": "too_many_tasks", "retryAfter": 1, "maxTasks": 3}
    assert metrics.registry is not None
    counted = {
        sample.labels["reason"]: sample.value
        for family in metrics.registry.collect()
        if family.name == "mcpfleet_rejections"
        for sample in family.samples
        if sample.name == "mcpfleet_rejections_total"
    }
    assert counted == {
        "rate_limited": 1,
        "tool_rate_limited": 0,
        "global_rate_limited": 0,
        "queue_full": 1,
        "too_many_tasks": 1,
    }


def test_a_refusal_is_audited_naming_the_requester_and_what_it_was_for() -> None:
    admission = control(LimitsConfig(rate=2, burst=5))
    bucket = Bucket(RejectionReason.RATE_LIMITED, "k", 2.0, 5)
    refusal = AdmitRefusal(
        reason=RejectionReason.RATE_LIMITED, retry_after_s=2, bucket=bucket, reset_s=3
    )
    stdio = Caller(Principal.local("carol"), "stdio", "front-2")
    with capture_logs() as captured:
        admission.refuse(refusal, ALICE, "echo", lane=QueueLane.CALLS)
        admission.refuse(refusal, stdio, "file:///a", lane=QueueLane.CALLS, kind="resource")
        admission.refuse(
            refusal,
            Caller(Principal.anonymous(), "", "front-3"),
            "p",
            lane=QueueLane.CALLS,
            kind="prompt",
        )
    bearer, local, anonymous = captured
    assert bearer == {
        "audit": True,
        "principal": "bearer:alice",
        "issuer": "https://idp.example",
        "request_id": "front-1",
        "client": "10.0.0.1",
        "tool": "echo",
        "reason": "rate_limited",
        "retry_after_s": 2,
        "outcome": "rejected",
        "event": "limit.rejected",
        "log_level": "info",
    }
    # A resource's URI is not a tool; an unknown address is left out, not written empty.
    assert (local["principal"], local["client"], local["resource"]) == (
        "local:carol", "stdio", "file:///a",
    )  # fmt: skip
    assert "tool" not in local and "issuer" not in local
    assert anonymous["prompt"] == "p" and "client" not in anonymous
