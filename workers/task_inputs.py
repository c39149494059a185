"""Asking the client for input from a durable task (ADR-0011 addendum): the requests are kept
in the task's record and the handler waits, alive, for the answers.

A task's handler asks through its context exactly as a call's does (``ctx.elicit``,
``ctx.sample``, ``ctx.list_roots``, ``ctx.ask``). :class:`TaskInputs` writes each request
the record does not already hold an answer for as a field ``request:<key>`` and moves the
task to ``input_required`` (``TASK_TRANSITION``: an ended task never moves). The client
reads them (2026-07-28 ``tasks/get``: ``inputRequests``; 2025-11-25: JSON-RPC requests on
its ``tasks/result`` stream) and answers (``tasks/update``; a JSON-RPC response):
``TASK_ANSWER`` swaps each ``request:<key>`` for ``answer:<key>`` (a response without its
envelope, so a client's refusal reaches the handler as ``ClientRequestError``), moves the
task back to ``working`` when none is left, and the front appends ``TaskAnswered`` to the broadcast
stream, which wakes the handler here (it also looks again every few seconds, should a
wake-up be lost). An answer already in the record is used at once: a task run again after
its worker was lost does not ask twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from proto import TASK_ANSWER_PREFIX, TASK_REQUEST_PREFIX, TERMINAL_STATUSES, TaskStatus
from workers.client_input import ClientRequest, ClientRequestError, InputChannel, response_value
from workers.task_record import TaskRecords, Transition

__all__ = ["TaskInputs"]

RECHECK_S: Final = 2.0
"""How often a waiting handler reads its answers again without a wake-up."""

_encoder: Final = msgspec.json.Encoder()


class _Request(msgspec.Struct, frozen=True):
    method: str
    params: dict[str, Any]


class TaskInputs(InputChannel):
    """A task's way to its client: requests in the record, answers awaited.

    Args:
        capabilities: what the creating request's client can answer (``TaskSpec``).
        task_id: the task.
        records: the task records.
        answered: set when answers for the task may have arrived (``TaskAnswered``).
    """

    def __init__(
        self, capabilities: int, task_id: str, records: TaskRecords, answered: asyncio.Event
    ) -> None:
        super().__init__(capabilities)
        self._task_id = task_id
        self._records = records
        self._answered = answered

    async def ask(self, requests: Mapping[str, ClientRequest[Any]]) -> dict[str, Any]:
        self.check_capabilities(requests)
        answers = await self._answers(requests)
        missing = {key: request for key, request in requests.items() if key not in answers}
        if missing:
            fields = {
                TASK_REQUEST_PREFIX + key: _encoder.encode(
                    _Request(request.method, request.params)
                ).decode()
                for key, request in missing.items()
            }
            moved = await self._records.transition(
                self._task_id, TaskStatus.INPUT_REQUIRED, fields=fields
            )
            if moved is not Transition.MOVED:
                raise ClientRequestError("The task ended while it waited for input", -32603)
            while len(answers) < len(requests):
                self._answered.clear()  # before the read: a wake-up after it is not lost
                answers = await self._answers(requests)
                if len(answers) < len(requests):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._answered.wait(), RECHECK_S)
        return {
            key: response_value(request, key, answers[key]) for key, request in requests.items()
        }

    async def _answers(self, requests: Mapping[str, ClientRequest[Any]]) -> dict[str, bytes]:
        fields = await self._records.read(self._task_id)
        if not fields:
            raise ClientRequestError("The task expired while it waited for input", -32603)
        if fields.get(b"status", b"").decode() in TERMINAL_STATUSES:
            raise ClientRequestError("The task ended while it waited for input", -32603)
        found: dict[str, bytes] = {}
        for key in requests:
            answer = fields.get((TASK_ANSWER_PREFIX + key).encode())
            if answer is not None:
                found[key] = answer
        return found
