"""How much work waits in a fleet's two lanes: the one reader of the queue depths, for a
front's ``GET /metrics`` (ADR-0012), the supervisor's autoscaler at every check and
``mcpfleet status`` (ADR-0013).

- **calls**: entries of the call stream no worker has taken yet. Workers delete every entry
  they acknowledge (``XACK`` + ``XDEL``, as does the supervisor settling a lost worker's), so
  the stream holds exactly the entries taken but unanswered (the group's pending count:
  ``calls_taken``) and those not yet taken: ``XLEN - pending``. This holds on Redis 6.2,
  which has no ``lag``. The oldest untaken one is the first entry after the group's last
  delivered id; its age comes from its id (milliseconds of Redis's clock at ``XADD``).
- **tasks**: job ids in the fleet's rq queue (``LLEN``; rq pushes to the tail and workers
  pop the head). The oldest one's age comes from its job hash's ``enqueued_at``.

**Two round trips at most.** The counts, in one ``MULTI``/``EXEC`` (``TIME``, ``XLEN``,
``XINFO GROUPS``, ``LLEN``, ``LINDEX 0``): read at one instant, so the pending count
matches the length and the head matches the count, and an error of one command (``XINFO
GROUPS`` of a stream that is gone: never made yet, or Redis lost its data) comes back as a
value in ``EXEC``'s array instead of failing the others. Then, only when something waits,
the oldest entries they point at, in a second ``MULTI``/``EXEC`` (``XRANGE`` from the id
after the last delivered one, ``COUNT 1``; ``HGET`` of the head job's ``enqueued_at``).
Nothing here fails on what Redis holds, so a front's gauges, the autoscaler and ``mcpfleet
status`` all read empty lanes on a fleet no worker has started yet or whose Redis lost its
data, rather than an error.

**One clock: Redis's** (``TIME``, read in the first trip) for both ages. A call's id is
stamped by Redis, so its age is exact. A task's ``enqueued_at`` is stamped by the clock of
the front that enqueued it, so its age is off by that host's offset from Redis's clock
whatever the reader's clock; measured against Redis's, every reader (each front's gauge,
each host's autoscaler, ``mcpfleet status``) reports the same age for the same job instead
of adding its own offset. Ages are never negative.

An odd reply reads as "nothing there": a missing stream or group (every entry then waits),
a head job whose hash is gone (its age is 0), an entry taken between the two trips.
"""

from __future__ import annotations

import time
from typing import Final, NamedTuple

import msgspec
import rq
from rq.utils import utcparse

from proto import CALL_GROUP, Keyspace, RedisArg
from server.redis_client import RedisClient, RedisReply

__all__ = [
    "CallBacklog",
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
_MAX_SEQ: Final = 2**64 - 1  # a stream id's parts are unsigned 64-bit numbers


class LaneDepth(msgspec.Struct, frozen=True):
    """One lane's waiting work: how many, and how long the oldest has waited (0: none)."""

    depth: int = 0
    oldest_age_s: float = 0.0


class QueueSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Both lanes at one moment.

    Attributes:
        calls: calls no worker has taken, and the oldest one's wait.
        calls_taken: calls workers took and have not answered yet.
        tasks: durable tasks waiting in the task queue, and the head one's wait.
    """

    calls: LaneDepth = msgspec.field(default_factory=LaneDepth)
    calls_taken: int = 0
    tasks: LaneDepth = msgspec.field(default_factory=LaneDepth)


class CallBacklog(NamedTuple):
    """The call stream's work, from its ``XLEN`` and ``XINFO GROUPS``."""

    waiting: int
    """Entries no worker has taken."""
    taken: int
    """Entries workers took and have not acknowledged (the group's pending count)."""
    last_taken: bytes
    """The id of the last entry delivered to the group (``0-0``: none yet)."""


class QueueDepths:
    """Reads the lanes of one fleet.

    Args:
        redis: the reader's client (a front's, the supervisor's, the status command's).
        keys: the fleet's key schema.
    """

    def __init__(self, redis: RedisClient, keys: Keyspace) -> None:
        self._redis = redis
        self._stream = keys.call_stream()
        # rq's own key schema (ADR-0011): the queue's list and each job's hash.
        self._task_queue = rq.Queue.redis_queue_namespace_prefix + keys.task_queue()

    async def read(self) -> QueueSnapshot:
        """Both lanes as they stand, in one or two round trips; lanes whose keys do not
        exist are empty.

        Raises:
            BackendUnavailableError: Redis did not answer.
        """
        now, length, groups, tasks, head = await self._transaction(
            ("TIME",),
            ("XLEN", self._stream),
            ("XINFO", "GROUPS", self._stream),
            ("LLEN", self._task_queue),
            ("LINDEX", self._task_queue, 0),
        )
        now_s = redis_time_s(now)
        if now_s is None:  # never from a real Redis; the local clock beats no age at all
            now_s = time.time()
        calls = call_backlog(length, groups)
        task_count = max(tasks, 0) if isinstance(tasks, int) else 0
        oldest: list[tuple[RedisArg, ...]] = []
        if calls.waiting:
            after = stream_id_after(calls.last_taken)
            oldest.append(("XRANGE", self._stream, after, "+", "COUNT", "1"))
        if task_count and isinstance(head, bytes):
            job_key = rq.job.Job.key_for(head.decode(errors="replace"))
            oldest.append(("HGET", job_key, _ENQUEUED_AT))
        found = await self._transaction(*oldest) if oldest else []
        entries = found.pop(0) if calls.waiting else None
        enqueued_at = found.pop(0) if found else None
        return QueueSnapshot(
            calls=LaneDepth(calls.waiting, oldest_entry_age_s(entries, now_s)),
            calls_taken=calls.taken,
            tasks=LaneDepth(task_count, job_age_s(enqueued_at, now_s)),
        )

    async def waiting(self) -> tuple[int, int]:
        """How many calls no worker has taken and how many tasks are queued, in one round
        trip: :meth:`read`'s counts without the ages (readiness, ADR-0017).

        Raises:
            BackendUnavailableError: Redis did not answer.
        """
        length, groups, tasks = await self._transaction(
            ("XLEN", self._stream),
            ("XINFO", "GROUPS", self._stream),
            ("LLEN", self._task_queue),
        )
        task_count = max(tasks, 0) if isinstance(tasks, int) else 0
        return call_backlog(length, groups).waiting, task_count

    async def _transaction(self, *commands: tuple[RedisArg, ...]) -> list[RedisReply]:
        """Run ``commands`` in one ``MULTI``/``EXEC`` (one round trip) and return their
        replies. A command's error stays in ``EXEC``'s array as a value, which the readers
        below take for "nothing there", instead of failing the others."""
        replies = await self._redis.execute_many([("MULTI",), *commands, ("EXEC",)])
        executed = replies[-1]
        if isinstance(executed, list) and len(executed) == len(commands):
            return executed
        return [None] * len(commands)  # never from a real Redis: read as empty


def call_backlog(length: RedisReply, groups: RedisReply) -> CallBacklog:
    """The call stream's untaken and taken entries, from its ``XLEN`` and ``XINFO
    GROUPS`` (Redis 6.2's shape or 7's), and the last id delivered to the workers' group.
    Without the group every entry waits."""
    total = max(length, 0) if isinstance(length, int) else 0
    for group in groups if isinstance(groups, list) else []:
        fields = _fields(group)
        if fields.get(b"name") != CALL_GROUP.encode():
            continue
        pending = fields.get(b"pending")
        taken = max(pending, 0) if isinstance(pending, int) else 0
        last = fields.get(b"last-delivered-id")
        last_taken = last if isinstance(last, bytes) and _parsed_id(last) else _NO_ENTRY
        # An entry deleted before it is acknowledged (the two commands of one pipeline)
        # counts as pending but no longer in the stream: never below zero.
        return CallBacklog(max(total - taken, 0), taken, last_taken)
    return CallBacklog(total, 0, _NO_ENTRY)


def _fields(flat: RedisReply) -> dict[bytes, RedisReply]:
    items = flat if isinstance(flat, list) else []
    return {
        key: value for key, value in zip(items[::2], items[1::2], strict=False)
        if isinstance(key, bytes)
    }  # fmt: skip


def _parsed_id(entry_id: bytes) -> tuple[int, int] | None:
    """A stream id's milliseconds and sequence; None if it is not one."""
    ms, _, seq = entry_id.partition(b"-")
    if not ms.isdigit() or not (seq or b"0").isdigit():
        return None
    return int(ms), int(seq or b"0")


def stream_id_after(entry_id: bytes) -> bytes:
    """The smallest stream id after ``entry_id`` (``XRANGE`` ranges are inclusive; the
    exclusive ``(`` prefix is Redis 6.2+ syntax this avoids). An id that is not one is
    taken as ``0-0``."""
    ms, seq = _parsed_id(entry_id) or (0, 0)
    if seq == _MAX_SEQ:
        return b"%d-0" % (ms + 1)
    return b"%d-%d" % (ms, seq + 1)


def stream_id_ms(entry_id: bytes) -> int | None:
    """The milliseconds part of a stream entry id (Redis's clock when it was added); None
    if it is not an id."""
    parsed = _parsed_id(entry_id)
    return None if parsed is None else parsed[0]


def redis_time_s(reply: RedisReply) -> float | None:
    """``TIME``'s answer (seconds and microseconds) as seconds; None if it is not one."""
    if not (isinstance(reply, list) and len(reply) == 2):
        return None
    seconds, micros = reply
    if not (isinstance(seconds, bytes) and isinstance(micros, bytes)):
        return None
    if not (seconds.isdigit() and micros.isdigit()):
        return None
    return int(seconds) + int(micros) / 1_000_000


def oldest_entry_age_s(entries: RedisReply, now_s: float) -> float:
    """Age of the first entry of an ``XRANGE`` reply (0 when it is empty: taken meanwhile)."""
    if not (isinstance(entries, list) and entries and isinstance(entries[0], list)):
        return 0.0
    entry_id = entries[0][0] if entries[0] else None
    added_ms = stream_id_ms(entry_id) if isinstance(entry_id, bytes) else None
    if added_ms is None:
        return 0.0
    return max(now_s - added_ms / 1000, 0.0)


def job_age_s(enqueued_at: RedisReply, now_s: float) -> float:
    """Age of an rq job from its ``enqueued_at`` (0 when it has none: gone meanwhile, or
    not rq's format)."""
    if not isinstance(enqueued_at, bytes) or not enqueued_at:
        return 0.0
    try:
        stamp = utcparse(enqueued_at.decode()).timestamp()
    except ValueError:  # UnicodeDecodeError is one
        return 0.0
    return max(now_s - stamp, 0.0)
