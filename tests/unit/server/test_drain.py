"""The front's drain steps (server/drain.py), driven by real signals to this process: the
first draining, the accept grace, the grace period, a second signal hurrying to its end;
and the in-flight count it waits on."""

from __future__ import annotations

import os
import signal

import pytest
import trio

from server.config import FrontConfig
from server.drain import ANSWER_MARGIN_S, FrontDrain, InFlight, drain_budget_s


class Ended:
    """Stands in for the front's ``end_waits``: counts its calls, answers ``waiting``."""

    def __init__(self, waiting: int = 0) -> None:
        self.calls = 0
        self.at: float | None = None
        self.waiting = waiting

    async def __call__(self) -> int:
        self.calls += 1
        self.at = trio.current_time()
        return self.waiting


def terminate_me() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


async def test_the_first_signal_drains_then_stops_accepting_after_the_accept_grace() -> None:
    ended = Ended(waiting=3)
    drain = FrontDrain(accept_grace_s=0.2, graceful_timeout_s=0.3, end_waits=ended)
    async with trio.open_nursery() as nursery:
        await nursery.start(drain.run)
        assert not drain.draining.is_set()
        started = trio.current_time()
        terminate_me()
        await drain.draining.wait()
        assert not drain.stop_accepting.is_set()
        assert drain.in_flight.admitting
        await drain.stop_accepting.wait()
        assert trio.current_time() - started >= 0.2
        assert not drain.in_flight.admitting  # refused from the moment it stops accepting
    assert ended.calls == 1
    assert ended.at is not None and ended.at - started >= 0.5


async def test_a_second_signal_ends_the_grace_at_once() -> None:
    ended = Ended()
    drain = FrontDrain(accept_grace_s=30, graceful_timeout_s=30, end_waits=ended)
    with trio.fail_after(10):  # far below the 60 s the graces would take
        async with trio.open_nursery() as nursery:
            await nursery.start(drain.run)
            terminate_me()
            await drain.draining.wait()
            terminate_me()
    assert drain.stop_accepting.is_set()
    assert ended.calls == 1


async def test_in_flight_counts_admitted_requests_and_wakes_when_none_is_left() -> None:
    in_flight = InFlight()
    assert in_flight.admit() and in_flight.admit()
    assert in_flight.count == 2
    idle = trio.Event()

    async def wait() -> None:
        await in_flight.wait_idle()
        idle.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        in_flight.leave()
        await trio.testing.wait_all_tasks_blocked()
        assert not idle.is_set()
        in_flight.leave()
    assert idle.is_set()
    in_flight.admitting = False
    assert not in_flight.admit()
    assert in_flight.count == 0
    await in_flight.wait_idle()  # nothing in flight: returns at once


@pytest.mark.parametrize(("accept", "grace"), [(0.0, 10.0), (5.0, 2.5)])
def test_the_budget_covers_both_graces_and_the_answers(accept: float, grace: float) -> None:
    config = FrontConfig(accept_grace_s=accept, graceful_timeout_s=grace)
    assert drain_budget_s(config) == accept + grace + ANSWER_MARGIN_S
