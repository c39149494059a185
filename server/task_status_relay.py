"""2025-11-25 ``notifications/tasks/status`` (mcp-protocol.md 10.1: optional, the Task's
fields flat, no related-task ``_meta``): sent on an owner's unsolicited channel (a session's
standalone GET stream, a stdio connection) when one of its tasks changes status.

Events come from :class:`server.task_events.TaskEvents`. A progress write publishes the
status the task already has, so an event whose status equals the last one sent for its task
(``working`` for a task not heard of yet: every task starts so, and the client learnt it
from ``CreateTaskResult``) is dropped without reading anything; otherwise the record is read
once and its status sent if it differs. After a gap, the tasks this relay has heard of and
that have not ended are re-read; a task first heard of during a gap is not (its next change,
or the client's ``tasks/get``, tells it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager

import structlog

from proto import (
    TERMINAL_STATUSES,
    BackendUnavailableError,
    RedisCommandError,
    TaskStatus,
    legacy_task,
    legacy_task_status_notification,
)
from server.task_events import OwnedEvents, TaskEvents
from server.task_store import TaskStore

__all__ = ["TaskStatusRelay"]

log = structlog.get_logger()

SendNotification = Callable[[bytes], Awaitable[None]]


class TaskStatusRelay:
    """Relays status changes of an owner's tasks as ``notifications/tasks/status``.

    Args:
        events: the front's task events.
        store: where tasks are.
    """

    def __init__(self, events: TaskEvents, store: TaskStore) -> None:
        self._events = events
        self._store = store

    def watch(self, owner: str) -> AbstractContextManager[OwnedEvents]:
        """Take the events of ``owner``'s tasks for the duration of the block (entered
        before a stream is answered, so no change after that is missed); :meth:`relay`
        them."""
        return self._events.owned(owner)

    async def relay(self, events: OwnedEvents, send: SendNotification) -> None:
        """Send a notification for each status change of the watched owner's tasks,
        until cancelled.

        Cancellation: safe; nothing is left behind.
        """
        sent: dict[str, TaskStatus] = {}
        while True:
            event = await events.receive()
            if event is None:
                ongoing = [t for t, status in sent.items() if status not in TERMINAL_STATUSES]
                for task_id in ongoing:
                    await self._check(events.owner, task_id, sent, send)
                continue
            task_id, status = event
            if status is not sent.get(task_id, TaskStatus.WORKING):
                await self._check(events.owner, task_id, sent, send)

    async def _check(
        self, owner: str, task_id: str, sent: dict[str, TaskStatus], send: SendNotification
    ) -> None:
        """Read the task; send its status if it differs from the last one sent."""
        try:
            record = await self._store.peek(task_id, owner)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("task_status.unread", task_id=task_id, error=str(exc))
            return
        if record is None or record.status is sent.get(task_id, TaskStatus.WORKING):
            return
        sent[task_id] = record.status
        log.info("task_status.sent", task_id=task_id, status=record.status.value)
        await send(legacy_task_status_notification(legacy_task(record)))
