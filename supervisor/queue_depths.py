"""How much work waits in a fleet's two lanes, read from Redis in one to three round trips:
the call stream (calls no worker has taken, calls workers hold, and how long the oldest
untaken one has waited) and the rq task queue (queued tasks and how long the head waited).
The autoscaler reads it at every check; ``mcpfleet status`` once.

Calls no worker has taken are the stream's entries less those pending in the group:
workers acknowledge and delete an entry together once answered (``Keyspace.call_stream``),
so the stream holds only waiting and taken calls. Waits are measured on Redis's clock
(``TIME``) against the entry's id (stamped by Redis at ``XADD``) and the job's
``enqueued_at`` (stamped by the front that created the task).
"""

from __future__ import annotations

import datetime
from typing import Final

import msgspec
from rq import Queue
from rq.job import Job

from proto import CALL_GROUP, Keyspace
from server import RedisClient, RedisReply

__all__ = ["QueueDepths", "read_queue_depths"]

_QUEUE_PREFIX: Final = Queue.redis_queue_namespace_prefix
_JOB_PREFIX: Final = Job.redis_job_namespace_prefix


class QueueDepths(msgspec.Struct, frozen=True, kw_only=True):
    """Both lanes at one moment (``queues`` in ``mcpfleet status --json``).

    Attributes:
        calls_queued: calls in the stream no worker has taken.
        calls_taken: calls workers took and have not answered yet.
        oldest_call_wait_s: how long the oldest untaken call has waited (0 when none).
        tasks_queued: durable tasks waiting in the task queue.
        oldest_task_wait_s: how long the first of them has waited (0 when none).
    """

    calls_queued: int = 0
    calls_taken: int = 0
    oldest_call_wait_s: float = 0.0
    tasks_queued: int = 0
    oldest_task_wait_s: float = 0.0


async def read_queue_depths(redis: RedisClient, keys: Keyspace) -> QueueDepths:
    """Read both lanes; a lane whose keys do not exist is empty.

    Raises:
        BackendUnavailableError: Redis did not answer.
        RedisCommandError: Redis refused a command.
    """
    stream = keys.call_stream()
    queue = _QUEUE_PREFIX + keys.task_queue()
    clock, length, tasks, head = await redis.execute_many(
        [("TIME",), ("XLEN", stream), ("LLEN", queue), ("LINDEX", queue, 0)]
    )
    now_ms = _redis_time_ms(clock)
    stream_length = _int(length)
    second: list[tuple[str, ...]] = []
    if stream_length:
        second.append(("XINFO", "GROUPS", stream))
    if isinstance(head, bytes):
        second.append(("HGET", _JOB_PREFIX + head.decode(), "enqueued_at"))
    replies = await redis.execute_many(second) if second else []
    taken, last_delivered = _group(replies[0]) if stream_length else (0, b"0-0")
    enqueued = replies[-1] if isinstance(head, bytes) else None
    queued = max(stream_length - taken, 0)
    oldest_call_wait_s = 0.0
    if queued:
        # The first entry after the last one delivered to the group (Redis 6.2+ syntax).
        first = await redis.execute("XRANGE", stream, b"(" + last_delivered, "+", "COUNT", 1)
        oldest_call_wait_s = _wait_s(now_ms, _entry_ms(first))
    task_count = _int(tasks)
    return QueueDepths(
        calls_queued=queued,
        calls_taken=taken,
        oldest_call_wait_s=oldest_call_wait_s,
        tasks_queued=task_count,
        oldest_task_wait_s=_wait_s(now_ms, _enqueued_ms(enqueued)) if task_count else 0.0,
    )


def _redis_time_ms(reply: RedisReply) -> int:
    if isinstance(reply, list) and len(reply) == 2:
        seconds, micros = reply
        if isinstance(seconds, bytes) and isinstance(micros, bytes):
            return int(seconds) * 1000 + int(micros) // 1000
    return 0


def _group(reply: RedisReply) -> tuple[int, bytes]:
    """The call group's pending count and last delivered id, from ``XINFO GROUPS``."""
    if not isinstance(reply, list):
        return 0, b"0-0"
    for group in reply:
        if not isinstance(group, list):
            continue
        fields = dict(zip(group[::2], group[1::2], strict=False))
        if fields.get(b"name") != CALL_GROUP.encode():
            continue
        pending = fields.get(b"pending")
        last = fields.get(b"last-delivered-id")
        return (
            pending if isinstance(pending, int) else 0,
            last if isinstance(last, bytes) else b"0-0",
        )
    return 0, b"0-0"


def _entry_ms(reply: RedisReply) -> int | None:
    """The time part of the first entry's id in an ``XRANGE`` reply."""
    if not isinstance(reply, list) or not reply:
        return None
    entry = reply[0]
    if not isinstance(entry, list) or not entry or not isinstance(entry[0], bytes):
        return None
    return int(entry[0].split(b"-", 1)[0])


def _enqueued_ms(reply: RedisReply) -> int | None:
    """rq's ``enqueued_at`` (``2026-01-02T03:04:05.123456Z``) in epoch ms."""
    if not isinstance(reply, bytes):
        return None  # the head job is gone (deleted or expired): its age is unknown
    try:
        when = datetime.datetime.fromisoformat(reply.decode())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return int(when.timestamp() * 1000)


def _wait_s(now_ms: int, since_ms: int | None) -> float:
    if since_ms is None or not now_ms:
        return 0.0
    return max(now_ms - since_ms, 0) / 1000


def _int(reply: RedisReply) -> int:
    return reply if isinstance(reply, int) else 0
