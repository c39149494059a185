"""Settle a dead worker's in-flight calls at once (DESIGN.md section 5, "Worker death").

The call stream's consumer group remembers which worker took which call. When a worker
exits, the supervisor claims every entry still pending for it, answers each caller with a
clear "worker lost" error, then acknowledges and deletes the entry and removes the consumer.
"""

from __future__ import annotations

from typing import Final

import msgspec
import structlog

from proto import (
    CALL_GROUP,
    CALL_PAYLOAD_FIELD,
    KEPT_REPLY_TTL_S,
    PUBLISH_OR_KEEP,
    ErrorCode,
    ErrorObject,
    ErrorReply,
    Keyspace,
    decode_call,
    encode_wire,
)
from server import RedisClient, RedisReply

__all__ = ["reap_worker_calls", "settle_orphaned_consumers"]

log = structlog.get_logger()

_REAPER_CONSUMER: Final = "supervisor-reaper"
_BATCH: Final = 500


async def reap_worker_calls(redis: RedisClient, keys: Keyspace, worker_id: str) -> int:
    """Answer and remove every call still pending for ``worker_id``; returns how many.

    Raises:
        BackendUnavailableError: Redis is unreachable (the entries stay pending).
    """
    stream = keys.call_stream()
    settled = 0
    await redis.execute("SCRIPT", "LOAD", PUBLISH_OR_KEEP.source)  # rare path: load each time
    while True:
        pending = await redis.execute("XPENDING", stream, CALL_GROUP, "-", "+", _BATCH, worker_id)
        ids = [e[0] for e in _lists(pending) if isinstance(e[0], bytes)]
        if not ids:
            break
        claimed = await redis.execute("XCLAIM", stream, CALL_GROUP, _REAPER_CONSUMER, 0, *ids)
        commands: list[list[bytes | str | int]] = []
        for entry in _lists(claimed):
            # An entry deleted meanwhile comes back without its fields.
            fields = entry[1] if len(entry) == 2 and isinstance(entry[1], list) else []
            lost = _worker_lost(fields)
            if lost is not None:
                front_id, call_id, payload = lost
                commands.append(
                    [
                        "EVALSHA",
                        PUBLISH_OR_KEEP.sha,
                        1,
                        keys.kept_replies(front_id),
                        keys.reply_channel(front_id),
                        payload,
                        call_id,
                        KEPT_REPLY_TTL_S,
                    ]
                )
        commands.append(["XACK", stream, CALL_GROUP, *ids])
        commands.append(["XDEL", stream, *ids])
        await redis.execute_many(commands)
        settled += len(ids)
    await redis.execute_many(
        [
            ("XGROUP", "DELCONSUMER", stream, CALL_GROUP, worker_id),
            # It is gone: readiness must not count it until its heartbeat would expire.
            ("ZREM", keys.live_workers(), worker_id),
            ("DEL", keys.worker_heartbeat(worker_id)),
        ]
    )
    if settled:
        log.warning("worker.calls_settled", worker_id=worker_id, calls=settled)
    return settled


def _lists(reply: RedisReply) -> list[list[RedisReply]]:
    return [e for e in reply if isinstance(e, list)] if isinstance(reply, list) else []


def _worker_lost(fields: list[RedisReply]) -> tuple[str, int, bytes] | None:
    payload = fields[1] if len(fields) >= 2 and fields[0] == CALL_PAYLOAD_FIELD else None
    if not isinstance(payload, bytes):
        return None
    try:
        call = decode_call(payload)
    except msgspec.MsgspecError:
        return None
    error = ErrorObject(
        ErrorCode.INTERNAL_ERROR,
        f"The worker running {call.tool!r} exited before answering; the call may have partly run",
        {"reason": "worker_lost"},
    )
    return call.front_id, call.call_id, encode_wire(ErrorReply(call.call_id, error))


async def settle_orphaned_consumers(redis: RedisClient, keys: Keyspace) -> int:
    """Settle the calls of every consumer whose worker has no live heartbeat.

    Covers workers that died with their supervisor (SIGKILL, a lost host): their ids are
    never reused, so only this sweep finds what they held. Safe with several supervisors on
    one fleet: a live worker's heartbeat protects its calls.

    Returns:
        How many calls were answered and removed.
    """
    reply = await redis.execute("XINFO", "CONSUMERS", keys.call_stream(), CALL_GROUP)
    names = [_field(entry, b"name") for entry in _lists(reply)]
    settled = 0
    for name in filter(None, names):
        if await redis.execute("EXISTS", keys.worker_heartbeat(name)) == 0:
            settled += await reap_worker_calls(redis, keys, name)
    return settled


def _field(flat: list[RedisReply], name: bytes) -> str | None:
    """A value from a RESP2 flat key/value list (XINFO's reply shape)."""
    for key, value in zip(flat[::2], flat[1::2], strict=False):
        if key == name and isinstance(value, bytes):
            return value.decode()
    return None
