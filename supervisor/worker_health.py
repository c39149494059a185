"""The supervisor's watch over its ready workers (ADR-0014): a worker that is alive but no
longer heartbeating is hung, and is killed (SIGKILL) so its slot settles its calls and
tasks and restarts it like after any exit; a worker past ``worker.max_calls`` or
``worker.max_rss_mb`` is recycled: a replacement starts first, then the old one drains.

Each check (every half heartbeat interval) costs one Redis round trip whatever the pool's
size: one ``ZMSCORE`` on the live-workers set (each beat's time, from its expiry score), plus
one ``MGET`` of the heartbeat records when ``max_calls`` needs their ``calls_served`` (and
``tasks_running``: a worker past ``max_calls`` is recycled at a moment it runs no task); and
one read of ``/proc/<pid>/status`` per worker (its state and ``VmRSS``). Only ready workers
are judged: a starting worker has its ready timeout, a draining one its drain budget.
Recycles roll one at a time across the pool, so it never runs more than one extra worker.
"""

from __future__ import annotations

import signal
import time
from typing import Final

import msgspec
import structlog
import trio

from proto import BackendUnavailableError, Keyspace, WorkerHeartbeat
from server import RedisClient, RedisCommandError, RedisReply
from supervisor.child_slot import ChildSlot, ExitReason, SlotState
from supervisor.health_policy import (
    HealthPolicy,
    Hung,
    ProcStatus,
    Recycle,
    WorkerSample,
    last_beat_ms,
    parse_proc_status,
)
from supervisor.worker_pool import WorkerPool
from workers.runtime import HEARTBEAT_TTL_INTERVALS

__all__ = ["WorkerHealth"]

log = structlog.get_logger()

_LATE_TICKS: Final = 3
"""A check this many intervals late means the supervisor itself stalled (a suspended host,
an overloaded machine): beats it could not see do not count against the workers."""

_heartbeat_decoder: Final = msgspec.json.Decoder(WorkerHeartbeat)


class WorkerHealth:
    """Checks the pool's ready workers until cancelled.

    Args:
        pool: the fleet's workers.
        redis: the supervisor's Redis client.
        keys: the fleet's key schema.
        policy: the thresholds.
        heartbeat_interval_s: how often workers beat (``worker.heartbeat_interval_s``);
            checks run twice as often.
        recycle_retry_s: after a replacement failed to start, how long before that worker
            may be recycled again.
    """

    def __init__(
        self,
        pool: WorkerPool,
        redis: RedisClient,
        keys: Keyspace,
        *,
        policy: HealthPolicy,
        heartbeat_interval_s: float,
        recycle_retry_s: float,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._keys = keys
        self._policy = policy
        self._tick_s = heartbeat_interval_s / 2
        self._ttl_ms = int(heartbeat_interval_s * HEARTBEAT_TTL_INTERVALS * 1000)
        self._recycle_retry_s = recycle_retry_s
        self._last_beats: dict[str, int] = {}
        self._watching_since_ms = 0
        self._has_gap = True
        self._last_check = 0.0
        self._recycling: ChildSlot | None = None
        self._recycle_not_before: dict[str, float] = {}
        self._killed: set[str] = set()

    async def run(
        self, *, task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Check every half heartbeat interval until the returned scope is cancelled.

        Cancellation: a recycle in progress stops where it is (a replacement still
        starting is stopped; an old worker already draining finishes its drain).
        """
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as recycles:
                task_status.started(scope)
                self._last_check = trio.current_time()
                while True:
                    await trio.sleep(self._tick_s)
                    await self.check(recycles)

    async def check(self, recycles: trio.Nursery) -> None:
        """Judge every ready worker once; recycles start in ``recycles``."""
        now = trio.current_time()
        if now - self._last_check > _LATE_TICKS * self._tick_s:
            self._has_gap = True
        self._last_check = now
        slots: list[ChildSlot] = []
        ids: list[str] = []
        for slot in self._pool.slots:
            if _is_ready(slot) and slot.child_id is not None:
                slots.append(slot)
                ids.append(slot.child_id)
        self._forget_all_but(ids)
        if not ids:
            return
        try:
            scores, records = await self._read_heartbeats(ids)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("worker_health.read_failed", error=str(exc))
            self._has_gap = True
            return
        now_ms = int(time.time() * 1000)
        if self._has_gap:
            self._watching_since_ms, self._has_gap = now_ms, False
        for slot, child_id, score, record in zip(slots, ids, scores, records, strict=True):
            beat = last_beat_ms(score, self._ttl_ms)
            if beat is not None:
                self._last_beats[child_id] = max(beat, self._last_beats.get(child_id, beat))
            # The slot may have moved on while Redis answered: judge only the same child,
            # and a hung one only once (it may take a moment to die).
            if slot.child_id == child_id and _is_ready(slot) and child_id not in self._killed:
                self._judge(slot, child_id, record, now_ms, recycles)

    def _judge(
        self,
        slot: ChildSlot,
        child_id: str,
        record: WorkerHeartbeat | None,
        now_ms: int,
        recycles: trio.Nursery,
    ) -> None:
        if slot.pid is None:
            return
        sample = WorkerSample(
            child_id=child_id,
            process=_proc_status(slot.pid),
            last_beat_ms=self._last_beats.get(child_id),
            spawned_ms=int(slot.started_at * 1000),
            calls_served=None if record is None else record.calls_served,
            tasks_running=None if record is None else record.tasks_running,
        )
        verdict = self._policy.judge(
            sample, now_ms=now_ms, watching_since_ms=self._watching_since_ms
        )
        if isinstance(verdict, Hung):
            self._kill_hung(slot, child_id, verdict)
        elif isinstance(verdict, Recycle):
            self._start_recycle(slot, child_id, verdict, recycles)

    async def _read_heartbeats(
        self, ids: list[str]
    ) -> tuple[list[float | None], list[WorkerHeartbeat | None]]:
        """Each worker's latest expiry score and, if needed, its heartbeat record
        (``calls_served``, and ``tasks_running``).

        Raises:
            BackendUnavailableError, RedisCommandError: Redis did not answer.
        """
        commands: list[tuple[str, ...]] = [("ZMSCORE", self._keys.live_workers(), *ids)]
        if self._policy.reads_calls_served:
            commands.append(("MGET", *(self._keys.worker_heartbeat(i) for i in ids)))
        replies = await self._redis.execute_many(commands)
        scores = [_score(r) for r in _items(replies[0], len(ids))]
        records: list[WorkerHeartbeat | None] = [None] * len(ids)
        if len(replies) > 1:
            records = [_record(r) for r in _items(replies[1], len(ids))]
        return scores, records

    def _kill_hung(self, slot: ChildSlot, child_id: str, verdict: Hung) -> None:
        log.error(
            "worker.hung",
            child_id=child_id,
            worker_pid=slot.pid,
            heartbeat_age_s=verdict.heartbeat_age_s,
            hung_after_s=self._policy.hung_after_s,
        )
        if slot.end_child(ExitReason.HUNG, signal.SIGKILL):
            self._killed.add(child_id)

    def _start_recycle(
        self, slot: ChildSlot, child_id: str, verdict: Recycle, recycles: trio.Nursery
    ) -> None:
        if self._recycling is not None:
            return  # one at a time: the next check picks this one up again
        if self._recycle_not_before.get(child_id, 0.0) > trio.current_time():
            return
        log.info(
            "worker.recycling",
            child_id=child_id,
            reason=verdict.reason.value,
            value=verdict.value,
            limit=verdict.limit,
        )
        self._recycling = slot
        recycles.start_soon(self._recycle, slot, child_id)

    async def _recycle(self, slot: ChildSlot, child_id: str) -> None:
        try:
            replaced = await self._pool.replace(slot)
        finally:
            self._recycling = None
        if not replaced:
            log.warning(
                "worker.recycle_failed", child_id=child_id, retry_in_s=self._recycle_retry_s
            )
            self._recycle_not_before[child_id] = trio.current_time() + self._recycle_retry_s

    def _forget_all_but(self, ids: list[str]) -> None:
        """Drop what is remembered of workers no longer ready (ids are never reused)."""
        keep = set(ids)
        for table in (self._last_beats, self._recycle_not_before):
            for gone in [i for i in table if i not in keep]:
                del table[gone]
        self._killed &= keep


def _is_ready(slot: ChildSlot) -> bool:
    return slot.state is SlotState.READY and not slot.stopping


def _proc_status(pid: int) -> ProcStatus | None:
    # A plain read: /proc is served from memory and answers at once, so this does not
    # block the supervisor's loop (no thread hop for a few hundred bytes).
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as fh:
            return parse_proc_status(fh.read())
    except OSError:
        return None  # gone already (its exit is the slot's to handle), or no /proc


def _items(reply: RedisReply, count: int) -> list[RedisReply]:
    return list(reply) if isinstance(reply, list) and len(reply) == count else [None] * count


def _score(reply: RedisReply) -> float | None:
    if not isinstance(reply, bytes):
        return None
    try:
        return float(reply)
    except ValueError:
        return None


def _record(reply: RedisReply) -> WorkerHeartbeat | None:
    if not isinstance(reply, bytes):
        return None
    try:
        return _heartbeat_decoder.decode(reply)
    except msgspec.MsgspecError:
        return None
