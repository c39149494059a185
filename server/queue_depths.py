"""How much work waits for a worker, read from Redis when ``/metrics`` is scraped (ADR-0012):
the queue gauges of both lanes.

- **calls**: entries of the call stream no worker has taken yet. Workers delete every entry
  they acknowledge (``XACK`` + ``XDEL``, as does the supervisor settling a lost worker's), so
  the stream holds exactly the entries taken but unanswered (the group's pending count) and
  those not yet taken: ``XLEN - pending``. This holds on Redis 6.2, which has no ``lag``.
  The oldest one is the first entry after the group's last delivered id; its age comes from
  its id (milliseconds of Redis' clock) against Redis' ``TIME``.
- **tasks**: job ids in the fleet's rq queue (``LLEN``; rq pushes to the tail and workers
  pop the head). The oldest one's age comes from its job hash's ``enqueued_at``, written by
  the enqueuing front's clock, against this front's.

Two round trips: the counts, then the oldest entries they point at.
"""

from __future__ import annotations

import time
from typing import Final

import msgspec
import rq
from rq.utils import utcparse

from proto import CALL_GROUP, Keyspace, RedisArg
from server.redis_client import RedisClient, RedisReply

__all__ = [
    "LaneDepth",
    "QueueDepths",
    "QueueSnapshot",
    "call_backlog",
    "job_age_s",
    "oldest_entry_age_s",
    "redis_time_s",
    "stream_id_after",
    "stream_id_ms",
]

_ENQUEUED_AT: Final = "enqueued_at"
_NO_ENTRY: Final = b"0-0"


class LaneDepth(msgspec.Struct, frozen=True):
    """One lane's waiting work: how many, and how long the oldest has waited (0: none)."""

    depth: int
    oldest_age_s: float


class QueueSnapshot(msgspec.Struct, frozen=True):
    """Both lanes at one moment."""

    calls: LaneDepth
    tasks: LaneDepth


class QueueDepths:
    """Reads the lanes of one fleet.

    Args:
        redis: the front's client.
        keys: the fleet's key schema.
    """

    def __init__(self, redis: RedisClient, keys: Keyspace) -> None:
        self._redis = redis
        self._stream = keys.call_stream()
        # rq's own key schema (ADR-0011): the queue's list and each job's hash.
        self._task_queue = rq.Queue.redis_queue_namespace_prefix + keys.task_queue()

    async def read(self) -> QueueSnapshot:
        """Both lanes as they stand.

        Raises:
            BackendUnavailableError: Redis did not answer.
            RedisCommandError: Redis refused a command (the call stream is gone: Redis lost
                its data and no worker has made the lane again yet).
        """
        now, length, groups, tasks, head = await self._redis.execute_many(
            [
                ("TIME",),
                ("XLEN", self._stream),
                ("XINFO", "GROUPS", self._stream),
                ("LLEN", self._task_queue),
                ("LINDEX", self._task_queue, 0),
            ]
        )
        waiting, last_taken = call_backlog(length, groups)
        task_count = tasks if isinstance(tasks, int) else 0
        oldest: list[tuple[RedisArg, ...]] = []
        if waiting:
            oldest.append(("XRANGE", self._stream, stream_id_after(last_taken), "+", "COUNT", "1"))
        if task_count and isinstance(head, bytes):
            oldest.append(("HGET", rq.job.Job.key_for(head.decode()), _ENQUEUED_AT))
        replies = await self._redis.execute_many(oldest) if oldest else []
        calls_age_s = 0.0
        if waiting:
            redis_now_s = redis_time_s(now)
            calls_age_s = oldest_entry_age_s(
                replies.pop(0), time.time() if redis_now_s is None else redis_now_s
            )
        tasks_age_s = 0.0
        if replies:
            tasks_age_s = job_age_s(replies.pop(0), time.time())
        return QueueSnapshot(
            calls=LaneDepth(waiting, calls_age_s), tasks=LaneDepth(task_count, tasks_age_s)
        )


def call_backlog(length: RedisReply, groups: RedisReply) -> tuple[int, bytes]:
    """Entries of the call stream no worker has taken, from its ``XLEN`` and ``XINFO
    GROUPS``, and the id of the last one taken (``0-0``: none yet). Without the workers'
    group every entry waits."""
    total = length if isinstance(length, int) else 0
    for group in groups if isinstance(groups, list) else []:
        fields = _fields(group)
        if fields.get(b"name") != CALL_GROUP.encode():
            continue
        pending = fields.get(b"pending")
        last = fields.get(b"last-delivered-id")
        waiting = total - (pending if isinstance(pending, int) else 0)
        return max(waiting, 0), last if isinstance(last, bytes) else _NO_ENTRY
    return total, _NO_ENTRY


def _fields(flat: RedisReply) -> dict[bytes, RedisReply]:
    items = flat if isinstance(flat, list) else []
    return {
        key: value for key, value in zip(items[::2], items[1::2], strict=False)
        if isinstance(key, bytes)
    }  # fmt: skip


def stream_id_after(entry_id: bytes) -> bytes:
    """The smallest stream id after ``entry_id`` (``XRANGE`` ranges are inclusive; the
    ``(`` prefix would need Redis 6.2)."""
    ms, _, seq = entry_id.partition(b"-")
    return b"%d-%d" % (int(ms), int(seq or b"0") + 1)


def stream_id_ms(entry_id: bytes) -> int:
    """The milliseconds part of a stream entry id (Redis' clock when it was added)."""
    return int(entry_id.partition(b"-")[0])


def redis_time_s(reply: RedisReply) -> float | None:
    """``TIME``'s answer (seconds and microseconds) as seconds; None if it is not one."""
    if not (isinstance(reply, list) and len(reply) == 2):
        return None
    seconds, micros = reply
    if not (isinstance(seconds, bytes) and isinstance(micros, bytes)):
        return None
    return int(seconds) + int(micros) / 1_000_000


def oldest_entry_age_s(entries: RedisReply, now_s: float) -> float:
    """Age of the first entry of an ``XRANGE`` reply (0 when it is empty: taken meanwhile)."""
    if not (isinstance(entries, list) and entries and isinstance(entries[0], list)):
        return 0.0
    entry_id = entries[0][0] if entries[0] else None
    if not isinstance(entry_id, bytes):
        return 0.0
    return max(now_s - stream_id_ms(entry_id) / 1000, 0.0)


def job_age_s(enqueued_at: RedisReply, now_s: float) -> float:
    """Age of an rq job from its ``enqueued_at`` (0 when it has none: gone meanwhile)."""
    if not isinstance(enqueued_at, bytes) or not enqueued_at:
        return 0.0
    try:
        stamp = utcparse(enqueued_at.decode()).timestamp()
    except ValueError:
        return 0.0
    return max(now_s - stamp, 0.0)
