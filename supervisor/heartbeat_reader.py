"""The supervisor's reading of its workers' heartbeats (``Keyspace.worker_heartbeat``):
each worker's load as of its latest beat, for the autoscaler and the status document; and
of its fronts' load records (``Keyspace.front_load``), for the status document."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import msgspec

from proto import FrontLoad, Keyspace, WorkerHeartbeat, decode_front_load
from server import RedisClient, RedisReply
from supervisor.child_slot import ChildSlot
from supervisor.health_policy import beat_is_recent

__all__ = ["read_front_loads", "read_heartbeats", "read_recent_heartbeats"]

_heartbeat_decoder: Final = msgspec.json.Decoder(WorkerHeartbeat)
_Record = TypeVar("_Record")


async def read_heartbeats(
    redis: RedisClient, keys: Keyspace, slots: Sequence[ChildSlot]
) -> dict[str, WorkerHeartbeat]:
    """The latest heartbeat of each slot's current worker that has one, by worker id.

    Raises:
        BackendUnavailableError: Redis did not answer.
        RedisCommandError: Redis refused the read.
    """
    return await _read_records(redis, slots, keys.worker_heartbeat, _heartbeat_decoder.decode)


async def read_front_loads(
    redis: RedisClient, keys: Keyspace, slots: Sequence[ChildSlot]
) -> dict[str, FrontLoad]:
    """The latest load record of each slot's current front that has one, by front id.

    Raises:
        BackendUnavailableError: Redis did not answer.
        RedisCommandError: Redis refused the read.
    """
    return await _read_records(redis, slots, keys.front_load, decode_front_load)


async def _read_records(
    redis: RedisClient,
    slots: Sequence[ChildSlot],
    key_of: Callable[[str], str],
    decode: Callable[[bytes], _Record],
) -> dict[str, _Record]:
    """The record under ``key_of(child id)`` of each slot's current child, in one MGET."""
    ids = [slot.child_id for slot in slots if slot.child_id is not None]
    if not ids:
        return {}
    reply = await redis.execute("MGET", *(key_of(i) for i in ids))
    return dict(_decoded(ids, reply, decode))


async def read_recent_heartbeats(
    redis: RedisClient, keys: Keyspace, ids: Sequence[str], *, ttl_ms: int, within_ms: int
) -> dict[str, WorkerHeartbeat]:
    """The latest heartbeat of each of the workers ``ids`` that beat within ``within_ms``,
    by worker id, in one round trip. A record lives its whole TTL (five intervals), so a
    hung worker's last one still reads as its load for a while: its ``live_workers``
    score (the beat's time plus ``ttl_ms``) tells how old it is.

    Raises:
        BackendUnavailableError: Redis did not answer.
        RedisCommandError: Redis refused the read.
    """
    if not ids:
        return {}
    records, scores = await redis.execute_many(
        [
            ("MGET", *(keys.worker_heartbeat(i) for i in ids)),
            ("ZMSCORE", keys.live_workers(), *ids),
        ]
    )
    now_ms = int(time.time() * 1000)
    expiries = dict(zip(ids, _scores(scores), strict=False))
    return {
        worker_id: beat
        for worker_id, beat in _decoded(list(ids), records, _heartbeat_decoder.decode)
        if beat_is_recent(expiries.get(worker_id), ttl_ms, now_ms=now_ms, within_ms=within_ms)
    }


def _scores(reply: RedisReply) -> list[float | None]:
    values = reply if isinstance(reply, list) else []
    return [_score(value) for value in values]


def _score(value: RedisReply) -> float | None:
    if not isinstance(value, bytes):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _decoded(
    ids: list[str], reply: RedisReply, decode: Callable[[bytes], _Record]
) -> list[tuple[str, _Record]]:
    found = []
    values = reply if isinstance(reply, list) else []
    for child_id, value in zip(ids, values, strict=False):
        if not isinstance(value, bytes):
            continue
        try:
            found.append((child_id, decode(value)))
        except msgspec.DecodeError:
            continue  # a record this supervisor cannot read counts as none
    return found
