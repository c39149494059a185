"""What the supervisor makes of a ready worker's vital signs: hung, due for recycling, or
healthy (ADR-0014); and reading ``/proc/<pid>/status``."""

from __future__ import annotations

import msgspec
import pytest

from supervisor.health_policy import (
    HealthPolicy,
    Hung,
    ProcStatus,
    Recycle,
    RecycleReason,
    WorkerSample,
    last_beat_ms,
    parse_proc_status,
)

NOW_MS = 1_800_000_000_000
SLEEPING = ProcStatus("S", 80 * 1024)

STATUS_TEXT = """Name:\tmcpfleet
Umask:\t0022
State:\tS (sleeping)
Tgid:\t4242
VmPeak:\t  412000 kB
VmRSS:\t   81234 kB
Threads:\t19
"""


def _sample(**fields: object) -> WorkerSample:
    values: dict[str, object] = {
        "child_id": "worker-0-abc123",
        "process": SLEEPING,
        "last_beat_ms": NOW_MS - 1_000,
        "spawned_ms": NOW_MS - 60_000,
        "calls_served": 10,
    }
    values.update(fields)
    return WorkerSample(**values)  # type: ignore[arg-type]


def _judge(
    sample: WorkerSample,
    *,
    hung_after_s: float = 12.0,
    max_calls: int = 0,
    max_rss_mb: int = 0,
    watching_since_ms: int = NOW_MS - 3_600_000,
) -> Hung | Recycle | None:
    policy = HealthPolicy(hung_after_s=hung_after_s, max_calls=max_calls, max_rss_mb=max_rss_mb)
    return policy.judge(sample, now_ms=NOW_MS, watching_since_ms=watching_since_ms)


def test_parse_proc_status() -> None:
    assert parse_proc_status(STATUS_TEXT) == ProcStatus("S", 81234)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("State:\tZ (zombie)\nTgid:\t1\n", ProcStatus("Z", 0)),  # a zombie has no VmRSS
        ("State:\tT (stopped)\nVmRSS:\t 10 kB\n", ProcStatus("T", 10)),
        ("VmRSS:\t 10 kB\n", None),
        ("", None),
        ("State:\tR (running)\nVmRSS:\tgarbage\n", ProcStatus("R", 0)),
    ],
)
def test_parse_proc_status_edge_cases(text: str, expected: ProcStatus | None) -> None:
    assert parse_proc_status(text) == expected


@pytest.mark.parametrize(("state", "alive"), [("R", True), ("S", True), ("D", True),
                                              ("T", True), ("Z", False), ("X", False)])  # fmt: skip
def test_alive_unless_zombie_or_dead(state: str, alive: bool) -> None:
    assert ProcStatus(state, 0).is_alive is alive


def test_last_beat_from_the_expiry_score() -> None:
    assert last_beat_ms(15_000.0 + 1_000, 15_000) == 1_000
    assert last_beat_ms(None, 15_000) is None


def test_a_beating_worker_is_healthy() -> None:
    assert _judge(_sample()) is None


def test_a_live_worker_with_an_old_heartbeat_is_hung() -> None:
    assert _judge(_sample(last_beat_ms=NOW_MS - 12_500)) == Hung(12.5)


def test_the_threshold_itself_is_not_hung() -> None:
    assert _judge(_sample(last_beat_ms=NOW_MS - 12_000)) is None


def test_a_stopped_process_is_alive_hence_hung() -> None:
    sample = _sample(process=ProcStatus("T", 1), last_beat_ms=NOW_MS - 20_000)
    assert isinstance(_judge(sample), Hung)


@pytest.mark.parametrize("process", [None, ProcStatus("Z", 0)])
def test_an_exited_worker_is_left_to_its_slot(process: ProcStatus | None) -> None:
    sample = _sample(process=process, last_beat_ms=NOW_MS - 60_000, calls_served=10**6)
    assert _judge(sample, max_calls=1) is None


def test_a_young_worker_is_judged_from_its_spawn() -> None:
    # Its beat record is gone (or not read yet): the age counts from the spawn, not from 0.
    sample = _sample(last_beat_ms=None, spawned_ms=NOW_MS - 5_000)
    assert _judge(sample) is None
    assert _judge(_sample(last_beat_ms=None, spawned_ms=NOW_MS - 13_000)) == Hung(13.0)


def test_beats_the_supervisor_could_not_see_do_not_count() -> None:
    # A Redis outage or a stalled supervisor: the age counts from when watching resumed.
    old = _sample(last_beat_ms=NOW_MS - 60_000)
    assert _judge(old, watching_since_ms=NOW_MS - 2_000) is None
    assert _judge(old, watching_since_ms=NOW_MS - 13_000) == Hung(13.0)


def test_max_calls_recycles_at_the_limit() -> None:
    assert _judge(_sample(calls_served=99), max_calls=100) is None
    assert _judge(_sample(calls_served=100), max_calls=100) == Recycle(
        RecycleReason.MAX_CALLS, 100, 100
    )
    assert _judge(_sample(calls_served=None), max_calls=100) is None
    assert _judge(_sample(calls_served=10**6)) is None  # 0 = off


def test_max_rss_recycles_above_the_limit() -> None:
    big = _sample(process=ProcStatus("S", 600 * 1024 + 512))
    assert _judge(big, max_rss_mb=600) == Recycle(RecycleReason.MAX_RSS, 600.5, 600)
    assert _judge(_sample(process=ProcStatus("S", 600 * 1024)), max_rss_mb=600) is None
    assert _judge(big) is None  # 0 = off


def test_hung_wins_over_recycling() -> None:
    # A hung worker cannot drain: it is killed, not recycled.
    sample = _sample(last_beat_ms=NOW_MS - 30_000, calls_served=10**6)
    assert isinstance(_judge(sample, max_calls=1), Hung)


def test_max_calls_waits_for_a_moment_without_running_tasks_but_memory_does_not() -> None:
    busy = _sample(calls_served=100, tasks_running=1, process=ProcStatus("S", 600 * 1024))
    assert _judge(busy, max_calls=100) is None
    assert _judge(msgspec.structs.replace(busy, tasks_running=0), max_calls=100) == Recycle(
        RecycleReason.MAX_CALLS, 100, 100
    )
    assert _judge(busy, max_calls=100, max_rss_mb=500) == Recycle(RecycleReason.MAX_RSS, 600.0, 500)


def test_heartbeat_records_are_read_only_for_max_calls() -> None:
    assert not HealthPolicy(hung_after_s=1, max_calls=0, max_rss_mb=100).reads_calls_served
    assert HealthPolicy(hung_after_s=1, max_calls=5, max_rss_mb=0).reads_calls_served
