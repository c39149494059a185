"""The front side of durable tasks' storage (ADR-0011): create a task with its rq job, read
it for its owner, cancel it, take a client's answers to its input requests, list an
owner's tasks.

Creation is the one place the front uses redis-py (rq speaks nothing else): the rq job
and the task's record, retention and owner index go in ONE transaction, through a thread
hop under the pool's limiter (:mod:`server.sync_redis`). When a limit applies, ``ADMIT``
runs first in the same thread (one round trip more, ADR-0017): a refused task is never
created (``server/task_admission.py``). Reads, cancellation and listing use the front's
trio client. Every status change after creation goes through ``TASK_TRANSITION`` (or, for
answers, ``TASK_ANSWER``), so a task that ended never moves again.

Ownership: every access compares the record's owner (``TaskSpec.owner_of``) with the
caller's, and another owner's task is answered exactly like one that never existed or
expired (:class:`proto.TaskNotFoundError`). Reads slide the task's retention, at most once
per eighth of it (ADR-0020).

About 500 lines in one class on purpose: creation (its idempotency claims, its admission),
reads, cancellation, answers and listing all share the record's format and the ownership
rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import secrets
import time
from collections.abc import Mapping
from functools import partial
from typing import Final

import msgspec
import redis
import structlog
import trio
from rq import Queue

from proto import (
    CALL_PAYLOAD_FIELD,
    CANCEL_STREAM_MAXLEN,
    HOLD_IF_OWNER,
    TASK_ANSWER,
    TASK_JOB_FUNCTION,
    TASK_SLIDE,
    AdmitRefusal,
    BackendUnavailableError,
    InvalidParamsError,
    Keyspace,
    LimitExceededError,
    QueueLane,
    RedisArg,
    TaskAnswered,
    TaskField,
    TaskJobSerializer,
    TaskNotFoundError,
    TaskRecord,
    TaskSpec,
    TaskStatus,
    decode_task_record,
    decode_task_spec,
    encode_task_spec,
    encode_wire,
    retention_slide_due,
)
from server.admission import AdmissionControl, AdmitCommand, Caller
from server.metrics import FrontMetrics
from server.redis_client import RedisClient, RedisCommandError, RedisReply
from server.sync_redis import SyncRedis
from server.task_admission import TaskAdmission
from server.task_cancel import cancel_task

__all__ = ["TaskPage", "TaskRetention", "TaskStore", "new_task_id"]

log = structlog.get_logger()

_CLAIM_ROUNDS: Final = 3
"""Tries at an idempotency key whose claims keep vanishing (expiring, released as stale)."""
_CLAIM_WAIT_S: Final = 5.0
"""How long a resubmission waits for the task a claim names to appear (its creator holds
the claim from before its transaction until after it)."""
_FIRST_CLAIM_POLL_S: Final = 0.01
_LAST_CLAIM_POLL_S: Final = 0.2

_cursor_decoder: Final = msgspec.json.Decoder(tuple[int, str])
_cursor_encoder: Final = msgspec.json.Encoder()


class TaskRetention(msgspec.Struct, frozen=True, kw_only=True):
    """How long tasks are kept and how often clients are told to poll.

    Attributes:
        default_ttl_ms: retention when the client asks for none.
        max_ttl_ms: the most a client may ask for.
        poll_ms: the polling interval suggested to clients.
    """

    default_ttl_ms: int
    max_ttl_ms: int
    poll_ms: int

    def ttl_for(self, requested_ms: int | None) -> int:
        """The retention a task gets: the request clamped to ``[1 s, max_ttl_ms]``, or the
        default."""
        if requested_ms is None:
            return self.default_ttl_ms
        return max(1000, min(requested_ms, self.max_ttl_ms))


class TaskPage(msgspec.Struct, frozen=True):
    """One page of an owner's tasks, oldest first, and the cursor of the next (if any)."""

    records: list[TaskRecord]
    next_cursor: str | None


class TaskStore:
    """Tasks in Redis, for one front process.

    Args:
        redis: the front's trio client (reads, cancellation, listing).
        sync_redis: the redis-py client rq enqueues with (creation).
        keys: the fleet's key schema.
        retention: retention and polling settings.
        metrics: counts the tasks this front cancels (``mcpfleet_tasks_total``).
        admission: the limits a task must meet before it is created (ADR-0017).
    """

    def __init__(
        self,
        redis: RedisClient,
        sync_redis: SyncRedis,
        keys: Keyspace,
        *,
        retention: TaskRetention,
        metrics: FrontMetrics,
        admission: AdmissionControl,
    ) -> None:
        self._redis = redis
        self._admission = admission
        self._task_admission = TaskAdmission(sync_redis.client, keys)
        self._metrics = metrics
        self._sync = sync_redis
        self._keys = keys
        self.retention = retention
        self._queue = Queue(
            keys.task_queue(), connection=sync_redis.client, serializer=TaskJobSerializer
        )

    async def create(
        self,
        spec: TaskSpec,
        *,
        requested_ttl_ms: int | None,
        idempotency_key: str | None = None,
        client: str = "",
    ) -> TaskRecord:
        """Create a task running ``spec`` for ``spec.owner``: its rq job, record, retention
        and owner index in one transaction; once this returns, a read finds it.

        With ``idempotency_key``, the owner's key is claimed first (``SET NX PX``, holding
        the new task's id for the task's retention); when a submission already holds it,
        that task is answered as it stands (its retention and the key's slide) and nothing
        is created. A claim whose task does not appear within ``_CLAIM_WAIT_S`` (its
        creation failed, or the task expired) is released and claimed again. Only a new
        task meets the limits (``client``: the caller's address, for an anonymous
        caller's); answering the task a key created is not new work.

        Raises:
            LimitExceededError: a limit refused the task; nothing was created.
            InvalidParamsError: the key names the owner's task of another tool or other
                arguments (-32602).
            BackendUnavailableError: Redis did not take it (nothing was created).

        Cancellation: the thread runs to its end (its socket timeouts bound it); the task
        may then exist without its creator having heard of it.
        """
        ttl_ms = self.retention.ttl_for(requested_ttl_ms)
        if idempotency_key is None:
            return await self._create_new(spec, new_task_id(), ttl_ms, client)
        claim = self._keys.task_idempotency(spec.owner, _digest(idempotency_key))
        for _ in range(_CLAIM_ROUNDS):
            task_id = new_task_id()
            if await self._execute("SET", claim, task_id, "NX", "PX", ttl_ms) is not None:
                try:
                    return await self._create_new(spec, task_id, ttl_ms, client)
                except (BackendUnavailableError, LimitExceededError):
                    await self._release_claim(claim, task_id)
                    raise
            holder = await self._execute("GET", claim)
            if not isinstance(holder, bytes):
                continue  # it expired between the two commands: claim it again
            found = await self._claimed(holder.decode(), spec)
            if found is not None:
                # The key first, so it never outlives the task it names.
                await self._hold(claim, found.task_id, "refresh", found.ttl_ms)
                await self._slide(found, always=True)
                log.info("task.resubmitted", task_id=found.task_id, tool=spec.tool)
                return found
            await self._release_claim(claim, holder.decode())
        raise BackendUnavailableError("Could not settle the task's idempotency key: try again")

    async def _create_new(
        self, spec: TaskSpec, task_id: str, ttl_ms: int, client: str
    ) -> TaskRecord:
        caller = Caller(spec.principal, client, spec.request_id)
        admit = self._admission.task_command(caller, spec.tool)
        now_ms = _now_ms()
        fields: dict[str | bytes, str | bytes] = {
            TaskField.STATUS.value: TaskStatus.WORKING.value,
            TaskField.CREATED_MS.value: str(now_ms),
            TaskField.UPDATED_MS.value: str(now_ms),
            TaskField.TTL_MS.value: str(ttl_ms),
            TaskField.SLID_MS.value: str(now_ms),
            TaskField.POLL_MS.value: str(self.retention.poll_ms),
            TaskField.OWNER.value: spec.owner,
            TaskField.SPEC.value: encode_task_spec(spec),
            TaskField.ATTEMPTS.value: "0",
        }
        refusal = await trio.to_thread.run_sync(
            partial(self._create_sync, admit=admit), task_id, fields, ttl_ms, spec.owner, now_ms,
            limiter=self._sync.limiter,
        )  # fmt: skip
        if refusal is not None:
            raise self._admission.refuse(refusal, caller, spec.tool, lane=QueueLane.TASKS)
        log.info("task.created", task_id=task_id, tool=spec.tool, ttl_ms=ttl_ms)
        return TaskRecord(
            task_id=task_id,
            status=TaskStatus.WORKING,
            created_ms=now_ms,
            updated_ms=now_ms,
            ttl_ms=ttl_ms,
            poll_ms=self.retention.poll_ms,
            owner=spec.owner,
            tool=spec.tool,
            slid_ms=now_ms,
        )

    def _create_sync(
        self,
        task_id: str,
        fields: dict[str | bytes, str | bytes],
        ttl_ms: int,
        owner: str,
        now_ms: int,
        *,
        admit: AdmitCommand | None,
    ) -> AdmitRefusal | None:
        """Admit (when a limit applies) and create the task; the refusal, or None once it
        exists."""
        try:
            if admit is not None:
                # Checked right before the transaction, in its thread: the checks of
                # concurrent creations overlap only by the threads of each front.
                refusal = self._task_admission.admit(admit, task_id)
                if refusal is not None:
                    return refusal
            self._write_sync(task_id, fields, ttl_ms, owner, now_ms)
        except redis.RedisError as exc:
            if admit is not None and admit.slots:
                self._task_admission.release(admit.slots, task_id)
            raise BackendUnavailableError(f"Redis did not take the task: {exc}") from None
        return None

    def _write_sync(
        self, task_id: str, fields: dict[str | bytes, str | bytes], ttl_ms: int, owner: str,
        now_ms: int,
    ) -> None:  # fmt: skip
        # rq puts the pipeline in MULTI itself, so it enqueues first; our writes join the
        # same transaction (the contract of ADR-0011).
        key = self._keys.task(task_id)
        owner_key = self._keys.owner_tasks(owner)
        with self._sync.client.pipeline(transaction=True) as pipe:
            self._queue.enqueue_call(
                TASK_JOB_FUNCTION,
                args=[task_id],
                job_id=task_id,
                timeout=-1,
                result_ttl=0,
                failure_ttl=math.ceil(ttl_ms / 1000),
                pipeline=pipe,
            )
            pipe.hset(key, items=[part for pair in fields.items() for part in pair])
            pipe.pexpire(key, ttl_ms)
            pipe.zadd(owner_key, {task_id: now_ms})
            # The index lives as long as the longest task it may hold.
            pipe.pexpire(owner_key, self.retention.max_ttl_ms)
            pipe.execute()

    async def _claimed(self, task_id: str, spec: TaskSpec) -> TaskRecord | None:
        """The owner's task an idempotency claim names, once its record exists (its creator
        may still be writing it); None when none appears within ``_CLAIM_WAIT_S``.

        Raises:
            InvalidParamsError: the task runs another tool or other arguments.
        """
        fields: dict[bytes, bytes] = {}
        record: TaskRecord | None = None
        interval_s = _FIRST_CLAIM_POLL_S
        with trio.move_on_after(_CLAIM_WAIT_S):
            while True:
                fields = _hash(await self._execute("HGETALL", self._keys.task(task_id)))
                record = decode_task_record(task_id, fields)
                if record is not None:
                    break
                await trio.sleep(interval_s)
                interval_s = min(interval_s * 2, _LAST_CLAIM_POLL_S)
        if record is None or record.owner != spec.owner:
            return None
        if not _same_call(fields.get(TaskField.SPEC.value.encode(), b""), spec):
            raise InvalidParamsError(
                "Idempotency key already used for another tool call (another tool or other "
                "arguments): use a new key for a new call"
            )
        return record

    async def _release_claim(self, claim: str, task_id: str) -> None:
        """Drop an idempotency claim if it still names ``task_id``; best effort (a claim
        left behind is released by the next submission that finds no task behind it)."""
        try:
            await self._hold(claim, task_id, "release", 0)
        except BackendUnavailableError as exc:
            log.warning("task.claim_not_released", error=str(exc))

    async def _hold(self, claim: str, task_id: str, action: str, ttl_ms: int) -> None:
        try:
            await self._redis.run_script(HOLD_IF_OWNER, [claim], [task_id, action, ttl_ms])
        except RedisCommandError as exc:
            raise BackendUnavailableError(f"Redis refused the idempotency key: {exc}") from None

    async def get(self, task_id: str, owner: str) -> TaskRecord:
        """The task ``task_id`` of ``owner``; its retention slides from now (at most once per
        ``ttl / 8``, ADR-0020).

        Raises:
            TaskNotFoundError: no such task for this owner (unknown, expired, foreign).
            BackendUnavailableError: Redis did not answer.
        """
        record = await self._read(task_id)
        if record is None or record.owner != owner:
            raise TaskNotFoundError()
        await self._slide(record)
        return record

    async def peek(self, task_id: str, owner: str) -> TaskRecord | None:
        """The task ``task_id`` of ``owner`` as it stands, or None (unknown, expired,
        foreign); unlike :meth:`get`, its retention does not slide (not a client's read).

        Raises:
            BackendUnavailableError: Redis did not answer.
        """
        record = await self._read(task_id)
        return record if record is not None and record.owner == owner else None

    async def tool_of(self, task_id: str, owner: str) -> str | None:
        """The tool ``owner``'s task runs, or None (unknown, expired, foreign); its
        retention does not slide (the scope check before a client's access, ADR-0016).

        Raises:
            BackendUnavailableError: Redis did not answer.
        """
        owned, spec = await self._execute_many(
            [("HGET", self._keys.task(task_id), field) for field in _TOOL_FIELDS]
        )
        if not isinstance(owned, bytes) or owned.decode() != owner or not isinstance(spec, bytes):
            return None
        try:
            return decode_task_spec(spec).tool
        except msgspec.MsgspecError:
            return None

    async def cancel(self, task_id: str, owner: str) -> tuple[bool, TaskRecord]:
        """Move ``owner``'s task to ``cancelled`` (with ``cancel="1"``) unless it has ended,
        then tell the worker running it (``CancelTask`` on the broadcast stream).

        Returns:
            Whether it moved now, and the record as it stands afterwards (an ended task's
            own status when it had ended, even a moment before).

        Raises:
            TaskNotFoundError: no such task for this owner.
            BackendUnavailableError: Redis did not answer.
        """
        record = await self.get(task_id, owner)
        if record.terminal:
            return False, record
        moved = await cancel_task(self._redis, self._keys, task_id)
        if moved:
            self._metrics.task_ended(TaskStatus.CANCELLED)
        after = await self._read(task_id)
        if after is None:
            raise TaskNotFoundError()
        return moved, after

    async def answer(self, task_id: str, owner: str, answers: Mapping[str, bytes]) -> int:
        """Take a client's answers to ``owner``'s task's input requests (``TASK_ANSWER``:
        answers to requests that are not outstanding are ignored), then wake the worker
        running it (``TaskAnswered`` on the broadcast stream).

        Returns:
            How many answers were taken.

        Raises:
            TaskNotFoundError: no such task for this owner.
            BackendUnavailableError: Redis did not answer.
        """
        record = await self.get(task_id, owner)
        if record.terminal or not answers:
            return 0
        args: list[RedisArg] = [self._keys.task_events(), task_id, _now_ms()]
        for key, answer in answers.items():
            args += [key, answer]
        try:
            taken = await self._redis.run_script(TASK_ANSWER, [self._keys.task(task_id)], args)
        except RedisCommandError as exc:
            raise BackendUnavailableError(f"Redis refused the task's answers: {exc}") from None
        if isinstance(taken, int) and taken > 0:
            await self._execute(
                "XADD", self._keys.cancel_stream(), "MAXLEN", "~", CANCEL_STREAM_MAXLEN, "*",
                CALL_PAYLOAD_FIELD, encode_wire(TaskAnswered(task_id)),
            )  # fmt: skip
            log.info("task.answered", task_id=task_id, taken=taken)
            return taken
        return 0

    async def list_page(self, owner: str, cursor: str | None, *, page_size: int) -> TaskPage:
        """One page of ``owner``'s tasks by creation; expired ones leave the index here.

        Raises:
            InvalidParamsError: a cursor this store did not issue (-32602).
            BackendUnavailableError: Redis did not answer.
        """
        index = self._keys.owner_tasks(owner)
        start = 0 if cursor is None else await self._position(index, cursor)
        ids = await self._execute("ZRANGE", index, start, start + page_size - 1, "WITHSCORES")
        pairs = _pairs(ids)
        replies = await self._execute_many(
            [("HGETALL", self._keys.task(task_id)) for task_id, _ in pairs]
        )
        records: list[TaskRecord] = []
        gone: list[str] = []
        for (task_id, _score), fields in zip(pairs, replies, strict=True):
            record = decode_task_record(task_id, _hash(fields))
            if record is None:
                gone.append(task_id)
            elif record.owner == owner:
                records.append(record)
        if gone:
            await self._execute("ZREM", index, *gone)
        next_cursor = None
        if len(pairs) == page_size:
            last_id, last_score = pairs[-1]
            next_cursor = _encode_cursor(last_score, last_id)
        return TaskPage(records, next_cursor)

    async def _position(self, index: str, cursor: str) -> int:
        """Where the page after ``cursor`` starts: after its last task if still listed,
        else where that task stood: after every task created before its millisecond and
        those of the same millisecond whose ids sort up to its own (Redis orders tasks
        of one score by id, so a task of that millisecond is neither skipped nor
        repeated)."""
        score, last_id = _decode_cursor(cursor)
        rank, earlier, same_ms = await self._execute_many(
            [
                ("ZRANK", index, last_id),
                ("ZCOUNT", index, "-inf", f"({score}"),
                ("ZRANGEBYSCORE", index, score, score),
            ]
        )
        if isinstance(rank, int):
            return rank + 1
        if not isinstance(earlier, int) or not isinstance(same_ms, list):
            return 0
        last = last_id.encode()
        return earlier + sum(
            1 for task_id in same_ms if isinstance(task_id, bytes) and task_id <= last
        )

    async def _read(self, task_id: str) -> TaskRecord | None:
        fields = await self._execute("HGETALL", self._keys.task(task_id))
        return decode_task_record(task_id, _hash(fields))

    async def _slide(self, record: TaskRecord, *, always: bool = False) -> None:
        # At most once per ttl/8 (ADR-0020): a client polling fast costs one HGETALL a poll.
        # ``always`` where a key's TTL was just set to the task's full retention.
        now_ms = _now_ms()
        if not always and not retention_slide_due(record, now_ms):
            return
        keys = [self._keys.task(record.task_id), self._keys.owner_tasks(record.owner)]
        try:
            await self._redis.run_script(
                TASK_SLIDE, keys, [record.ttl_ms, now_ms, self.retention.max_ttl_ms]
            )
        except RedisCommandError as exc:
            raise BackendUnavailableError(f"Redis refused a task command: {exc}") from None

    async def _execute(self, *command: str | int | bytes) -> RedisReply:
        (reply,) = await self._execute_many([command])
        return reply

    async def _execute_many(
        self, commands: list[tuple[str | int | bytes, ...]]
    ) -> list[RedisReply]:
        if not commands:
            return []
        try:
            return await self._redis.execute_many(commands)
        except RedisCommandError as exc:
            raise BackendUnavailableError(f"Redis refused a task command: {exc}") from None


_TOOL_FIELDS: Final = (TaskField.OWNER.value, TaskField.SPEC.value)


def _digest(key: str) -> str:
    """An idempotency key as it appears in its Redis key: fixed length, and never mistaken
    for part of the owner."""
    return hashlib.sha256(key.encode()).hexdigest()


def _same_call(stored_spec: bytes, spec: TaskSpec) -> bool:
    """Whether a stored task runs the same tool with the same arguments as ``spec`` (equal
    as JSON values: key order and spacing do not matter)."""
    try:
        stored = decode_task_spec(stored_spec)
    except msgspec.MsgspecError:
        return False
    same_arguments = _json_value(stored.arguments) == _json_value(spec.arguments)
    return stored.tool == spec.tool and same_arguments


def _json_value(raw: msgspec.Raw) -> object:
    return msgspec.json.decode(bytes(raw) or b"{}")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_task_id() -> str:
    """A fresh task id: 256 random bits, URL-safe base64, never starting with ``-`` (an id
    like ``-Rvg…`` would read as an option to ``mcpfleet tasks cancel`` and other
    command lines)."""
    while (task_id := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return task_id


def _hash(reply: RedisReply) -> dict[bytes, bytes]:
    """An ``HGETALL`` reply (a flat list) as a mapping."""
    if not isinstance(reply, list):
        return {}
    items = [item for item in reply if isinstance(item, bytes)]
    return dict(zip(items[::2], items[1::2], strict=True))


def _pairs(reply: RedisReply) -> list[tuple[str, int]]:
    """A ``ZRANGE … WITHSCORES`` reply as (member, score) pairs."""
    if not isinstance(reply, list):
        return []
    items = [item for item in reply if isinstance(item, bytes)]
    return [(m.decode(), int(float(s))) for m, s in zip(items[::2], items[1::2], strict=True)]


def _encode_cursor(score: int, task_id: str) -> str:
    return base64.urlsafe_b64encode(_cursor_encoder.encode((score, task_id))).decode()


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        return _cursor_decoder.decode(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, msgspec.MsgspecError):
        raise InvalidParamsError("Invalid cursor") from None
