"""Restart backoff: doubling up to a ceiling, reset after a stable run, crash-loop flag."""

from __future__ import annotations

import pytest

from supervisor.restart_policy import RestartPolicy


@pytest.mark.parametrize(
    ("max_backoff_s", "expected"),
    [
        (10.0, [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0]),
        (1.0, [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]),
        (0.05, [0.05, 0.05, 0.05]),
    ],
)
def test_delays_double_up_to_the_max(max_backoff_s: float, expected: list[float]) -> None:
    policy = RestartPolicy(max_backoff_s=max_backoff_s)
    delays = [policy.delay_after_exit(0.5) for _ in expected]
    assert delays == pytest.approx(expected)


def test_custom_base() -> None:
    policy = RestartPolicy(max_backoff_s=100.0, base_s=1.0)
    assert [policy.delay_after_exit(0.0) for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]


def test_a_stable_run_resets_the_backoff() -> None:
    policy = RestartPolicy(max_backoff_s=10.0)
    for _ in range(4):
        policy.delay_after_exit(1.0)
    assert policy.delay_after_exit(10.0) == pytest.approx(0.1)
    assert policy.delay_after_exit(1.0) == pytest.approx(0.2)


@pytest.mark.parametrize(("ran_for_s", "resets"), [(4.999, False), (5.0, True), (3600.0, True)])
def test_stable_threshold(ran_for_s: float, resets: bool) -> None:
    policy = RestartPolicy(max_backoff_s=10.0, stable_after_s=5.0)
    policy.delay_after_exit(0.0)
    policy.delay_after_exit(0.0)
    delay = policy.delay_after_exit(ran_for_s)
    assert delay == pytest.approx(0.1 if resets else 0.4)


def test_crash_looping_after_five_quick_failures() -> None:
    policy = RestartPolicy(max_backoff_s=10.0)
    flags = []
    for _ in range(6):
        policy.delay_after_exit(0.2)
        flags.append(policy.is_crash_looping)
    assert flags == [False, False, False, False, True, True]
    assert policy.consecutive_failures == 6


def test_a_stable_run_ends_the_crash_loop() -> None:
    policy = RestartPolicy(max_backoff_s=10.0)
    for _ in range(5):
        policy.delay_after_exit(0.0)
    assert policy.is_crash_looping
    policy.delay_after_exit(60.0)
    assert not policy.is_crash_looping
    assert policy.consecutive_failures == 1


def test_fresh_policy_is_not_crash_looping() -> None:
    assert not RestartPolicy(max_backoff_s=1.0).is_crash_looping


def test_an_endless_crash_loop_keeps_returning_the_max() -> None:
    """The supervisor restarts a crashing child forever; the delay must stay capped, not
    overflow once 2**failures no longer fits a float (about 1024 quick deaths)."""
    policy = RestartPolicy(max_backoff_s=10.0)
    delays = [policy.delay_after_exit(0.0) for _ in range(1100)]
    assert max(delays) == 10.0
    assert delays[-1] == 10.0


def test_a_crash_loop_begins_once_per_loop() -> None:
    policy = RestartPolicy(max_backoff_s=10.0)
    began = []
    for ran_for_s in [0.1] * 8 + [60.0] + [0.1] * 5:
        policy.delay_after_exit(ran_for_s)
        began.append(policy.crash_loop_began)
    # The fifth quick death starts it; a stable run ends it; five more start another.
    assert [i for i, b in enumerate(began) if b] == [4, 12]


@pytest.mark.parametrize(
    ("running_for_s", "looping"), [(0.0, True), (4.999, True), (5.0, False), (3600.0, False)]
)
def test_a_crash_loop_lasts_until_the_current_child_ran_long_enough(
    running_for_s: float, looping: bool
) -> None:
    policy = RestartPolicy(max_backoff_s=10.0, stable_after_s=5.0)
    for _ in range(5):
        policy.delay_after_exit(0.1)
    assert policy.crash_looping_with(running_for_s) is looping


def test_no_crash_loop_before_five_quick_deaths_however_young_the_child() -> None:
    policy = RestartPolicy(max_backoff_s=10.0)
    for _ in range(4):
        policy.delay_after_exit(0.1)
    assert not policy.crash_looping_with(0.0)
