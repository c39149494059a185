"""Settle a dead worker's in-flight calls at once (DESIGN.md section 5, "Worker death").

The call stream's consumer group remembers which worker took which call. When a worker
exits, the supervisor claims every entry still pending for it and settles each: a call of a
tool declared idempotent with runs left (``CallMessage.max_runs``) and time left before its
deadline goes back on the stream as its next run, for another worker (ADR-0014); the front
waiting for it is none the wiser, since the reply still names its call id. Any other caller
gets a clear "worker lost" error. Then every entry is acknowledged and deleted and the
consumer removed. Entries are claimed under one consumer, ``supervisor-reaper``, while they
are settled; the orphan sweep never deletes it.
"""

from __future__ import annotations

import time
from typing import Final

import msgspec
import structlog

from proto import (
    CALL_GROUP,
    CALL_PAYLOAD_FIELD,
    KEPT_REPLY_TTL_S,
    PUBLISH_OR_KEEP,
    REDELIVER_CALL,
    CallMessage,
    ErrorCode,
    ErrorObject,
    ErrorReply,
    Keyspace,
    decode_call,
    encode_wire,
)
from server import RedisClient, RedisReply

__all__ = ["REAPER_STALE_AFTER_S", "next_run", "reap_worker_calls", "settle_orphaned_consumers"]

log = structlog.get_logger()

_REAPER_CONSUMER: Final = "supervisor-reaper"
_BATCH: Final = 500

REAPER_STALE_AFTER_S: Final = 60.0
"""How long the reaper consumer may hold a call before the sweep settles it: a reap takes
milliseconds, so only a supervisor that died mid-reap leaves one that old."""


async def reap_worker_calls(
    redis: RedisClient, keys: Keyspace, worker_id: str, *, redeliver: bool = True
) -> int:
    """Settle every call still pending for ``worker_id``; returns how many.

    Args:
        redis: the supervisor's client.
        keys: the fleet's key schema.
        worker_id: the lost worker's consumer name.
        redeliver: put idempotent tools' calls back on the stream (:func:`next_run`);
            False when no worker would take them (the fleet is stopping).

    Raises:
        BackendUnavailableError: Redis is unreachable (the entries stay pending).
    """
    await _load_scripts(redis)
    settled, redelivered = await _settle_pending(redis, keys, worker_id, redeliver=redeliver)
    await redis.execute_many(
        [
            ("XGROUP", "DELCONSUMER", keys.call_stream(), CALL_GROUP, worker_id),
            # It is gone: readiness must not count it until its heartbeat would expire.
            ("ZREM", keys.live_workers(), worker_id),
            ("DEL", keys.worker_heartbeat(worker_id)),
        ]
    )
    if settled:
        log.warning(
            "worker.calls_settled",
            worker_id=worker_id,
            calls=settled,
            redelivered=redelivered,
        )
    return settled


async def _load_scripts(redis: RedisClient) -> None:
    # Rare path: load each time (Redis may have restarted and forgotten them).
    await redis.execute_many(
        [("SCRIPT", "LOAD", PUBLISH_OR_KEEP.source), ("SCRIPT", "LOAD", REDELIVER_CALL.source)]
    )


async def _settle_pending(
    redis: RedisClient,
    keys: Keyspace,
    consumer: str,
    *,
    redeliver: bool,
    min_idle_ms: int = 0,
) -> tuple[int, int]:
    """Claim ``consumer``'s pending calls (those idle ``min_idle_ms`` or more) for the
    reaper and settle each; returns how many were settled and how many redelivered.

    With ``min_idle_ms``, only what the claim won is settled, one batch: a reap running
    right now holds its entries freshly claimed (idle near 0), so they are left to it.
    """
    stream = keys.call_stream()
    settled = redelivered = 0
    idle: list[str | int] = ["IDLE", min_idle_ms] if min_idle_ms else []
    while True:
        pending = await redis.execute(
            "XPENDING", stream, CALL_GROUP, *idle, "-", "+", _BATCH, consumer
        )
        ids = [e[0] for e in _lists(pending) if isinstance(e[0], bytes)]
        if not ids:
            break
        claimed = _lists(
            await redis.execute("XCLAIM", stream, CALL_GROUP, _REAPER_CONSUMER, min_idle_ms, *ids)
        )
        if min_idle_ms:
            ids = [e[0] for e in claimed if isinstance(e[0], bytes)]
            if not ids:
                break
        now_ms = int(time.time() * 1000)
        commands: list[list[bytes | str | int]] = []
        runs: dict[int, CallMessage] = {}  # command index → the run it appends
        for entry in claimed:
            call = _call_of(entry)
            if call is None:
                continue  # deleted meanwhile, or garbage: nobody to answer
            following = next_run(call, now_ms) if redeliver else None
            if following is not None and isinstance(entry[0], bytes):
                runs[len(commands)] = following
                commands.append(_redelivery(keys, entry[0], following))
            else:
                commands.append(_worker_lost(keys, call))
        commands.append(["XACK", stream, CALL_GROUP, *ids])
        commands.append(["XDEL", stream, *ids])
        replies = await redis.execute_many(commands)
        for index, call in runs.items():
            if isinstance(replies[index], bytes):  # nil: another supervisor settled it first
                redelivered += 1
                _log_redelivered(call, consumer, now_ms)
        settled += len(ids)
        if min_idle_ms:
            break
    return settled, redelivered


def next_run(call: CallMessage, now_ms: int) -> CallMessage | None:
    """The call's next run if it may have one: its tool is idempotent (the front allowed
    more than one run), runs are left, and its caller still waits (deadline not passed).
    ``None``: its caller is answered "worker lost" instead."""
    if call.run >= call.max_runs or call.deadline_ms <= now_ms:
        return None
    return msgspec.structs.replace(call, run=call.run + 1)


def _lists(reply: RedisReply) -> list[list[RedisReply]]:
    return [e for e in reply if isinstance(e, list)] if isinstance(reply, list) else []


def _call_of(entry: list[RedisReply]) -> CallMessage | None:
    # An entry deleted meanwhile comes back without its fields.
    fields = entry[1] if len(entry) == 2 and isinstance(entry[1], list) else []
    payload = fields[1] if len(fields) >= 2 and fields[0] == CALL_PAYLOAD_FIELD else None
    if not isinstance(payload, bytes):
        return None
    try:
        return decode_call(payload)
    except msgspec.MsgspecError:
        return None


def _redelivery(keys: Keyspace, entry_id: bytes, call: CallMessage) -> list[bytes | str | int]:
    return [
        "EVALSHA", REDELIVER_CALL.sha, 1, keys.call_stream(),
        CALL_GROUP, entry_id, CALL_PAYLOAD_FIELD, encode_wire(call),
    ]  # fmt: skip


def _worker_lost(keys: Keyspace, call: CallMessage) -> list[bytes | str | int]:
    error = ErrorObject(
        ErrorCode.INTERNAL_ERROR,
        f"The worker running {call.tool!r} exited before answering; the call may have partly run",
        {"reason": "worker_lost"},
    )
    return [
        "EVALSHA", PUBLISH_OR_KEEP.sha, 1, keys.kept_replies(call.front_id),
        keys.reply_channel(call.front_id), encode_wire(ErrorReply(call.call_id, error)),
        call.call_id, KEPT_REPLY_TTL_S,
    ]  # fmt: skip


def _log_redelivered(call: CallMessage, worker_id: str, now_ms: int) -> None:
    log.info(
        "call.redelivered",
        request_id=call.request_id,
        call_id=call.call_id,
        tool=call.tool,
        worker_id=worker_id,
        run=call.run,
        max_runs=call.max_runs,
        remaining_s=round((call.deadline_ms - now_ms) / 1000, 3),
    )


async def settle_orphaned_consumers(
    redis: RedisClient, keys: Keyspace, *, reaper_stale_after_s: float = REAPER_STALE_AFTER_S
) -> int:
    """Settle the calls of every consumer whose worker has no live heartbeat.

    The supervisors' own reaper consumer is never one of them (it has no heartbeat): only
    calls it has held for ``reaper_stale_after_s`` or longer, left by a supervisor that
    died mid-reap, are settled, and it is not deleted.

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
        if name == _REAPER_CONSUMER:
            # Never an orphan: deleting it could drop entries a reap claimed a moment ago
            # and has not settled yet. Only what it held for long (a supervisor that died
            # mid-reap) is settled, and the consumer stays.
            settled += await _settle_stale_reaper_entries(redis, keys, reaper_stale_after_s)
        elif await redis.execute("EXISTS", keys.worker_heartbeat(name)) == 0:
            settled += await reap_worker_calls(redis, keys, name)
    return settled


async def _settle_stale_reaper_entries(
    redis: RedisClient, keys: Keyspace, stale_after_s: float
) -> int:
    await _load_scripts(redis)
    min_idle_ms = max(1, int(stale_after_s * 1000))
    settled, redelivered = await _settle_pending(
        redis, keys, _REAPER_CONSUMER, redeliver=True, min_idle_ms=min_idle_ms
    )
    if settled:
        log.warning(
            "reaper.stale_calls_settled",
            consumer=_REAPER_CONSUMER,
            calls=settled,
            redelivered=redelivered,
        )
    return settled


def _field(flat: list[RedisReply], name: bytes) -> str | None:
    """A value from a RESP2 flat key/value list (XINFO's reply shape)."""
    for key, value in zip(flat[::2], flat[1::2], strict=False):
        if key == name and isinstance(value, bytes):
            return value.decode()
    return None
