"""A child that cannot even be spawned (no memory to fork, no process or descriptor left, no
executable) is the slot's problem, never the fleet's: a first start fails cleanly with
``ChildStartError`` (``up`` exits, a grow logs and moves on), a restart is a quick death,
backed off and tried again. Real processes; the failing spawn is a command line naming a file
that is not executable, which makes ``Popen`` raise ``OSError`` just as a failed fork does."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio
from structlog.testing import capture_logs

from supervisor.child_slot import ChildExit, ChildSlot, ChildStartError, SlotState
from supervisor.restart_policy import RestartPolicy
from supervisor.worker_pool import WorkerPool
from tests.fixtures.waiting import wait_until_async

# Reports ready on its pipe, then exits at once (a quick death the slot restarts).
READY_THEN_EXIT = (
    "import os, sys; "
    'os.write(int(sys.argv[1]), b\'{"role":"worker","id":"\' + sys.argv[2].encode() + b\'"}\\n\')'
)


def good_argv(child_id: str) -> list[str]:
    return [sys.executable, "-c", READY_THEN_EXIT, "{ready_fd}", child_id]


@pytest.fixture
def not_executable(tmp_path: Path) -> str:
    path = tmp_path / "not-a-program"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o644)
    return str(path)


async def _ignore(_exit: ChildExit) -> None:
    return


def _slot(make_argv: Callable[[str], Sequence[str]], index: int = 0) -> ChildSlot:
    return ChildSlot(
        "worker",
        index,
        make_argv=make_argv,
        on_exit=_ignore,
        policy=RestartPolicy(max_backoff_s=0.2, base_s=0.01),
        ready_timeout_s=10.0,
    )


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with capture_logs() as captured:
        yield captured
    structlog.reset_defaults()


async def test_a_first_start_that_cannot_spawn_is_a_clean_start_error(not_executable: str) -> None:
    slot = _slot(lambda _child_id: [not_executable])
    async with trio.open_nursery() as nursery:
        with pytest.raises(ChildStartError, match="could not be spawned"):
            await nursery.start(slot.run)
    assert slot.child is None


async def test_a_restart_that_cannot_spawn_backs_off_and_tries_again(
    not_executable: str, logs: list[MutableMapping[str, Any]]
) -> None:
    # First child: ready, then exits; the next two spawns fail; then they succeed again.
    asked: list[str] = []

    def make_argv(child_id: str) -> list[str]:
        asked.append(child_id)
        return [not_executable] if len(asked) in (2, 3) else good_argv(child_id)

    slot = _slot(make_argv)
    async with trio.open_nursery() as nursery:
        await nursery.start(slot.run)
        # Two failed spawns, then real restarts again.
        await wait_until_async(lambda: len(asked) >= 5, deadline_s=20, what="restarts resumed")
        await slot.stop(5.0)
    failures = [e for e in logs if e["event"] == "child.spawn_failed"]
    assert [f["child_id"] for f in failures] == asked[1:3]
    assert all("Permission denied" in str(f["error"]) for f in failures)
    # Backed off like quick deaths: the delay doubles.
    assert [f["consecutive_deaths"] for f in failures] == [2, 3]
    assert slot.restarts >= 4
    assert slot.state is SlotState.STOPPED


async def test_a_pool_grow_that_cannot_spawn_logs_and_keeps_the_pool(
    not_executable: str, logs: list[MutableMapping[str, Any]]
) -> None:
    def make_slot(index: int) -> ChildSlot:
        return _slot(good_argv if index == 0 else lambda _c: [not_executable], index)

    async def no_tasks(_child_id: str) -> None:
        return

    pool = WorkerPool(
        make_slot, minimum=1, maximum=3, retire_budget_s=5.0, wait_tasks_done=no_tasks
    )
    async with trio.open_nursery() as nursery:
        await pool.start(nursery)
        assert await pool.grow(2) == 0
        assert len(pool) == 1
        await pool.stop_all(5.0)
    assert sum(e["event"] == "worker.start_failed" for e in logs) == 2
