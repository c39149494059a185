"""proto/limits.py: whose bucket a request charges, ``ADMIT``'s arguments, and reading its
answers (the script itself runs in tests/integration/server/test_admit_script.py)."""

from __future__ import annotations

import pytest

from proto import (
    ADMIT,
    AdmitRefusal,
    Bucket,
    Principal,
    RejectionReason,
    admit_call_script,
    admit_task_script,
    encode_admit_head,
    encode_command,
    limit_identity,
    read_admit_reply,
    retry_after_s,
)

ALICE = Principal.bearer("alice", "https://idp.example", ("read",))


def test_a_bearer_principal_is_one_caller_whatever_its_session_scopes_or_address() -> None:
    same = Principal(
        kind="bearer", subject="alice", issuer="https://idp.example", session_id="s1", scopes=()
    )
    assert limit_identity(ALICE, "10.0.0.1") == limit_identity(same, "10.0.0.2")
    other_issuer = Principal.bearer("alice", "https://other.example", ("read",))
    assert limit_identity(ALICE, "") != limit_identity(other_issuer, "")
    assert limit_identity(ALICE, "") != limit_identity(
        Principal.bearer("bob", ALICE.issuer, ()), ""
    )


def test_anonymous_callers_are_told_apart_by_address_not_session() -> None:
    one = Principal.anonymous("session-1")
    assert limit_identity(one, "10.0.0.1") == limit_identity(Principal.anonymous("s2"), "10.0.0.1")
    assert limit_identity(one, "10.0.0.1") != limit_identity(one, "10.0.0.2")


def test_the_local_user_by_name_and_kinds_never_collide() -> None:
    alice = Principal.local("alice")
    assert limit_identity(alice, "") == limit_identity(Principal.local("alice"), "x")
    assert limit_identity(alice, "") != limit_identity(Principal.local("bob"), "")
    # An address that spells a user's name is still another caller.
    assert limit_identity(alice, "") != limit_identity(Principal.anonymous(), "alice")


def test_identities_are_fixed_length_hex_whatever_the_subject() -> None:
    hostile = Principal.bearer("}{:\n" * 1000, "iss", ())
    identity = limit_identity(hostile, "")
    assert len(identity) == 32
    assert int(identity, 16) >= 0


BUCKETS = [
    Bucket(RejectionReason.GLOBAL_RATE_LIMITED, "k:global", 100.0, 200),
    Bucket(RejectionReason.RATE_LIMITED, "k:alice", 0.5, 3),
]


def test_call_arguments_all_but_the_call() -> None:
    keys, argv = admit_call_script(BUCKETS, stream="k:calls", group="workers", field=b"m")
    assert keys == ["k:global", "k:alice", "k:calls"]
    assert argv == [2, "call", 0, "workers", b"m", 100.0, 200, 0.5, 3]


def test_task_arguments_all_but_the_task_id() -> None:
    keys, argv = admit_task_script(BUCKETS, queue="rq:queue:q")
    assert keys == ["k:global", "k:alice", "rq:queue:q"]
    assert argv == [2, "task", 0, 0, 1, 100.0, 200, 0.5, 3]


def test_the_encoded_head_awaits_only_the_last_argument() -> None:
    keys, argv = admit_call_script(BUCKETS, stream="k:calls", group="workers", field=b"m")
    head = encode_admit_head(keys, argv)
    last = b'{"a call": "\r\n"}'
    whole = head + b"$%d\r\n%b\r\n" % (len(last), last)
    assert whole == encode_command(["EVALSHA", ADMIT.sha, 3, *keys, *argv, last])


def test_reading_admissions() -> None:
    assert read_admit_reply([b"ok", b"1-0"], BUCKETS) == b"1-0"
    assert read_admit_reply([b"ok"], BUCKETS) is True
    assert read_admit_reply([b"no_lane"], BUCKETS) is None


def test_reading_a_full_lane() -> None:
    refusal = read_admit_reply([b"queue_full", 12], BUCKETS, busy_retry_after_s=5)
    assert refusal == AdmitRefusal(
        reason=RejectionReason.QUEUE_FULL, retry_after_s=5, bucket=None, waiting=12
    )


def test_lane_bounds_in_the_arguments() -> None:
    _, argv = admit_call_script([], stream="s", group="g", field=b"m", max_queued=50)
    assert argv == [0, "call", 50, "g", b"m"]
    keys, argv = admit_task_script([], queue="q", max_queued=7)
    assert (keys, argv) == (["q"], [0, "task", 7, 0, 1])


def test_the_task_bound_names_the_callers_slots() -> None:
    keys, argv = admit_task_script(
        BUCKETS[:1], queue="q", slots="k:slots", max_tasks=3, slots_ttl_ms=60_000
    )
    assert keys == ["k:global", "q", "k:slots"]
    assert argv == [1, "task", 0, 3, 60_000, 100.0, 200]


def test_reading_a_callers_held_slots() -> None:
    refusal = read_admit_reply(
        [b"tasks", 2, 50_000, b"t1", b"10000", b"t2", b"45000"], BUCKETS, busy_retry_after_s=3
    )
    assert refusal == AdmitRefusal(
        reason=RejectionReason.TOO_MANY_TASKS,
        retry_after_s=3,
        waiting=2,
        held=(("t1", 10_000), ("t2", 45_000)),
        now_ms=50_000,
    )


def test_which_slots_no_longer_count() -> None:
    refusal = AdmitRefusal(
        reason=RejectionReason.TOO_MANY_TASKS,
        retry_after_s=1,
        held=(("done", 1), ("failed", 1), ("cancelled", 1), ("working", 1), ("asking", 1),
              ("expired", 10_000), ("creating", 45_000)),
        now_ms=50_000,
    )  # fmt: skip
    statuses = [b"completed", b"failed", b"cancelled", b"working", b"input_required", None, None]
    assert refusal.ended_slots(statuses, creating_ms=10_000) == [
        "done",
        "failed",
        "cancelled",
        "expired",
    ]


def test_reading_a_bucket_refusal() -> None:
    refusal = read_admit_reply([b"bucket", 2, 1500, 0, 5001], BUCKETS)
    assert refusal == AdmitRefusal(
        reason=RejectionReason.RATE_LIMITED,
        retry_after_s=2,
        bucket=BUCKETS[1],
        remaining=0,
        reset_s=6,
    )


@pytest.mark.parametrize(
    "reply",
    [
        None,
        [],
        [b"maybe"],
        [b"bucket", 3, 1, 0, 1],
        [b"bucket", 0, 1, 0, 1],
        [b"bucket", b"1"],
        [b"queue_full"],
        [b"tasks", 1, 5, b"t1"],
        [b"tasks", 1, 5, b"t1", 7],
        7,
    ],
)
def test_odd_replies_are_errors(reply: object) -> None:
    with pytest.raises(ValueError, match="ADMIT"):
        read_admit_reply(reply, BUCKETS)


@pytest.mark.parametrize(("wait_ms", "seconds"), [(0, 1), (1, 1), (999, 1), (1000, 1), (1001, 2)])
def test_retry_after_is_whole_seconds_rounded_up_and_never_zero(wait_ms: int, seconds: int) -> None:
    assert retry_after_s(wait_ms) == seconds
