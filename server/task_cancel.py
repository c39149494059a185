"""Cancelling a durable task (ADR-0011), one code path for a front's ``tasks/cancel`` and the
operator's ``mcpfleet tasks cancel``: the record moves to ``cancelled`` (with ``cancel="1"``)
through ``TASK_TRANSITION``, which never moves a task that has ended, and only when it moved
is ``CancelTask`` appended to the broadcast stream (ADR-0004) for the worker running it.
"""

from __future__ import annotations

import time

import structlog

from proto import (
    CALL_PAYLOAD_FIELD,
    CANCEL_STREAM_MAXLEN,
    TASK_TRANSITION,
    BackendUnavailableError,
    CancelTask,
    Keyspace,
    TaskField,
    TaskStatus,
    encode_wire,
)
from server.redis_client import RedisClient, RedisCommandError

__all__ = ["cancel_task"]

log = structlog.get_logger()


async def cancel_task(redis: RedisClient, keys: Keyspace, task_id: str) -> bool:
    """Move task ``task_id`` to ``cancelled`` unless it has ended (or is gone), then tell the
    worker running it. Ownership is the caller's to check.

    Returns:
        Whether the task moved now.

    Raises:
        BackendUnavailableError: Redis did not answer.
    """
    try:
        moved = await redis.run_script(
            TASK_TRANSITION,
            [keys.task(task_id)],
            [
                keys.task_events(), task_id, TaskStatus.CANCELLED.value,
                time.time_ns() // 1_000_000, "0", TaskField.CANCEL_REQUESTED.value, "1",
            ],
        )  # fmt: skip
        if moved != 1:
            return False
        await redis.execute(
            "XADD", keys.cancel_stream(), "MAXLEN", "~", CANCEL_STREAM_MAXLEN, "*",
            CALL_PAYLOAD_FIELD, encode_wire(CancelTask(task_id)),
        )  # fmt: skip
    except RedisCommandError as exc:
        raise BackendUnavailableError(f"Redis refused the task's cancellation: {exc}") from None
    log.info("task.cancelled", task_id=task_id)
    return True
