"""When to grow or shrink the worker pool (ADR-0013).

Pure: the autoscaler (``supervisor/autoscaler.py``) reads the signals from Redis and hands
them in as a :class:`PoolLoad` with the time; the policy keeps only the times it first saw
a condition and its last actions. No I/O, clock, logging or randomness here.

Scale up when work waits that no worker can start:
- a call no worker has taken, once the oldest such call waited ``up_wait_s``: a worker
  takes calls while it runs fewer than ``worker.max_concurrent_calls``, so a call left in
  the stream means every worker is full. The wait is read from the call itself, so a
  momentary backlog (a call between two reads) never counts;
- calls taken by workers but waiting for a free sync thread, when no worker is idle, for
  ``up_wait_s`` in a row (there is no per-call age for them); with an idle worker they are
  calls a new worker would not take either;
- a queued durable task, once the oldest waited ``up_task_wait_s`` (every task slot busy).
The step is proportional: one worker per ``calls_per_worker`` waiting calls (or per
``worker.task_slots`` queued tasks, whichever asks more), less the workers still
starting (they are capacity on its way; a slot in backoff after its worker died is not),
capped at MAX; then ``up_cooldown_s`` passes before the next, and no growth starts while
another is under way (its outcome decides whether growth is held, below).

A growth whose new workers did not all start (told through :meth:`ScalingPolicy.grew`)
holds further growth for ``up_cooldown_s``, doubling with each such growth in a row up
to ``max_grow_backoff_s``: workers that die at start (code broken on disk under a running
fleet) are not respawned every cooldown. The first growth that fully succeeds ends it.

Scale down by one idle worker (nothing in flight, per its heartbeat) once the pool had an
idle worker, nothing waiting past those thresholds and no worker starting for
``idle_s`` in a row; then again each ``down_cooldown_s`` while that lasts; never below MIN.
Any waiting work restarts the idle count, so a shrink never follows a growth within
``idle_s``, and a noisy signal (work one check, none the next) moves the pool one way only.
"""

from __future__ import annotations

import math

import msgspec

from supervisor.config import ScalingConfig

__all__ = ["PoolLoad", "ScaleDown", "ScaleUp", "ScalingPolicy"]


class PoolLoad(msgspec.Struct, frozen=True, kw_only=True):
    """What the autoscaler read at one check.

    Attributes:
        ready: workers of the pool that reported ready.
        starting: workers of the pool spawned and not yet ready (not those in backoff
            after an exit: a crash-looping slot is no capacity on its way).
        restarting: slots neither ready nor starting (in backoff after their worker
            died, or draining before a restart): in the pool's size, no capacity.
        idle: ready workers whose recent heartbeat shows no call and no task in hand.
        queued_calls: calls in the stream that no worker has taken.
        oldest_call_wait_s: how long the oldest of them has waited (0 when none).
        waiting_calls: calls (and tasks) workers took that wait for a free sync thread.
        queued_tasks: durable tasks in the task queue.
        oldest_task_wait_s: how long the oldest of them has waited (0 when none).
        growing: a growth is under way (its workers not all ready or failed yet): no
            other starts before its outcome is known (:meth:`ScalingPolicy.grew`).
    """

    ready: int
    starting: int = 0
    restarting: int = 0
    idle: int = 0
    queued_calls: int = 0
    oldest_call_wait_s: float = 0.0
    waiting_calls: int = 0
    queued_tasks: int = 0
    oldest_task_wait_s: float = 0.0
    growing: bool = False

    @property
    def size(self) -> int:
        """Slots in the pool, ready or not."""
        return self.ready + self.starting + self.restarting


class ScaleUp(msgspec.Struct, frozen=True):
    """Add ``count`` workers, because of ``reason`` (the signal and its value)."""

    count: int
    reason: str


class ScaleDown(msgspec.Struct, frozen=True):
    """Retire one idle worker, because of ``reason``."""

    reason: str


class ScalingPolicy:
    """Decides, at each check, whether the pool grows, shrinks or stays.

    Args:
        config: thresholds, cooldowns and the idle period.
        minimum: the pool's lower bound.
        maximum: the pool's upper bound.
        calls_per_worker: waiting calls one more worker is counted to take (at least 1;
            the autoscaler resolves the config's 0).
        task_slots: durable tasks one worker runs at once (0: workers run none, so queued
            tasks are no reason to grow).
        max_grow_backoff_s: the longest hold on growth after growths that failed (at
            least ``up_cooldown_s``).
    """

    def __init__(
        self,
        config: ScalingConfig,
        *,
        minimum: int,
        maximum: int,
        calls_per_worker: int,
        task_slots: int,
        max_grow_backoff_s: float = 60.0,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"pool bounds must satisfy 1 <= {minimum} <= {maximum}")
        if calls_per_worker < 1:
            raise ValueError(f"calls_per_worker must be at least 1, got {calls_per_worker}")
        self._config = config
        self.minimum = minimum
        self.maximum = maximum
        self._calls_per_worker = calls_per_worker
        self._task_slots = task_slots
        self._waiting_since: float | None = None
        self._surplus_since: float | None = None
        self._last_up = -math.inf
        self._last_down = -math.inf
        self._max_grow_backoff_s = max(max_grow_backoff_s, config.up_cooldown_s)
        self._grow_failures = 0
        self._grow_held_until = -math.inf

    @property
    def grow_failures(self) -> int:
        """Growths in a row whose workers did not all start (0 after one that did)."""
        return self._grow_failures

    def grew(self, asked: int, added: int, now: float) -> float:
        """Record how a :class:`ScaleUp` went, at ``now``: ``added`` of the ``asked``
        workers started. Returns how long further growth is held (0 when all started).
        """
        if added >= asked:
            self._grow_failures = 0
            self._grow_held_until = -math.inf
            return 0.0
        # The exponent is capped so an endless streak stays at the ceiling, not overflows.
        hold = min(
            self._config.up_cooldown_s * 2.0 ** min(self._grow_failures, 32),
            self._max_grow_backoff_s,
        )
        self._grow_failures += 1
        self._grow_held_until = now + hold
        return hold

    def decide(self, load: PoolLoad, now: float) -> ScaleUp | ScaleDown | None:
        """What to do at ``now`` (monotonic seconds) given ``load``; a returned action is
        taken to be carried out at ``now`` (its cooldown starts)."""
        up = self._scale_up(load, now)
        if up is not None:
            self._last_up = now
            self._surplus_since = None
            return up
        down = self._scale_down(load, now)
        if down is not None:
            self._last_down = now
        return down

    def _scale_up(self, load: PoolLoad, now: float) -> ScaleUp | None:
        config = self._config
        # With an idle worker around, calls waiting inside a busy one are not for a new
        # worker to take: it would sit idle too.
        waiting = load.waiting_calls if load.idle == 0 else 0
        if waiting == 0:
            self._waiting_since = None
        elif self._waiting_since is None:
            self._waiting_since = now
        reasons: list[str] = []
        calls = 0
        if load.queued_calls > 0 and load.oldest_call_wait_s >= config.up_wait_s:
            calls += load.queued_calls
            reasons.append(
                f"{load.queued_calls} calls queued, oldest waited {load.oldest_call_wait_s:.1f} s"
            )
        if self._waiting_since is not None and now - self._waiting_since >= config.up_wait_s:
            calls += waiting
            reasons.append(
                f"{waiting} calls waiting for a sync thread for {now - self._waiting_since:.1f} s"
            )
        tasks = 0
        if (
            self._task_slots > 0
            and load.queued_tasks > 0
            and load.oldest_task_wait_s >= config.up_task_wait_s
        ):
            tasks = load.queued_tasks
            reasons.append(
                f"{load.queued_tasks} tasks queued, oldest waited {load.oldest_task_wait_s:.1f} s"
            )
        if (
            not reasons
            or load.growing
            or now - self._last_up < config.up_cooldown_s
            or now < self._grow_held_until
        ):
            return None
        wanted = max(
            math.ceil(calls / self._calls_per_worker),
            math.ceil(tasks / self._task_slots) if tasks else 0,
        )
        count = min(wanted - load.starting, self.maximum - load.size)
        if count <= 0:
            return None
        return ScaleUp(count, "; ".join(reasons))

    def _scale_down(self, load: PoolLoad, now: float) -> ScaleDown | None:
        config = self._config
        # Calls waiting for a thread are no pressure here: with an idle worker they are
        # not for a new worker either (see _scale_up).
        pressed = (load.queued_calls > 0 and load.oldest_call_wait_s >= config.up_wait_s) or (
            self._task_slots > 0
            and load.queued_tasks > 0
            and load.oldest_task_wait_s >= config.up_task_wait_s
        )
        surplus = not pressed and load.idle > 0 and load.starting == 0
        if not surplus:
            self._surplus_since = None
            return None
        if self._surplus_since is None:
            self._surplus_since = now
        idle_for = now - self._surplus_since
        if (
            load.size <= self.minimum
            or idle_for < config.idle_s
            or now - self._last_down < config.down_cooldown_s
        ):
            return None
        return ScaleDown(
            f"{load.idle} of {load.size} workers idle, nothing waiting, for {idle_for:.0f} s"
        )
