"""The fleet's worker slots: how many run, and adding or retiring one while the fleet runs.

The pool starts ``minimum`` slots and never holds more than ``maximum``, except for the
moment a worker is recycled: its replacement starts (and reports ready) before the old one
drains, so capacity never dips. A retired slot (recycled or scaled down) leaves the pool at
once (it is no longer counted or offered work by the supervisor) and its child drains
without dropping anything (ADR-0014): SIGWINCH first (it takes no more tasks from the
queue, still serves calls), then, once its heartbeat shows no task running, SIGUSR2 (it
takes no new call and lets those it holds run to their own deadlines), SIGKILL only past
the retire budget (the app's longest call timeout plus a margin).
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import structlog
import trio

from supervisor.child_slot import ChildSlot, ChildStartError, ExitReason, SlotState

__all__ = ["WorkerPool"]

log = structlog.get_logger()


class WorkerPool:
    """The worker slots of one fleet.

    Args:
        make_slot: a new slot for a worker at the given index (indexes are never reused,
            so a worker's id says which slot it ran in).
        minimum: slots started at once and kept while the fleet runs.
        maximum: most slots at a time.
        retire_budget_s: how long a retired worker may take to finish its tasks, and
            then its calls, before it is stopped (SIGUSR2), then killed.
        wait_tasks_done: returns once the worker with that id runs no task.
    """

    def __init__(
        self,
        make_slot: Callable[[int], ChildSlot],
        *,
        minimum: int,
        maximum: int,
        retire_budget_s: float,
        wait_tasks_done: Callable[[str], Awaitable[None]],
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"worker pool bounds must satisfy 1 <= {minimum} <= {maximum}")
        self._make_slot = make_slot
        self.minimum = minimum
        self.maximum = maximum
        self._retire_budget_s = retire_budget_s
        self._wait_tasks_done = wait_tasks_done
        self._next_index = 0
        self._nursery: trio.Nursery | None = None
        self.slots: list[ChildSlot] = []
        self.retiring: list[ChildSlot] = []
        self._retired: dict[ChildSlot, trio.Event] = {}  # set once its retire is done

    async def start(self, nursery: trio.Nursery) -> None:
        """Start ``minimum`` workers in ``nursery``, side by side, and wait until each
        reported ready.

        Raises:
            ChildStartError: a worker never became ready (the fleet cannot start).
        """
        self._nursery = nursery
        async with trio.open_nursery() as starting:
            for _ in range(self.minimum):
                starting.start_soon(self._add)

    def __len__(self) -> int:
        return len(self.slots)

    def find(self, child_id: str) -> ChildSlot | None:
        """The slot (retiring ones included) whose current child is ``child_id``."""
        for slot in (*self.slots, *self.retiring):
            if slot.child_id == child_id:
                return slot
        return None

    def count(self, state: SlotState) -> int:
        """How many slots of the pool are in ``state`` (retiring ones are ``draining``)."""
        if state is SlotState.DRAINING:
            return len(self.retiring) + sum(s.state is state for s in self.slots)
        return sum(s.state is state for s in self.slots)

    async def grow(
        self, count: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> int:
        """Add up to ``count`` workers (never past ``maximum``), started together; returns
        how many became ready. A worker that fails to start is logged and not counted:
        the pool stays as it was.

        With ``nursery.start``, returns to the starter as soon as the new slots are in
        :attr:`slots` (``starting``), with how many there are.
        """
        slots = [self._new_slot() for _ in range(min(count, self.maximum - len(self.slots)))]
        task_status.started(len(slots))
        added = 0

        async def start(slot: ChildSlot) -> None:
            nonlocal added
            if await self._try_start(slot):
                added += 1

        async with trio.open_nursery() as nursery:
            for slot in slots:
                nursery.start_soon(start, slot)
        return added

    async def shrink(
        self, slot: ChildSlot, *, task_status: trio.TaskStatus[bool] = trio.TASK_STATUS_IGNORED
    ) -> bool:
        """Retire ``slot`` (never below ``minimum``): returns False if the pool is at its
        minimum or the slot is not in it, else True once its child drained.

        With ``nursery.start``, returns to the starter as soon as the slot left
        :attr:`slots`, with whether it did.
        """
        if len(self.slots) <= self.minimum or slot not in self.slots:
            task_status.started(False)
            return False
        await self.retire(slot, ExitReason.STOPPED, task_status=task_status)
        return True

    async def replace(self, slot: ChildSlot) -> bool:
        """Recycle ``slot``: a new worker starts first, then the old one drains. Returns
        False (and leaves the old one) if the new one did not start."""
        if slot not in self.slots or not await self._try_add():
            return False
        if slot in self.slots:  # it may have been retired while its replacement started
            await self.retire(slot, ExitReason.RECYCLED)
        return True

    async def retire(
        self,
        slot: ChildSlot,
        reason: ExitReason,
        *,
        task_status: trio.TaskStatus[bool] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Take ``slot`` out of the pool and drain its child (module docstring: its tasks,
        then its calls, each within the retire budget); with ``nursery.start``, returns to
        the starter once the slot is out of :attr:`slots`."""
        self.slots.remove(slot)
        self.retiring.append(slot)
        self._retired[slot] = done = trio.Event()
        task_status.started(True)
        log.info("worker.retiring", child_id=slot.child_id, reason=reason.value)
        try:
            # Shielded, and bounded by the drain budget (then SIGKILL): a caller cancelled
            # mid-retire (the fleet stopping) must not leave a draining child unwatched.
            with trio.CancelScope(shield=True):
                await self._drain_tasks(slot)
                await slot.stop(self._retire_budget_s, reason, signal.SIGUSR2)
        finally:
            self.retiring.remove(slot)
            del self._retired[slot]
            done.set()

    async def _drain_tasks(self, slot: ChildSlot) -> None:
        """Stop ``slot``'s child taking tasks, and wait (within the budget) until the ones
        it runs are done: a task running when its worker stops may fail."""
        child, child_id = slot.child, slot.child_id
        if child is None or child_id is None:
            return
        child.signal(signal.SIGWINCH)
        with trio.move_on_after(self._retire_budget_s) as waited:
            await self._wait_tasks_done(child_id)
        if waited.cancelled_caught:
            log.warning("worker.tasks_still_running", child_id=child_id)

    async def stop_all(self, timeout_s: float) -> None:
        """Stop every worker at once (fleet shutdown), each within ``timeout_s``; returns
        once every one is down, retiring ones included, so the fleet's second-signal path
        covers them all along."""
        async with trio.open_nursery() as nursery:
            for slot in self.slots:
                nursery.start_soon(slot.stop, timeout_s)
            for slot, done in list(self._retired.items()):
                nursery.start_soon(self._stop_retiring, slot, done, timeout_s)

    @staticmethod
    async def _stop_retiring(slot: ChildSlot, done: trio.Event, timeout_s: float) -> None:
        """A retire may wait long (its tasks, then its calls, each up to the longest tool
        timeout); a fleet stop bounds it by the shutdown's budget: SIGTERM now (the worker
        drains as at any shutdown), SIGKILL once ``timeout_s`` is over. The exit keeps the
        retire's reason unless it had to be killed."""
        child = slot.child
        if child is not None:
            child.signal(signal.SIGTERM)
        with trio.move_on_after(timeout_s):
            await done.wait()
            return
        log.warning("worker.retire_cut_short", child_id=slot.child_id, after_s=timeout_s)
        slot.kill()
        await done.wait()

    def kill_all(self) -> None:
        """Second-signal path: SIGKILL every worker."""
        for slot in (*self.slots, *self.retiring):
            slot.kill()

    async def _try_add(self) -> bool:
        return await self._try_start(self._new_slot())

    async def _try_start(self, slot: ChildSlot) -> bool:
        try:
            await self._start(slot)
        except ChildStartError as exc:
            log.error("worker.start_failed", error=str(exc))
            return False
        return True

    async def _add(self) -> ChildSlot:
        slot = self._new_slot()
        await self._start(slot)
        return slot

    def _new_slot(self) -> ChildSlot:
        """A new slot, counted in :attr:`slots` (``starting``) from now on."""
        if self._nursery is None:
            raise RuntimeError("the pool has not started")
        slot = self._make_slot(self._next_index)
        self._next_index += 1
        self.slots.append(slot)
        return slot

    async def _start(self, slot: ChildSlot) -> None:
        """Run ``slot`` in the pool's nursery, returning once its child is ready; a slot
        whose child never got ready leaves the pool."""
        if self._nursery is None:
            raise RuntimeError("the pool has not started")
        try:
            await self._nursery.start(slot.run)
        except BaseException:
            self.slots.remove(slot)
            raise
