"""What the supervisor makes of one ready worker's vital signs (ADR-0014): healthy, hung
(alive but no longer heartbeating), or due for recycling (``worker.max_calls``,
``worker.max_rss_mb``). Pure: the samples, the clock and ``/proc``'s text come in as
arguments; :mod:`supervisor.worker_health` gathers them and acts.

A heartbeat's age is measured from the latest of: the worker's last beat, its spawn, and
the moment the supervisor last started watching without a gap (start-up, a failed Redis
read, a late tick). A worker is never judged hung for a time the supervisor could not see
it beat: a Redis outage or a suspended host makes every beat look old, though no worker
stopped.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

__all__ = [
    "HealthPolicy",
    "Hung",
    "ProcStatus",
    "Recycle",
    "RecycleReason",
    "WorkerSample",
    "beat_is_recent",
    "last_beat_ms",
    "parse_proc_status",
]

_KIB_PER_MIB: Final = 1024


class ProcStatus(msgspec.Struct, frozen=True):
    """What ``/proc/<pid>/status`` says of a process.

    Attributes:
        state: the one-letter state (``R``, ``S``, ``D``, ``T`` stopped, ``Z`` zombie…).
        rss_kib: resident memory (``VmRSS``) in KiB; 0 when absent (a zombie has none).
    """

    state: str
    rss_kib: int

    @property
    def is_alive(self) -> bool:
        """Running, sleeping or stopped: not a zombie (exited, not yet reaped) or dead."""
        return self.state not in ("Z", "X")


def parse_proc_status(text: str) -> ProcStatus | None:
    """Parse the text of ``/proc/<pid>/status``; ``None`` if it has no ``State`` line."""
    state = ""
    rss_kib = 0
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == "State":
            state = value.strip()[:1]
        elif name == "VmRSS":
            amount = value.split()
            rss_kib = int(amount[0]) if amount and amount[0].isdigit() else 0
    return ProcStatus(state, rss_kib) if state else None


class WorkerSample(msgspec.Struct, frozen=True, kw_only=True):
    """One ready worker as seen at one check.

    Attributes:
        child_id: the worker's id.
        process: its ``/proc`` status; ``None`` when the process is gone.
        last_beat_ms: when it last beat (epoch ms), if the supervisor has seen a beat.
        spawned_ms: when it was spawned (epoch ms).
        calls_served: from its latest heartbeat record, if read.
        tasks_running: durable tasks it runs, from the same record, if read.
    """

    child_id: str
    process: ProcStatus | None
    last_beat_ms: int | None
    spawned_ms: int
    calls_served: int | None = None
    tasks_running: int | None = None


class RecycleReason(enum.StrEnum):
    """Why a worker is recycled (the ``reason`` of ``worker.recycling``)."""

    MAX_CALLS = "max_calls"
    MAX_RSS = "max_rss"


class Hung(msgspec.Struct, frozen=True):
    """Alive, but its heartbeat is ``heartbeat_age_s`` old: kill it."""

    heartbeat_age_s: float


class Recycle(msgspec.Struct, frozen=True):
    """Replace it (new worker first, then drain the old): ``value`` reached ``limit``."""

    reason: RecycleReason
    value: float
    limit: float


class HealthPolicy:
    """Judges samples against the thresholds.

    Args:
        hung_after_s: heartbeat age past which a live worker is hung.
        max_calls: calls served after which a worker is recycled (0: never).
        max_rss_mb: resident MiB above which a worker is recycled (0: never).
    """

    def __init__(self, *, hung_after_s: float, max_calls: int, max_rss_mb: int) -> None:
        self.hung_after_s = hung_after_s
        self.max_calls = max_calls
        self.max_rss_mb = max_rss_mb

    @property
    def reads_calls_served(self) -> bool:
        """Whether a check needs the heartbeat records (only ``max_calls`` reads them)."""
        return self.max_calls > 0

    def judge(
        self, sample: WorkerSample, *, now_ms: int, watching_since_ms: int
    ) -> Hung | Recycle | None:
        """The verdict on one ready worker, ``None`` when it is healthy (or gone: its exit
        is the slot's business, not ours).

        Args:
            sample: the worker's vital signs.
            now_ms: the time of the check (epoch ms).
            watching_since_ms: since when the supervisor has read heartbeats without a gap.
        """
        process = sample.process
        if process is None or not process.is_alive:
            return None
        since_ms = max(sample.last_beat_ms or 0, sample.spawned_ms, watching_since_ms)
        age_s = (now_ms - since_ms) / 1000
        if age_s > self.hung_after_s:
            return Hung(round(age_s, 3))
        served = sample.calls_served
        # A worker past max_calls waits for a moment it runs no task: its retire would
        # wait for them anyway (ADR-0014), holding a replacement. Memory does not wait.
        if (
            self.max_calls
            and served is not None
            and served >= self.max_calls
            and not sample.tasks_running
        ):
            return Recycle(RecycleReason.MAX_CALLS, served, self.max_calls)
        rss_mb = process.rss_kib / _KIB_PER_MIB
        if self.max_rss_mb and rss_mb > self.max_rss_mb:
            return Recycle(RecycleReason.MAX_RSS, round(rss_mb, 1), self.max_rss_mb)
        return None


def last_beat_ms(expiry_score: float | None, ttl_ms: int) -> int | None:
    """When a worker last beat, from its ``live_workers`` score (the beat's time plus the
    heartbeat TTL); ``None`` without a score."""
    return None if expiry_score is None else int(expiry_score) - ttl_ms


def beat_is_recent(expiry_score: float | None, ttl_ms: int, *, now_ms: int, within_ms: int) -> bool:
    """Whether a worker beat within ``within_ms`` of ``now_ms``, from its ``live_workers``
    score (see :func:`last_beat_ms`); ``False`` without a score."""
    beat = last_beat_ms(expiry_score, ttl_ms)
    return beat is not None and now_ms - beat <= within_ms
