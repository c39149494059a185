"""The fleet's worker slots: how many run, and adding or retiring one while the fleet runs.

The pool starts ``minimum`` slots and never holds more than ``maximum``, except for the
moment a worker is recycled: its replacement starts (and reports ready) before the old one
drains, so capacity never dips. A retired slot leaves the pool at once (it is no longer
counted or offered work by the supervisor) and its child drains within its budget: a
worker stopped with SIGTERM takes no new call and finishes those it holds.
"""

from __future__ import annotations

from collections.abc import Callable

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
        drain_budget_s: how long a retired worker may take to finish its calls before
            it is killed.
    """

    def __init__(
        self,
        make_slot: Callable[[int], ChildSlot],
        *,
        minimum: int,
        maximum: int,
        drain_budget_s: float,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"worker pool bounds must satisfy 1 <= {minimum} <= {maximum}")
        self._make_slot = make_slot
        self.minimum = minimum
        self.maximum = maximum
        self._drain_budget_s = drain_budget_s
        self._next_index = 0
        self._nursery: trio.Nursery | None = None
        self.slots: list[ChildSlot] = []
        self.retiring: list[ChildSlot] = []

    async def start(self, nursery: trio.Nursery) -> None:
        """Start ``minimum`` workers in ``nursery`` and wait until each reported ready.

        Raises:
            ChildStartError: a worker never became ready (the fleet cannot start).
        """
        self._nursery = nursery
        for _ in range(self.minimum):
            await self._add()

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

    async def grow(self, count: int) -> int:
        """Add up to ``count`` workers (never past ``maximum``), each once it is ready;
        returns how many were added. A worker that fails to start is logged and not
        counted: the pool stays as it was.
        """
        added = 0
        while added < count and len(self.slots) < self.maximum:
            if not await self._try_add():
                break
            added += 1
        return added

    async def shrink(self, slot: ChildSlot) -> bool:
        """Retire ``slot`` (never below ``minimum``): returns False if the pool is at its
        minimum or the slot is not in it."""
        if len(self.slots) <= self.minimum or slot not in self.slots:
            return False
        await self.retire(slot, ExitReason.STOPPED)
        return True

    async def replace(self, slot: ChildSlot) -> bool:
        """Recycle ``slot``: a new worker starts first, then the old one drains. Returns
        False (and leaves the old one) if the new one did not start."""
        if slot not in self.slots or not await self._try_add():
            return False
        if slot in self.slots:  # it may have been retired while its replacement started
            await self.retire(slot, ExitReason.RECYCLED)
        return True

    async def retire(self, slot: ChildSlot, reason: ExitReason) -> None:
        """Take ``slot`` out of the pool and drain its child (SIGTERM, then SIGKILL after
        the drain budget)."""
        self.slots.remove(slot)
        self.retiring.append(slot)
        log.info("worker.retiring", child_id=slot.child_id, reason=reason.value)
        try:
            # Shielded, and bounded by the drain budget (then SIGKILL): a caller cancelled
            # mid-retire (the fleet stopping) must not leave a draining child unwatched.
            with trio.CancelScope(shield=True):
                await slot.stop(self._drain_budget_s, reason)
        finally:
            self.retiring.remove(slot)

    async def stop_all(self, timeout_s: float) -> None:
        """Stop every worker at once (fleet shutdown), each within ``timeout_s``."""
        async with trio.open_nursery() as nursery:
            for slot in self.slots:
                nursery.start_soon(slot.stop, timeout_s)

    def kill_all(self) -> None:
        """Second-signal path: SIGKILL every worker."""
        for slot in (*self.slots, *self.retiring):
            slot.kill()

    async def _try_add(self) -> bool:
        try:
            await self._add()
        except ChildStartError as exc:
            log.error("worker.start_failed", error=str(exc))
            return False
        return True

    async def _add(self) -> ChildSlot:
        if self._nursery is None:
            raise RuntimeError("the pool has not started")
        slot = self._make_slot(self._next_index)
        self._next_index += 1
        self.slots.append(slot)
        try:
            await self._nursery.start(slot.run)
        except BaseException:
            self.slots.remove(slot)
            raise
        return slot
