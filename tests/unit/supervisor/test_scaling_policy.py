"""The scaling policy: growth proportional to what waits, capped at MAX; shrinking one idle
worker at a time after an idle period, never below MIN; cooldowns; starting workers count
as capacity; a noisy signal never makes the pool flap. Time is passed in."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import msgspec
import pytest

from supervisor.config import ScalingConfig
from supervisor.scaling_policy import PoolLoad, ScaleDown, ScaleUp, ScalingPolicy

CONFIG = ScalingConfig(
    interval_s=0.25,
    up_wait_s=0.5,
    up_task_wait_s=1.0,
    up_cooldown_s=2.0,
    idle_s=30.0,
    down_cooldown_s=5.0,
)


def _policy(
    *,
    minimum: int = 1,
    maximum: int = 8,
    calls_per_worker: int = 10,
    task_slots: int = 2,
    config: ScalingConfig = CONFIG,
    max_grow_backoff_s: float = 60.0,
) -> ScalingPolicy:
    return ScalingPolicy(
        config,
        minimum=minimum,
        maximum=maximum,
        calls_per_worker=calls_per_worker,
        task_slots=task_slots,
        max_grow_backoff_s=max_grow_backoff_s,
    )


def _backlog(calls: int, *, ready: int = 1, starting: int = 0, wait_s: float = 0.6) -> PoolLoad:
    return PoolLoad(ready=ready, starting=starting, queued_calls=calls, oldest_call_wait_s=wait_s)


def _idle(ready: int, idle: int | None = None) -> PoolLoad:
    return PoolLoad(ready=ready, idle=ready if idle is None else idle)


def _run(
    policy: ScalingPolicy, loads: Iterable[PoolLoad], *, start: float = 0.0, step: float = 0.25
) -> list[tuple[float, ScaleUp | ScaleDown]]:
    """Decide at each check; return the actions with their times."""
    actions: list[tuple[float, ScaleUp | ScaleDown]] = []
    now = start
    for load in loads:
        decision = policy.decide(load, now)
        if decision is not None:
            actions.append((now, decision))
        now += step
    return actions


# --- growing -------------------------------------------------------------------------


def test_a_steady_pool_with_nothing_waiting_stays() -> None:
    policy = _policy()
    loads = [PoolLoad(ready=2, idle=0)] * 400  # busy but keeping up: 100 s of checks
    assert _run(policy, loads) == []


def test_queued_calls_that_waited_long_enough_grow_the_pool() -> None:
    decision = _policy().decide(_backlog(5, wait_s=0.5), now=10.0)
    assert isinstance(decision, ScaleUp)
    assert decision.count == 1
    assert "5 calls queued" in decision.reason and "0.5 s" in decision.reason


def test_queued_calls_younger_than_the_threshold_do_not() -> None:
    assert _policy().decide(_backlog(500, wait_s=0.49), now=10.0) is None


@pytest.mark.parametrize(
    ("queued", "expected"),
    [(1, 1), (10, 1), (11, 2), (30, 3), (31, 4), (70, 7)],
)
def test_growth_is_proportional_to_the_backlog(queued: int, expected: int) -> None:
    decision = _policy(maximum=100, calls_per_worker=10).decide(_backlog(queued), now=0.0)
    assert decision == ScaleUp(expected, decision.reason if decision else "")


@pytest.mark.parametrize(("ready", "queued", "expected"), [(1, 1000, 7), (6, 1000, 2), (7, 5, 1)])
def test_growth_is_capped_at_the_maximum(ready: int, queued: int, expected: int) -> None:
    decision = _policy(maximum=8).decide(_backlog(queued, ready=ready), now=0.0)
    assert isinstance(decision, ScaleUp)
    assert decision.count == expected


def test_a_pool_at_its_maximum_does_not_grow() -> None:
    assert _policy(maximum=4).decide(_backlog(1000, ready=4), now=0.0) is None
    assert _policy(maximum=4).decide(_backlog(1000, ready=2, starting=2), now=0.0) is None


def test_a_starting_worker_counts_as_capacity() -> None:
    policy = _policy(maximum=20, calls_per_worker=10)
    # 40 calls need 4 more workers; 3 are on their way.
    decision = policy.decide(_backlog(40, ready=2, starting=3), now=0.0)
    assert isinstance(decision, ScaleUp)
    assert decision.count == 1
    # Enough on their way: nothing more.
    assert _policy().decide(_backlog(40, ready=2, starting=4), now=0.0) is None


def test_after_growing_it_waits_the_cooldown_before_growing_again() -> None:
    policy = _policy(maximum=8)
    loads = [_backlog(5, ready=1)] + [_backlog(50, ready=2)] * 12
    actions = _run(policy, loads)
    assert [(t, type(a)) for t, a in actions] == [(0.0, ScaleUp), (2.0, ScaleUp)]
    assert [a.count for _t, a in actions if isinstance(a, ScaleUp)] == [1, 5]


def test_without_a_cooldown_it_grows_at_each_check_while_needed() -> None:
    policy = _policy(config=ScalingConfig(up_cooldown_s=0.0))
    actions = _run(policy, [_backlog(5, ready=1), _backlog(5, ready=2)])
    assert [t for t, _a in actions] == [0.0, 0.25]


def test_calls_waiting_for_a_thread_grow_the_pool_once_they_waited_long_enough() -> None:
    policy = _policy(calls_per_worker=4)
    waiting = PoolLoad(ready=2, idle=0, waiting_calls=9)
    actions = _run(policy, [waiting] * 3)  # 0.0, 0.25, 0.5
    assert len(actions) == 1
    (when, decision) = actions[0]
    assert when == 0.5
    assert isinstance(decision, ScaleUp)
    assert decision.count == 3  # 9 calls / 4 per worker
    assert "9 calls waiting for a sync thread" in decision.reason


def test_calls_waiting_for_a_thread_do_not_count_while_a_worker_is_idle() -> None:
    # The waiting calls sit in a busy worker; another one is idle: a new worker would be too.
    policy = _policy()
    loads = [PoolLoad(ready=3, idle=1, waiting_calls=50)] * 40
    assert _run(policy, loads) == []


def test_waiting_for_a_thread_must_last_at_every_check() -> None:
    policy = _policy()
    noisy = [PoolLoad(ready=2, waiting_calls=20), PoolLoad(ready=2)] * 40
    assert _run(policy, noisy) == []


def test_queued_tasks_that_waited_long_enough_grow_the_pool() -> None:
    policy = _policy(task_slots=2, maximum=10)
    young = PoolLoad(ready=1, queued_tasks=5, oldest_task_wait_s=0.9)
    assert policy.decide(young, now=0.0) is None
    old = PoolLoad(ready=1, queued_tasks=5, oldest_task_wait_s=1.0)
    decision = policy.decide(old, now=0.25)
    assert isinstance(decision, ScaleUp)
    assert decision.count == 3  # 5 tasks / 2 slots per worker
    assert "5 tasks queued" in decision.reason


def test_queued_tasks_do_not_grow_a_pool_whose_workers_run_no_tasks() -> None:
    policy = _policy(task_slots=0)
    assert policy.decide(PoolLoad(ready=1, queued_tasks=5, oldest_task_wait_s=60.0), 0.0) is None


def test_calls_and_tasks_together_ask_for_the_larger_step() -> None:
    policy = _policy(maximum=20, calls_per_worker=10, task_slots=2)
    load = PoolLoad(
        ready=1, queued_calls=25, oldest_call_wait_s=1.0, queued_tasks=9, oldest_task_wait_s=5.0
    )
    decision = policy.decide(load, 0.0)
    assert isinstance(decision, ScaleUp)
    assert decision.count == 5  # max(ceil(25 / 10), ceil(9 / 2))
    assert "calls queued" in decision.reason and "tasks queued" in decision.reason


# --- shrinking -----------------------------------------------------------------------


def test_an_idle_surplus_shrinks_the_pool_after_the_idle_period() -> None:
    policy = _policy(minimum=1)
    actions = _run(policy, [_idle(4)] * 200, step=0.25)  # 50 s
    times = [t for t, a in actions if isinstance(a, ScaleDown)]
    assert times[0] == 30.0
    # Then one each down_cooldown_s while the surplus lasts (the load says 4 throughout).
    assert times[1:3] == [35.0, 40.0]
    reason = actions[0][1].reason
    assert "4 of 4 workers idle" in reason and "30 s" in reason


def test_it_never_shrinks_below_the_minimum() -> None:
    policy = _policy(minimum=2)
    now = 0.0
    size = 5
    downs = 0
    while now < 600:
        decision = policy.decide(_idle(size), now)
        if isinstance(decision, ScaleDown):
            size -= 1
            downs += 1
        now += 0.25
    assert size == 2
    assert downs == 3


def test_no_idle_worker_means_no_shrinking() -> None:
    policy = _policy(minimum=1)
    busy = [PoolLoad(ready=4, idle=0)] * 400
    assert _run(policy, busy) == []


def test_waiting_work_restarts_the_idle_count() -> None:
    policy = _policy(minimum=1, maximum=4)  # at its maximum: the backlog grows nothing
    loads = [_idle(4)] * 100 + [_backlog(1, ready=4, wait_s=0.6)] + [_idle(4)] * 119
    # The backlog at 25 s restarts the count: no shrink at 30 s, first at 25.25 + 30 s.
    assert _run(policy, loads) == []
    more = _run(policy, [_idle(4)] * 2, start=55.0)
    assert [(t, type(a)) for t, a in more] == [(55.25, ScaleDown)]


def test_a_young_backlog_does_not_restart_the_idle_count() -> None:
    # A call between two reads by a worker is no sign of pressure.
    policy = _policy(minimum=1)
    blip = PoolLoad(ready=3, idle=3, queued_calls=2, oldest_call_wait_s=0.01)
    loads = [_idle(3)] * 60 + [blip] + [_idle(3)] * 60
    actions = _run(policy, loads)
    assert [(t, type(a)) for t, a in actions] == [(30.0, ScaleDown)]


def test_no_shrinking_while_a_worker_is_starting() -> None:
    policy = _policy(minimum=1)
    loads = [PoolLoad(ready=4, starting=1, idle=4)] * 200
    assert _run(policy, loads) == []


def test_a_growth_is_never_followed_by_a_shrink_within_the_idle_period() -> None:
    policy = _policy(minimum=1)
    actions = _run(policy, [_backlog(30, ready=1)] + [_idle(4)] * 200)
    kinds = [(t, type(a)) for t, a in actions]
    assert kinds[0] == (0.0, ScaleUp)
    assert kinds[1] == (30.25, ScaleDown)


# --- no flapping ---------------------------------------------------------------------


def test_a_noisy_signal_moves_the_pool_one_way_only() -> None:
    """Work waiting one check and every worker idle the next, for ten minutes: the pool
    grows (no faster than the cooldown) and never shrinks."""
    policy = _policy(minimum=1, maximum=50, calls_per_worker=1)
    size = 1
    now = 0.0
    history = []
    for check in range(2400):
        load = _backlog(3, ready=size) if check % 2 == 0 else _idle(size)
        decision = policy.decide(load, now)
        if isinstance(decision, ScaleUp):
            size += decision.count
            history.append(("up", now))
        elif isinstance(decision, ScaleDown):
            size -= 1
            history.append(("down", now))
        now += 0.25
    assert len(history) >= 2
    assert [kind for kind, _t in history] == ["up"] * len(history)
    gaps = [b - a for (_k, a), (_k2, b) in itertools.pairwise(history)]
    assert all(gap >= CONFIG.up_cooldown_s for gap in gaps)


def test_a_young_noisy_backlog_never_grows_the_pool() -> None:
    policy = _policy()
    loads = [_backlog(100, ready=2, wait_s=0.05), PoolLoad(ready=2)] * 400
    assert _run(policy, loads) == []


def test_load_that_comes_and_goes_slower_than_the_idle_period_cycles_at_most_once_per_period() -> (
    None
):
    policy = _policy(minimum=1, maximum=4, calls_per_worker=1)
    size = 1
    now = 0.0
    ups: list[float] = []
    downs: list[float] = []
    for check in range(4 * 600):  # ten minutes: 60 s of load, 60 s of none, in turn
        busy = (now // 60) % 2 == 0
        load = _backlog(3, ready=size) if busy else _idle(size)
        decision = policy.decide(load, now)
        if isinstance(decision, ScaleUp):
            size += decision.count
            ups.append(now)
        elif isinstance(decision, ScaleDown):
            size -= 1
            downs.append(now)
        now += 0.25
        assert 1 <= size <= 4, check
    assert len(ups) == 5  # one per busy minute, straight to MAX
    # Each idle minute: the idle period, then one per cooldown down to MIN.
    assert all(d % 120 >= 60 + CONFIG.idle_s for d in downs)
    assert len(downs) == 15


# --- arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "maximum", "calls_per_worker"), [(0, 2, 1), (3, 2, 1), (1, 2, 0)]
)
def test_bad_arguments_raise(minimum: int, maximum: int, calls_per_worker: int) -> None:
    with pytest.raises(ValueError, match="must"):
        _policy(minimum=minimum, maximum=maximum, calls_per_worker=calls_per_worker)


# --- growths that failed -------------------------------------------------------------


def _grows_at(policy: ScalingPolicy, load: PoolLoad, times: Iterable[float]) -> list[float]:
    """The times among ``times`` at which the policy grows the pool."""
    return [now for now in times if isinstance(policy.decide(load, now), ScaleUp)]


def test_a_growth_whose_workers_did_not_start_holds_growth_with_a_doubling_backoff() -> None:
    policy = _policy(max_grow_backoff_s=6.0)  # up_cooldown_s = 2: holds of 2, 4, 6, 6 s
    backlog = _backlog(30)
    assert isinstance(policy.decide(backlog, now=0.0), ScaleUp)
    assert policy.grew(asked=3, added=0, now=1.0) == 2.0
    assert policy.grow_failures == 1
    # The cooldown ends at 2.0, the hold at 3.0: the next growth waits for the hold.
    assert _grows_at(policy, backlog, [2.0, 2.5, 2.9]) == []
    assert _grows_at(policy, backlog, [3.0]) == [3.0]
    assert policy.grew(asked=3, added=1, now=4.0) == 4.0  # part of them is a failure too
    assert _grows_at(policy, backlog, [6.0, 7.9]) == []
    assert _grows_at(policy, backlog, [8.0]) == [8.0]
    assert policy.grew(asked=3, added=0, now=8.0) == 6.0  # at the ceiling
    assert policy.grew(asked=3, added=0, now=8.0) == 6.0
    assert policy.grow_failures == 4


def test_a_growth_that_fully_succeeds_ends_the_hold() -> None:
    policy = _policy(max_grow_backoff_s=60.0)
    backlog = _backlog(30)
    for _ in range(4):
        policy.grew(asked=3, added=0, now=0.0)  # held 16 s
    assert policy.grew(asked=2, added=2, now=1.0) == 0.0
    assert policy.grow_failures == 0
    assert _grows_at(policy, backlog, [1.0]) == [1.0]  # only the cooldown counts again


def test_the_hold_is_never_shorter_than_the_cooldown() -> None:
    policy = _policy(max_grow_backoff_s=0.5)  # below up_cooldown_s = 2
    assert policy.grew(asked=1, added=0, now=0.0) == 2.0


def test_a_slot_in_backoff_is_no_capacity_on_its_way() -> None:
    # One ready worker, one slot whose worker died (in backoff), ten calls queued for 5 s:
    # one more worker is wanted and the crash-looping slot must not stand in for it.
    load = PoolLoad(ready=1, restarting=1, queued_calls=10, oldest_call_wait_s=5.0)
    decision = _policy().decide(load, now=10.0)
    assert isinstance(decision, ScaleUp)
    assert decision.count == 1


def test_slots_in_backoff_count_toward_max() -> None:
    load = PoolLoad(ready=1, restarting=1, queued_calls=100, oldest_call_wait_s=5.0)
    decision = _policy(maximum=4).decide(load, now=10.0)
    assert isinstance(decision, ScaleUp)
    assert decision.count == 2  # MAX 4 less the ready and the restarting slot


def test_no_growth_starts_while_another_is_under_way() -> None:
    # A growth of two where one worker already failed and one still starts: the pool looks
    # one short, but the outcome of the growth under way decides what comes next.
    policy = _policy()
    under_way = PoolLoad(ready=1, starting=1, queued_calls=30, oldest_call_wait_s=5.0, growing=True)
    assert _grows_at(policy, under_way, [10.0, 20.0, 30.0]) == []
    assert _grows_at(policy, msgspec.structs.replace(under_way, growing=False), [30.0]) == [30.0]
