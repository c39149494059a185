"""The supervisor's autoscaler (ADR-0013): every ``scaling.interval_s`` it reads the load
signals from Redis (the lanes' depths, :class:`~server.queue_depths.QueueDepths`, and the
pool's workers' recent heartbeats: two or three round trips), asks the
:class:`~supervisor.scaling_policy.ScalingPolicy`, and grows or shrinks the
:class:`~supervisor.worker_pool.WorkerPool`.

Each action is logged once (``pool.scaled``: direction, from, to, reason), reported to the
``on_scale`` listener (the metrics counter) and recorded in the fleet's list of recent
scale events for ``mcpfleet status``. A growth is logged when decided (``pool.growing``)
and recorded once its new workers started,
by how many did; one where none did records nothing. When some did not start, further
growth is held with a doubling backoff (``pool.grow_failed``, once per streak).

The checks go on while workers start and drain: new workers count as ``starting`` from
the moment they are spawned, and a retired worker leaves the pool at once and drains in
the fleet's nursery, outliving the autoscaler.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Literal

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
from server.queue_depths import QueueDepths, QueueSnapshot
from supervisor.child_slot import ChildSlot, SlotState
from supervisor.config import FleetConfig
from supervisor.heartbeat_reader import read_recent_heartbeats
from supervisor.scaling_policy import PoolLoad, ScaleDown, ScaleUp, ScalingPolicy
from supervisor.worker_pool import WorkerPool
from workers.runtime import HEARTBEAT_TTL_INTERVALS

__all__ = ["RECENT_BEAT_INTERVALS", "Autoscaler", "ScaleListener", "pool_load"]

log = structlog.get_logger()

RECENT_BEAT_INTERVALS: Final = 2
"""A heartbeat older than this many ``worker.heartbeat_interval_s`` is not read as its
worker's load: a worker that stopped beating (hung) is neither idle nor waiting."""

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
        heartbeat_interval_s: the workers' ``worker.heartbeat_interval_s``.
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
        heartbeat_interval_s: float,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._queues = QueueDepths(redis, keys)
        self._pool = pool
        self._policy = policy
        self._interval_s = interval_s
        self._on_scale = on_scale
        self._supervisor_id = supervisor_id
        self._failing_since: float | None = None
        self._growing = False
        interval_ms = heartbeat_interval_s * 1000
        self._beat_ttl_ms = int(interval_ms * HEARTBEAT_TTL_INTERVALS)
        self._recent_beat_ms = int(interval_ms * RECENT_BEAT_INTERVALS)

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
            max_grow_backoff_s=config.supervisor.restart_backoff_max_s,
        )
        return cls(
            redis,
            keys,
            pool,
            policy,
            interval_s=config.scaling.interval_s,
            on_scale=on_scale,
            supervisor_id=supervisor_id,
            heartbeat_interval_s=worker.heartbeat_interval_s,
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
            queues = await self._queues.read()
            beats = await read_recent_heartbeats(
                self._redis,
                self._keys,
                [slot.child_id for slot in slots if slot.child_id is not None],
                ttl_ms=self._beat_ttl_ms,
                within_ms=self._recent_beat_ms,
            )
        except (BackendUnavailableError, RedisCommandError) as exc:
            self._read_failed(exc)
            return
        if self._failing_since is not None:
            failed_for_s = trio.current_time() - self._failing_since
            log.info("autoscaler.read_recovered", failed_for_s=round(failed_for_s, 1))
            self._failing_since = None
        load = pool_load(slots, beats, queues, growing=self._growing)
        decision = self._policy.decide(load, trio.current_time())
        if isinstance(decision, ScaleUp):
            await growing.start(self._grow, decision)
        elif isinstance(decision, ScaleDown):
            slot = _idlest(slots, beats)
            if slot is None:  # pragma: no cover - the policy saw an idle worker
                return
            before = len(self._pool)
            if await drains.start(self._pool.shrink, slot):
                await self._scaled("down", before, len(self._pool), decision.reason)

    async def _grow(
        self, decision: ScaleUp, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Grow the pool as decided and record what it grew by, once the new workers
        started (or failed to); with ``nursery.start``, returns to the starter once the
        new slots are in the pool (``starting``), so the next check counts them."""
        before = len(self._pool)
        asked = min(decision.count, self._pool.maximum - before)  # what grow() spawns
        # The decision, when it is taken (pool.scaled follows once the workers are ready).
        log.info("pool.growing", **{"from": before}, adding=asked, reason=decision.reason)
        self._growing = True
        try:
            added = await self._pool.grow(decision.count, task_status=task_status)
        finally:
            self._growing = False
        hold_s = self._policy.grew(asked, added, trio.current_time())
        if hold_s and self._policy.grow_failures == 1:
            # Once per failure streak: the next ones are spaced by the growing hold.
            log.error(
                "pool.grow_failed",
                asked=asked,
                added=added,
                failed=asked - added,
                hold_s=round(hold_s, 3),
                reason=decision.reason,
            )
        if added:
            await self._scaled("up", before, before + added, decision.reason)

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


def _is_idle(slot: ChildSlot, beats: Mapping[str, WorkerHeartbeat]) -> bool:
    beat = beats.get(slot.child_id or "")
    return (
        slot.state is SlotState.READY
        and beat is not None
        and beat.inflight == 0
        and beat.tasks_running == 0
    )


def pool_load(
    slots: Sequence[ChildSlot],
    beats: Mapping[str, WorkerHeartbeat],
    queues: QueueSnapshot,
    *,
    growing: bool = False,
) -> PoolLoad:
    """What the policy is told of the pool: its slots by state, the lanes' waiting work
    from ``queues``, and from the recent heartbeats ``beats`` (by worker id) which workers
    are idle and how many calls wait for a thread (a worker without a recent beat is
    neither idle nor waiting)."""
    return PoolLoad(
        ready=sum(slot.state is SlotState.READY for slot in slots),
        # A slot in backoff (its worker died) is no capacity on its way: counting it would
        # let a crash-looping slot block growth.
        starting=sum(slot.state is SlotState.STARTING for slot in slots),
        restarting=sum(slot.state not in (SlotState.READY, SlotState.STARTING) for slot in slots),
        idle=sum(_is_idle(slot, beats) for slot in slots),
        queued_calls=queues.calls.depth,
        oldest_call_wait_s=queues.calls.oldest_age_s,
        waiting_calls=sum(beat.waiting for beat in beats.values()),
        queued_tasks=queues.tasks.depth,
        oldest_task_wait_s=queues.tasks.oldest_age_s,
        growing=growing,
    )


def _idlest(slots: list[ChildSlot], beats: Mapping[str, WorkerHeartbeat]) -> ChildSlot | None:
    """The idle worker to retire: the youngest (the longest-running keep their warm
    caches; recycling old ones is the recovery policy's job)."""
    idle = [slot for slot in slots if _is_idle(slot, beats)]
    return max(idle, key=lambda slot: slot.index, default=None)
