"""A worker's reads and writes of a durable task's record (ADR-0011): read it whole, and move
it through ``TASK_TRANSITION`` — the only writer of its status, which never moves a task that
has ended and never brings back one that expired."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping
from typing import Final

import structlog

from proto import (
    TASK_TRANSITION,
    BackendUnavailableError,
    Keyspace,
    RedisArg,
    RedisCommandError,
    TaskField,
    TaskStatus,
)
from workers.redis_connection import AsyncRedis

__all__ = ["TaskRecords", "Transition"]

log = structlog.get_logger()

_ATTEMPTS: Final = 5
"""Tries of a write Redis did not take (backoff 0.1 s doubling: about 3 s in all)."""


class Transition(enum.IntEnum):
    """``TASK_TRANSITION``'s answer."""

    MOVED = 1
    ENDED = 0
    """The task had ended already: nothing changed."""
    MISSING = -1
    """No such task (expired)."""


class TaskRecords:
    """Task records in the fleet's Redis, for one worker process.

    Args:
        redis: the worker's command connection.
        keys: the fleet's key schema.
    """

    def __init__(self, redis: AsyncRedis, keys: Keyspace) -> None:
        self._redis = redis
        self._keys = keys

    async def read(self, task_id: str) -> dict[bytes, bytes]:
        """The record's fields (empty when it is gone).

        Raises:
            BackendUnavailableError, RedisCommandError: Redis did not answer it.
        """
        reply = await self._redis.execute("HGETALL", self._keys.task(task_id))
        assert isinstance(reply, list)
        flat = [item for item in reply if isinstance(item, bytes)]
        return dict(zip(flat[::2], flat[1::2], strict=True))

    async def transition(
        self,
        task_id: str,
        status: TaskStatus | None,
        *,
        count_run: bool = False,
        fields: Mapping[TaskField, str] | Mapping[str, str] | None = None,
    ) -> Transition:
        """Move the task to ``status`` (None: keep its status) and set ``fields`` (a
        ``TaskField`` or a field named by a prefix such as ``request:<key>``; an empty value
        deletes one), unless it ended or expired; a write Redis does not take is tried
        again a few times.

        Raises:
            BackendUnavailableError, RedisCommandError: Redis did not take it in the end.
        """
        args: list[RedisArg] = [
            1,
            self._keys.task(task_id),
            self._keys.task_events(),
            task_id,
            "" if status is None else status.value,
            int(time.time() * 1000),
            "1" if count_run else "0",
        ]
        for field, value in (fields or {}).items():
            args += [str(field), value]
        backoff_s = 0.1
        for attempt in range(_ATTEMPTS):
            try:
                return Transition(await self._eval(args))
            except RedisCommandError as exc:
                if not exc.is_transient or attempt == _ATTEMPTS - 1:
                    raise
                log.warning("task.write_failed", error=str(exc), retry_in_s=backoff_s)
            except BackendUnavailableError as exc:
                if attempt == _ATTEMPTS - 1:
                    raise
                log.warning("task.write_failed", error=str(exc), retry_in_s=backoff_s)
            await asyncio.sleep(backoff_s)
            backoff_s *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def _eval(self, args: list[RedisArg]) -> int:
        try:
            reply = await self._redis.execute("EVALSHA", TASK_TRANSITION.sha, *args)
        except RedisCommandError as exc:
            if "NOSCRIPT" not in str(exc):
                raise
            # First use since Redis started: send the script itself (Redis caches it).
            reply = await self._redis.execute("EVAL", TASK_TRANSITION.source, *args)
        assert isinstance(reply, int)
        return reply
