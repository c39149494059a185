"""Admitting a durable task in the thread that creates it (ADR-0017): ``ADMIT`` through
redis-py, right before the creating transaction (``server/task_store.py``), and the
caller's task slots kept true to its tasks.

A slot is taken atomically by ``ADMIT`` and released lazily: the task record is the truth.
A caller refused at ``limits.max_tasks_per_principal`` has the tasks of its slots read in
one pipeline; the slots whose task ended (completed, failed, cancelled), or whose record is
gone (it expired) past a creation grace, are freed and the task asked for again, once.
Every way a task ends thus frees its slot, whoever ended it, at a cost paid only at the
bound. Runs in a worker thread: no trio here.
"""

from __future__ import annotations

from typing import Final

import redis
import structlog

from proto import ADMIT, AdmitRefusal, Keyspace, RejectionReason, TaskField
from server.admission import AdmitCommand

__all__ = ["CREATING_MS", "TaskAdmission"]

log = structlog.get_logger()

CREATING_MS: Final = 10_000
"""A task slot younger than this whose task has no record yet is a creation in progress
(admission and creation run back to back in one thread, milliseconds apart; redis-py
gives up on a command after ``front.redis_command_timeout_s``, 5 s by default)."""


class TaskAdmission:
    """``ADMIT`` for tasks, with redis-py, in the creating thread.

    Args:
        client: the front's redis-py client (use it only in threads holding its limiter).
        keys: the fleet's key schema.
    """

    def __init__(self, client: redis.Redis, keys: Keyspace) -> None:
        self._client = client
        self._keys = keys

    def admit(self, admit: AdmitCommand, task_id: str) -> AdmitRefusal | None:
        """Admit the task ``task_id``: its refusal, or None once admitted (its slot
        taken, its buckets charged).

        Raises:
            redis.RedisError: Redis refused or did not answer.
            LocalProtocolError: the script answered what it never answers.
        """
        verdict = admit.read(self._run(admit, task_id))
        if isinstance(verdict, AdmitRefusal) and verdict.reason is RejectionReason.TOO_MANY_TASKS:
            ended = self._ended_slots(verdict)
            if ended:
                self._client.zrem(admit.slots, *ended)
                verdict = admit.read(self._run(admit, task_id))
        return verdict if isinstance(verdict, AdmitRefusal) else None

    def release(self, slots: str, task_id: str) -> None:
        """Give back the slot of a task whose creation failed; best effort (a slot left
        behind is freed at the caller's bound once :data:`CREATING_MS` passed)."""
        try:
            self._client.zrem(slots, task_id)
        except redis.RedisError as exc:
            log.warning("task.slot_not_released", error=str(exc))

    def _run(self, admit: AdmitCommand, task_id: str) -> object:
        args = [*admit.keys, *admit.argv_with(task_id)]
        try:
            return self._client.evalsha(ADMIT.sha, len(admit.keys), *args)
        except redis.exceptions.NoScriptError:
            return self._client.eval(ADMIT.source, len(admit.keys), *args)

    def _ended_slots(self, refusal: AdmitRefusal) -> list[str]:
        """The caller's slots whose task no longer counts: one pipelined read of every
        held task's status."""
        with self._client.pipeline(transaction=False) as pipe:
            for task_id, _admitted in refusal.held:
                pipe.hget(self._keys.task(task_id), TaskField.STATUS.value)
            statuses = pipe.execute()
        found = [status if isinstance(status, bytes) else None for status in statuses]
        return refusal.ended_slots(found, creating_ms=CREATING_MS)
