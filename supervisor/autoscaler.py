"""The supervisor's autoscaler (ADR-0013): every ``scaling.interval_s`` it reads the load
signals from Redis (:func:`~supervisor.queue_depths.read_queue_depths` and the pool's
worker heartbeats: two to four round trips), asks the
:class:`~supervisor.scaling_policy.ScalingPolicy`, and grows or shrinks the
:class:`~supervisor.worker_pool.WorkerPool`.

Each action is logged once (``pool.scaled``: direction, from, to, reason), reported to the
``on_scale`` listener (the metrics counter) and recorded in the fleet's list of recent
scale events for ``mcpfleet status``. The checks go on while workers start and drain:
new workers count as ``starting`` from the moment they are spawned, and a retired worker
leaves the pool at once and drains in the fleet's nursery, outliving the autoscaler.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import structlog
import trio

from proto import (
    SCALE_EVENTS_KEPT,
    BackendUnavailableError,
    Keyspace,
    RedisCommandError,
    ScaleEvent,
    WorkerHeartbeat,
    encode_status_record,
)
from server import RedisClient
from supervisor.child_slot import ChildSlot, SlotState
from supervisor.config import FleetConfig
from supervisor.heartbeat_reader import read_heartbeats
from supervisor.queue_depths import QueueDepths, read_queue_depths
from supervisor.scaling_policy import PoolLoad, ScaleDown, ScaleUp, ScalingPolicy
from supervisor.worker_pool import WorkerPool

__all__ = ["Autoscaler", "ScaleListener"]

log = structlog.get_logger()

ScaleListener = Callable[[str, int, int, str], None]
"""Told of each scale action: ``(direction, before, after, reason)``, direction ``up`` or
``down`` (the metrics lane counts them)."""


class Autoscaler:
    """Keeps one pool sized to its load.

    Args:
        redis: the supervisor's Redis client.
        keys: the fleet's key schema.
        pool: the workers to size.
        policy: decides from what is read.
        interval_s: time between two checks.
        on_scale: told of each action.
        supervisor_id: recorded with each scale event.
    """

    def __init__(
        self,
        redis: RedisClient,
        keys: Keyspace,
        pool: WorkerPool,
        policy: ScalingPolicy,
        *,
        interval_s: float,
        on_scale: ScaleListener,
        supervisor_id: str,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._pool = pool
        self._policy = policy
        self._interval_s = interval_s
        self._on_scale = on_scale
        self._supervisor_id = supervisor_id
        self._failing_since: float | None = None

    @classmethod
    def for_fleet(
        cls,
        config: FleetConfig,
        redis: RedisClient,
        keys: Keyspace,
        pool: WorkerPool,
        *,
        on_scale: ScaleListener,
        supervisor_id: str,
    ) -> Autoscaler:
        """The autoscaler of a fleet's pool, with its ``[scaling]`` policy."""
        worker = config.worker
        per_worker = config.scaling.calls_per_worker or min(
            worker.max_concurrent_calls, worker.sync_threads
        )
        policy = ScalingPolicy(
            config.scaling,
            minimum=pool.minimum,
            maximum=pool.maximum,
            calls_per_worker=per_worker,
            task_slots=worker.task_slots,
        )
        return cls(
            redis,
            keys,
            pool,
            policy,
            interval_s=config.scaling.interval_s,
            on_scale=on_scale,
            supervisor_id=supervisor_id,
        )

    async def run(
        self,
        drains: trio.Nursery,
        *,
        task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Check and act every interval until the returned scope is cancelled.

        Args:
            drains: where retired workers drain (the fleet's nursery: a drain outlives
                the autoscaler, which stops first at shutdown).

        Cancellation: workers still starting are stopped (the pool is being stopped);
        draining ones go on draining in ``drains``.
        """
        with trio.CancelScope() as scope:
            task_status.started(scope)
            async with trio.open_nursery() as growing:
                while True:
                    await self.check(growing, drains)
                    await trio.sleep(self._interval_s)

    async def check(self, growing: trio.Nursery, drains: trio.Nursery) -> None:
        """Read the signals once, decide, and act."""
        slots = list(self._pool.slots)
        try:
            depths = await read_queue_depths(self._redis, self._keys)
            beats = await read_heartbeats(self._redis, self._keys, slots)
        except (BackendUnavailableError, RedisCommandError) as exc:
            self._read_failed(exc)
            return
        if self._failing_since is not None:
            failed_for_s = trio.current_time() - self._failing_since
            log.info("autoscaler.read_recovered", failed_for_s=round(failed_for_s, 1))
            self._failing_since = None
        decision = self._policy.decide(_load(slots, beats, depths), trio.current_time())
        if isinstance(decision, ScaleUp):
            before = len(self._pool)
            spawned: int = await growing.start(self._pool.grow, decision.count)
            await self._scaled("up", before, before + spawned, decision.reason)
        elif isinstance(decision, ScaleDown):
            slot = _idlest(slots, beats)
            if slot is None:  # pragma: no cover - the policy saw an idle worker
                return
            before = len(self._pool)
            if await drains.start(self._pool.shrink, slot):
                await self._scaled("down", before, len(self._pool), decision.reason)

    async def _scaled(
        self, direction: Literal["up", "down"], before: int, after: int, reason: str
    ) -> None:
        log.info(
            "pool.scaled", **{"direction": direction, "from": before, "to": after}, reason=reason
        )
        self._on_scale(direction, before, after, reason)
        event = ScaleEvent(
            at_ms=int(time.time() * 1000),
            direction=direction,
            before=before,
            after=after,
            reason=reason,
            supervisor_id=self._supervisor_id,
        )
        key = self._keys.scale_events()
        try:
            await self._redis.execute_many(
                [
                    ("LPUSH", key, encode_status_record(event)),
                    ("LTRIM", key, 0, SCALE_EVENTS_KEPT - 1),
                ]
            )
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("pool.scale_event_not_recorded", error=str(exc))

    def _read_failed(self, exc: Exception) -> None:
        # Once per failure streak: a check runs several times a second.
        if self._failing_since is None:
            self._failing_since = trio.current_time()
            log.warning("autoscaler.read_failed", error=str(exc))


def _is_idle(slot: ChildSlot, beats: dict[str, WorkerHeartbeat]) -> bool:
    beat = beats.get(slot.child_id or "")
    return (
        slot.state is SlotState.READY
        and beat is not None
        and beat.inflight == 0
        and beat.tasks_running == 0
    )


def _load(
    slots: list[ChildSlot], beats: dict[str, WorkerHeartbeat], depths: QueueDepths
) -> PoolLoad:
    ready = sum(slot.state is SlotState.READY for slot in slots)
    return PoolLoad(
        ready=ready,
        starting=len(slots) - ready,
        idle=sum(_is_idle(slot, beats) for slot in slots),
        queued_calls=depths.calls_queued,
        oldest_call_wait_s=depths.oldest_call_wait_s,
        waiting_calls=sum(beat.waiting for beat in beats.values()),
        queued_tasks=depths.tasks_queued,
        oldest_task_wait_s=depths.oldest_task_wait_s,
    )


def _idlest(slots: list[ChildSlot], beats: dict[str, WorkerHeartbeat]) -> ChildSlot | None:
    """The idle worker to retire: the youngest (the longest-running keep their warm
    caches; recycling old ones is the recovery policy's job)."""
    idle = [slot for slot in slots if _is_idle(slot, beats)]
    return max(idle, key=lambda slot: slot.index, default=None)
