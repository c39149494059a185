"""The pool's stop covers the workers it is retiring (scaled down, recycled), not only those
in it: ``stop_all`` returns once they are down too, so the fleet's second-signal path
(``kill_all``) still reaches one draining a long call. Real child processes."""

from __future__ import annotations

import signal
import sys

import trio
import trio.testing

from supervisor.child_slot import ChildExit, ChildSlot, ExitReason, SlotState
from supervisor.restart_policy import RestartPolicy
from supervisor.worker_pool import WorkerPool
from tests.fixtures.waiting import wait_until_async

# Reports ready, then waits for a signal; with "stubborn", neither SIGTERM nor SIGUSR2 (a
# retire) ends it (a worker still draining a long call), so only SIGKILL does.
CHILD = (
    "import os, signal, sys\n"
    "if sys.argv[3] == 'stubborn':\n"
    "    for sig in (signal.SIGTERM, signal.SIGUSR2): signal.signal(sig, signal.SIG_IGN)\n"
    'os.write(int(sys.argv[1]), b\'{"role":"worker","id":"\' + sys.argv[2].encode() + b\'"}\\n\')\n'
    "while True: signal.pause()\n"
)


async def test_stop_all_waits_for_retiring_workers_and_kill_all_ends_them() -> None:
    exits: list[ChildExit] = []

    async def on_exit(ended: ChildExit) -> None:
        exits.append(ended)

    def make_slot(index: int) -> ChildSlot:
        mode = "stubborn" if index == 1 else "polite"
        return ChildSlot(
            "worker",
            index,
            make_argv=lambda child_id: [sys.executable, "-c", CHILD, "{ready_fd}", child_id, mode],
            on_exit=on_exit,
            policy=RestartPolicy(max_backoff_s=0.2),
            ready_timeout_s=10.0,
        )

    async def no_tasks(_child_id: str) -> None:
        return

    pool = WorkerPool(
        make_slot, minimum=1, maximum=2, retire_budget_s=120.0, wait_tasks_done=no_tasks
    )
    stopped = False
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await pool.start(nursery)
            assert await pool.grow(1) == 1
            polite, stubborn = pool.slots
            assert await nursery.start(pool.retire, stubborn, ExitReason.STOPPED)
            stubborn_pid = stubborn.pid
            assert stubborn_pid is not None

            async def stop() -> None:
                nonlocal stopped
                await pool.stop_all(5.0)
                stopped = True

            nursery.start_soon(stop)
            await wait_until_async(
                lambda: polite.state is SlotState.STOPPED, deadline_s=10, what="polite stopped"
            )
            await trio.testing.wait_all_tasks_blocked()
            # The retiring worker still drains (the stop gives it 5 s): not stopped yet.
            assert not stopped
            assert pool.retiring == [stubborn]
            # The second signal: every worker ends now, the retiring one included.
            pool.kill_all()
            await wait_until_async(lambda: stopped, deadline_s=10, what="stop_all returned")
    assert pool.retiring == []
    ended = {e.pid: e for e in exits}
    assert ended[stubborn_pid].code == -signal.SIGKILL
    assert ended[stubborn_pid].reason is ExitReason.STOPPED
