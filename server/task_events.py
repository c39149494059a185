"""Task status events for one front (ADR-0011): the fleet's task events channel, watched on
the front's one pub/sub connection and handed to what waits on a task here.

Every status change of a task (``TASK_TRANSITION``, ``TASK_ANSWER``) and every progress
write publishes ``<task id> <status>`` on ``Keyspace.task_events()``. Two consumers:

- **Waiters** (2025-11-25 ``tasks/result``): :meth:`TaskEvents.waiter` registers a task id;
  an event for that id, and only for it, wakes the waiter, which re-reads the record. A
  burst of progress events for other tasks costs a dict lookup each.
- **Owner streams** (2025-11-25 GET streams, stdio connections): :meth:`TaskEvents.owned`
  takes the events of tasks owned by one owner. The channel does not say whose a task is,
  so while at least one owner stream is open, each event costs one ``HGET`` of the
  record's owner; with none open, nothing is read.

Gaps: pub/sub is at-most-once. After a gap (the subscription reconnected, or this front fell
a whole queue behind) every waiter is woken to re-read its record, and every owner stream
is told (``None``), so that none waits on an event that will never come. Waiters also
re-read on a slow backstop interval of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import structlog
import trio

from proto import (
    BackendUnavailableError,
    Keyspace,
    RedisCommandError,
    ShuttingDownError,
    TaskField,
    TaskStatus,
)
from server.redis_client import RedisClient
from server.redis_subscriber import RedisSubscriber

__all__ = ["OWNED_QUEUE", "OwnedEvents", "TaskEvent", "TaskEvents", "TaskWaiter"]

log = structlog.get_logger()

OWNED_QUEUE: Final = 256
"""Events an owner stream holds before it is told of a gap instead."""

TaskEvent = tuple[str, TaskStatus]
"""A task id and the status its record was written with."""


class TaskWaiter:
    """Wakes when an event names one task (or after a gap)."""

    __slots__ = ("_ended", "_woken")

    def __init__(self, *, ended: bool = False) -> None:
        self._woken = trio.Event()
        self._ended = ended

    def wake(self) -> None:
        self._woken.set()

    def end(self) -> None:
        """The front's grace period is over: the wait ends, with :class:`ShuttingDownError`."""
        self._ended = True
        self._woken.set()

    async def wait(self, timeout_s: float) -> None:
        """Until an event for the task (or a gap) since the last wait, or ``timeout_s``.

        Raises:
            ShuttingDownError: the wait was ended (:meth:`end`).

        Cancellation: safe; nothing is lost (the next wait returns at once if woken).
        """
        if not self._ended:
            with trio.move_on_after(timeout_s):
                await self._woken.wait()
            self._woken = trio.Event()
        if self._ended:
            raise ShuttingDownError


class OwnedEvents:
    """The events of one owner's tasks, in arrival order; None after a gap."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._in, self._out = trio.open_memory_channel[TaskEvent | None](OWNED_QUEUE)
        self._lost = False

    def deliver(self, event: TaskEvent | None) -> None:
        try:
            self._in.send_nowait(event)
        except trio.WouldBlock:
            self._lost = True

    async def receive(self) -> TaskEvent | None:
        """The next event of the owner's tasks, or None when some may have been lost."""
        if self._lost:
            self._lost = False
            return None
        return await self._out.receive()


class TaskEvents:
    """The task events channel as this front's consumers see it (module docstring).

    Args:
        redis: the front's Redis client (a task's owner).
        keys: the fleet's key schema.
        subscriber: the front's pub/sub connection (the channel is watched on it).
    """

    def __init__(self, *, redis: RedisClient, keys: Keyspace, subscriber: RedisSubscriber) -> None:
        self._redis = redis
        self._keys = keys
        self._subscriber = subscriber
        self._waiters: dict[str, set[TaskWaiter]] = {}
        self._owned: set[OwnedEvents] = set()
        self.gaps = 0
        self._ended = False

    @contextmanager
    def waiter(self, task_id: str) -> Iterator[TaskWaiter]:
        """Wake on events of ``task_id`` for the duration of the block; every event
        published after entering wakes it."""
        waiter = TaskWaiter(ended=self._ended)
        self._waiters.setdefault(task_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(task_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[task_id]

    def end_waits(self) -> int:
        """The front's grace period is over: every waiter's wait, now and from now on,
        raises :class:`ShuttingDownError` (its client is answered). Returns how many
        waiters were waiting."""
        self._ended = True
        ended = 0
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.end()
                ended += 1
        return ended

    @contextmanager
    def owned(self, owner: str) -> Iterator[OwnedEvents]:
        """Take the events of tasks ``owner`` owns for the duration of the block."""
        events = OwnedEvents(owner)
        self._owned.add(events)
        try:
            yield events
        finally:
            self._owned.discard(events)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch the channel until cancelled; ready once the watch is confirmed.

        Raises:
            BackendUnavailableError: Redis did not confirm the watch at start.

        Cancellation: the watch is dropped; nothing is left behind in Redis.
        """
        async with self._subscriber.watch(self._keys.task_events()) as watch:
            task_status.started()
            while True:
                payload = await watch.receive()
                if payload is None:
                    self._on_gap()
                    continue
                event = _decode(payload)
                if event is not None:
                    await self._on_event(event)

    async def _on_event(self, event: TaskEvent) -> None:
        task_id, _ = event
        for waiter in self._waiters.get(task_id, ()):
            waiter.wake()
        if not self._owned:
            return
        owner = await self._owner(task_id)
        if owner is None:
            return
        for events in list(self._owned):
            if events.owner == owner:
                events.deliver(event)

    async def _owner(self, task_id: str) -> str | None:
        try:
            owner = await self._redis.execute(
                "HGET", self._keys.task(task_id), TaskField.OWNER.value
            )
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("task_events.owner_unread", task_id=task_id, error=str(exc))
            return None
        return owner.decode() if isinstance(owner, bytes) else None

    def _on_gap(self) -> None:
        self.gaps += 1
        log.info("task_events.gap", waiting=len(self._waiters), streams=len(self._owned))
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.wake()
        for events in self._owned:
            events.deliver(None)


def _decode(payload: bytes) -> TaskEvent | None:
    """``<task id> <status>``; None (logged) for anything else."""
    task_id, _, status = payload.decode(errors="replace").partition(" ")
    try:
        return task_id, TaskStatus(status)
    except ValueError:
        log.error("task_events.undecodable", payload=payload[:200])
        return None
