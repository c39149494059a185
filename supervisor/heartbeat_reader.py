"""The supervisor's reading of its workers' heartbeats (``Keyspace.worker_heartbeat``):
each worker's load as of its latest beat, for the autoscaler and the status document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from proto import Keyspace, WorkerHeartbeat
from server import RedisClient, RedisReply
from supervisor.child_slot import ChildSlot

__all__ = ["read_heartbeats"]

_heartbeat_decoder: Final = msgspec.json.Decoder(WorkerHeartbeat)


async def read_heartbeats(
    redis: RedisClient, keys: Keyspace, slots: Sequence[ChildSlot]
) -> dict[str, WorkerHeartbeat]:
    """The latest heartbeat of each slot's current worker that has one, by worker id.

    Raises:
        BackendUnavailableError: Redis did not answer.
        RedisCommandError: Redis refused the read.
    """
    ids = [slot.child_id for slot in slots if slot.child_id is not None]
    if not ids:
        return {}
    reply = await redis.execute("MGET", *(keys.worker_heartbeat(i) for i in ids))
    return dict(_decoded(ids, reply))


def _decoded(ids: list[str], reply: RedisReply) -> list[tuple[str, WorkerHeartbeat]]:
    found = []
    values = reply if isinstance(reply, list) else []
    for worker_id, value in zip(ids, values, strict=False):
        if not isinstance(value, bytes):
            continue
        try:
            found.append((worker_id, _heartbeat_decoder.decode(value)))
        except msgspec.DecodeError:
            continue  # a record this supervisor cannot read counts as no heartbeat
    return found
