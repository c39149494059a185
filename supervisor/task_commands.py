"""``mcpfleet tasks list|get|cancel``: an operator looks at the fleet's durable tasks and
cancels one (ADR-0011, docs/tasks.md).

    mcpfleet tasks list                          # every owner's tasks, oldest first
    mcpfleet tasks list --status working --json  # filtered, as JSON
    mcpfleet tasks get TASK_ID                   # the whole record, as JSON
    mcpfleet tasks cancel TASK_ID                # what a client's tasks/cancel does

The operator sees every owner's tasks: ``list`` scans the fleet's task records (``SCAN
MATCH`` on ``Keyspace.task("*")``, no index kept for it), so it costs one pass over the
keyspace. ``cancel`` runs the front's own cancellation (:func:`server.task_cancel.cancel_task`).
The Redis is found like the ``tools``/``prompts``/``resources`` commands find it
(``--redis``, the configuration, or the fleet ``mcpfleet up`` runs from ``--data-dir``).

Exit codes: 0 done, 1 no such task (unknown or expired), 2 usage or configuration errors.
"""

from __future__ import annotations

import getpass
import os
import sys
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Final

import msgspec
import trio

from proto import (
    Keyspace,
    Principal,
    PrincipalKind,
    TaskField,
    TaskRecord,
    TaskSpec,
    TaskStatus,
    decode_task_record,
    decode_task_spec,
    iso_time,
)
from server import RedisClient, open_redis, parse_redis_url
from server.audit_log import Requester
from server.task_cancel import cancel_task
from supervisor.config import ConfigError, FleetConfig
from supervisor.visibility_commands import running_fleet

__all__ = ["run_task_command"]

_COMMAND_TIMEOUT_S: Final = 5.0
_SCAN_COUNT: Final = 500
_NOT_FOUND: Final = 1
_COLUMNS: Final = ("id", "status", "tool", "created", "updated", "attempts", "owner")

_encoder: Final = msgspec.json.Encoder()


class _Task(msgspec.Struct, frozen=True):
    """What ``get`` prints (and ``list --json`` for each task)."""

    task_id: str = msgspec.field(name="taskId")
    status: str
    tool: str | None
    created: str
    updated: str
    attempts: int
    owner: str
    is_error: bool = msgspec.field(name="isError")
    cancel_requested: bool = msgspec.field(name="cancelRequested")
    ttl_ms: int = msgspec.field(name="ttlMs")
    message: str | None = None
    worker: str | None = None
    protocol_version: str | None = msgspec.field(default=None, name="protocolVersion")
    request_id: str | None = msgspec.field(default=None, name="requestId")
    retryable: bool | None = None
    max_attempts: int | None = msgspec.field(default=None, name="maxAttempts")
    arguments: msgspec.Raw | None = None
    outcome: msgspec.Raw | None = None
    progress: msgspec.Raw | None = None
    expires_in_ms: int | None = msgspec.field(default=None, name="expiresInMs")


def run_task_command(
    action: str,
    task_id: str | None,
    *,
    status: str | None,
    as_json: bool,
    config: FleetConfig,
) -> int:
    """Run one command; returns the exit code (1: no such task).

    Raises:
        ConfigError: no Redis to act on.
        BackendUnavailableError: Redis cannot be reached.
    """
    config = running_fleet(config)
    if action == "list":
        wanted = None if status is None else TaskStatus(status)
        tasks = trio.run(partial(_list, wanted, config=config))
        _write(_list_output(tasks, as_json=as_json))
        return 0
    if task_id is None:  # pragma: no cover - the parser requires it
        raise ConfigError(f"tasks {action} needs a task id")
    if action == "get":
        task = trio.run(partial(_get, task_id, config=config))
        if task is None:
            return _not_found(task_id)
        _write(msgspec.json.format(_encoder.encode(task), indent=2).decode() + "\n")
        return 0
    outcome = trio.run(partial(_cancel, task_id, config=config))
    if outcome is None:
        return _not_found(task_id)
    _write(f"{outcome}\n")
    return 0


async def _list(status: TaskStatus | None, *, config: FleetConfig) -> list[_Task]:
    keys = Keyspace(config.fleet)
    head = keys.task("")[:-1]  # the key before the id (its closing brace follows the id)
    async with _redis(config) as redis:
        ids = await _scan(redis, keys.task("*"))
        found = [key[len(head) : -1] for key in ids]
        replies = await redis.execute_many([("HGETALL", keys.task(t)) for t in found])
    tasks = []
    for task_id, reply in zip(found, replies, strict=True):
        task = _task(task_id, _hash(reply))
        if task is not None and (status is None or task.status == status.value):
            tasks.append(task)
    return sorted(tasks, key=lambda task: (task.created, task.task_id))


async def _scan(redis: RedisClient, pattern: str) -> list[str]:
    cursor = b"0"
    keys: set[str] = set()  # SCAN may return a key twice
    while True:
        reply = await redis.execute("SCAN", cursor, "MATCH", pattern, "COUNT", _SCAN_COUNT)
        if not isinstance(reply, list) or len(reply) != 2:
            return sorted(keys)
        following, batch = reply
        if isinstance(batch, list):
            keys.update(key.decode() for key in batch if isinstance(key, bytes))
        if not isinstance(following, bytes) or following == b"0":
            return sorted(keys)
        cursor = following


async def _get(task_id: str, *, config: FleetConfig) -> _Task | None:
    key = Keyspace(config.fleet).task(task_id)
    async with _redis(config) as redis:
        fields, expires_in = await redis.execute_many([("HGETALL", key), ("PTTL", key)])
    task = _task(task_id, _hash(fields))
    if task is None:
        return None
    remaining = expires_in if isinstance(expires_in, int) and expires_in >= 0 else None
    return msgspec.structs.replace(task, expires_in_ms=remaining)


async def _cancel(task_id: str, *, config: FleetConfig) -> str | None:
    """What happened, or None when there is no such task. Audited like a client's
    ``tasks/cancel`` (``task.cancel_requested``), the principal being the operator."""
    keys = Keyspace(config.fleet)
    outcome, tool = "error", ""
    try:
        async with _redis(config) as redis:
            moved = await cancel_task(redis, keys, task_id)
            after = decode_task_record(
                task_id, _hash(await redis.execute("HGETALL", keys.task(task_id)))
            )
        if after is None:
            outcome = "not_found"
            return None
        tool = after.tool
        if moved:
            outcome = "cancelled"
            return f"task {task_id} cancelled"
        outcome = "already_ended"
        return f"task {task_id} had already ended ({after.status.value}): nothing to cancel"
    finally:
        Requester(principal=_operator()).audit(
            "task.cancel_requested", tool=tool, task_id=task_id, outcome=outcome
        )


def _operator() -> Principal:
    """The OS user running the command: the principal the audit trail names
    (``operator:<user>``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a user without a name, as in some containers
        user = f"uid-{os.getuid()}"
    return Principal(kind=PrincipalKind.OPERATOR.value, subject=user)


def _task(task_id: str, fields: dict[bytes, bytes]) -> _Task | None:
    record = decode_task_record(task_id, fields)
    if record is None:
        return None
    spec = _spec(fields.get(TaskField.SPEC.value.encode()))
    worker = fields.get(TaskField.WORKER.value.encode())
    progress = fields.get(TaskField.PROGRESS.value.encode())
    return _Task(
        task_id=task_id,
        status=record.status.value,
        tool=None if spec is None else spec.tool,
        created=iso_time(record.created_ms),
        updated=iso_time(record.updated_ms),
        attempts=record.attempts,
        owner=record.owner,
        is_error=record.is_error,
        cancel_requested=record.cancel_requested,
        ttl_ms=record.ttl_ms,
        message=record.message,
        worker=worker.decode() if worker else None,
        protocol_version=None if spec is None else spec.protocol_version,
        request_id=None if spec is None else spec.request_id,
        retryable=None if spec is None else spec.retryable,
        max_attempts=None if spec is None else spec.max_attempts,
        arguments=None if spec is None else spec.arguments,
        outcome=_raw(record),
        progress=msgspec.Raw(progress) if progress else None,
    )


def _raw(record: TaskRecord) -> msgspec.Raw | None:
    return None if record.outcome is None else msgspec.Raw(record.outcome)


def _spec(data: bytes | None) -> TaskSpec | None:
    if not data:
        return None
    try:
        return decode_task_spec(data)
    except msgspec.MsgspecError:
        return None


def _list_output(tasks: list[_Task], *, as_json: bool) -> str:
    if as_json:
        return _encoder.encode(tasks).decode() + "\n"
    rows = [_COLUMNS] + [
        (t.task_id, t.status, t.tool or "?", t.created, t.updated, str(t.attempts), t.owner)
        for t in tasks
    ]
    return "".join("\t".join(row) + "\n" for row in rows)


def _hash(reply: object) -> dict[bytes, bytes]:
    """An ``HGETALL`` reply (a flat list) as a mapping."""
    if not isinstance(reply, list):
        return {}
    items = [item for item in reply if isinstance(item, bytes)]
    return dict(zip(items[::2], items[1::2], strict=True))


def _redis(config: FleetConfig) -> AbstractAsyncContextManager[RedisClient]:
    url = config.redis_url
    if url is None:  # pragma: no cover - running_fleet gave it one
        raise ConfigError("no Redis to act on")
    return open_redis(parse_redis_url(url), command_timeout_s=_COMMAND_TIMEOUT_S)


def _not_found(task_id: str) -> int:
    sys.stderr.write(f"mcpfleet: no task {task_id} (unknown, or expired)\n")
    return _NOT_FOUND


def _write(text: str) -> None:
    sys.stdout.write(text)
