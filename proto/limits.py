"""Rate limits and admission as Redis sees them (ADR-0017): whose bucket a request charges,
the ``ADMIT`` script's arguments, and what its answer means.

Pure: the front builds the arguments here, runs the script and turns a refusal into the
error its transport renders (``proto.LimitExceededError``).
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Sequence
from typing import Final

import msgspec

from proto.lua_scripts import ADMIT
from proto.principal import Principal, PrincipalKind
from proto.resp import RedisArg, encode_command
from proto.tasks import TERMINAL_STATUSES

__all__ = [
    "AdmitRefusal",
    "Bucket",
    "RejectionReason",
    "admit_call_script",
    "admit_task_script",
    "encode_admit_head",
    "limit_identity",
    "read_admit_reply",
    "retry_after_s",
]

_IDENTITY_CHARS: Final = 32
"""Hex characters of a caller's identity in its keys: 128 bits of a SHA-256."""
_EMPTY_BULK: Final = b"$0\r\n\r\n"
_ENDED: Final = frozenset(status.value for status in TERMINAL_STATUSES)


class RejectionReason(enum.StrEnum):
    """Why a limit refused a request: ``data.reason`` of the error, the ``reason`` label of
    ``mcpfleet_rejections_total`` and of the ``limit.rejected`` audit line."""

    RATE_LIMITED = "rate_limited"
    """The caller's own bucket (``limits.rate``) is empty: HTTP 429."""
    TOOL_RATE_LIMITED = "tool_rate_limited"
    """The caller's bucket for this tool (``limits.tool_rates``) is empty: HTTP 429."""
    GLOBAL_RATE_LIMITED = "global_rate_limited"
    """The fleet's bucket (``limits.global_rate``), shared by every caller, is empty:
    HTTP 429."""
    QUEUE_FULL = "queue_full"
    """The lane the request needs holds ``limits.max_queued`` waiting entries: HTTP 503."""
    TOO_MANY_TASKS = "too_many_tasks"
    """The caller has ``limits.max_tasks_per_principal`` unfinished tasks: HTTP 429."""


class Bucket(msgspec.Struct, frozen=True):
    """One token bucket a request must find a token in.

    Attributes:
        reason: what its refusal is called.
        key: its Redis key (``Keyspace.rate_bucket`` or ``global_rate_bucket``).
        rate: tokens added per second.
        burst: the most it holds.
    """

    reason: RejectionReason
    key: str
    rate: float
    burst: int


class AdmitRefusal(msgspec.Struct, frozen=True, kw_only=True):
    """What ``ADMIT`` refused a request for.

    Attributes:
        reason: which limit.
        retry_after_s: whole seconds until a retry may succeed (at least 1).
        bucket: the refusing bucket (None: not a bucket's refusal).
        remaining: whole tokens left in it.
        reset_s: whole seconds until it is full again.
        waiting: what waited in the full lane, or the caller's task slots held.
        held: the caller's task slots: each task's id and when it was admitted (ms).
        now_ms: Redis's clock when the slots were read.
    """

    reason: RejectionReason
    retry_after_s: int
    bucket: Bucket | None = None
    remaining: int = 0
    reset_s: int = 0
    waiting: int = 0
    held: tuple[tuple[str, int], ...] = ()
    now_ms: int = 0

    def ended_slots(self, statuses: Sequence[bytes | None], *, creating_ms: int) -> list[str]:
        """The slots of :attr:`held` whose task no longer counts, given each task's
        ``status`` (None: no record): it ended, or its record is gone (expired) and it was
        admitted over ``creating_ms`` ago (a younger one may still be being created)."""
        ended: list[str] = []
        for (task_id, admitted_ms), status in zip(self.held, statuses, strict=True):
            if status is None:
                if self.now_ms - admitted_ms > creating_ms:
                    ended.append(task_id)
            elif status.decode(errors="replace") in _ENDED:
                ended.append(task_id)
        return ended


def limit_identity(principal: Principal, client: str) -> str:
    """Whose buckets a request charges: a bearer principal by its issuer and subject (one
    caller however many sessions or addresses it uses), the local user by name (stdio), an
    anonymous caller by its address (``client``; a new session is free to open, an address
    is not). A fixed-length digest, so a hostile subject makes no long or odd key."""
    parts: tuple[str, ...]
    if principal.kind == PrincipalKind.ANONYMOUS or not principal.subject:
        parts = ("address", client)
    elif principal.kind == PrincipalKind.LOCAL:
        parts = ("local", principal.subject)
    else:
        parts = (principal.kind, principal.issuer, principal.subject)
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return digest[:_IDENTITY_CHARS]


def admit_call_script(
    buckets: Sequence[Bucket], *, stream: str, group: str, field: bytes, max_queued: int = 0
) -> tuple[list[RedisArg], list[RedisArg]]:
    """``ADMIT``'s keys and arguments for a call that, once admitted, is appended to
    ``stream`` (the call lane, holding at most ``max_queued`` calls no worker of ``group``
    took; 0: no bound) as ``field``, all but the last argument: the encoded call."""
    keys: list[RedisArg] = [bucket.key for bucket in buckets]
    keys.append(stream)
    argv: list[RedisArg] = [len(buckets), "call", max_queued, group, field]
    return keys, _with_buckets(argv, buckets)


def admit_task_script(
    buckets: Sequence[Bucket],
    *,
    queue: str,
    slots: str = "",
    max_queued: int = 0,
    max_tasks: int = 0,
    slots_ttl_ms: int = 1,
) -> tuple[list[RedisArg], list[RedisArg]]:
    """``ADMIT``'s keys and arguments for a task the caller creates once admitted, on the
    task queue's list ``queue`` (holding at most ``max_queued`` tasks; 0: no bound), taking
    one of the caller's ``max_tasks`` task slots (``slots``, kept ``slots_ttl_ms``; 0: no
    bound), all but the last argument: the task's id."""
    keys: list[RedisArg] = [bucket.key for bucket in buckets]
    keys.append(queue)
    if max_tasks:
        keys.append(slots)
    argv: list[RedisArg] = [len(buckets), "task", max_queued, max_tasks, slots_ttl_ms]
    return keys, _with_buckets(argv, buckets)


def _with_buckets(argv: list[RedisArg], buckets: Sequence[Bucket]) -> list[RedisArg]:
    for bucket in buckets:
        argv += [bucket.rate, bucket.burst]
    return argv


def encode_admit_head(keys: Sequence[RedisArg], argv: Sequence[RedisArg]) -> bytes:
    """``EVALSHA`` of ``ADMIT`` with ``keys`` and ``argv`` as RESP, but for its last
    argument: a caller encodes what is constant for a caller once, then appends the
    request's own value as one bulk string (``$``, its length, CR LF, it, CR LF)."""
    # The array header counts the missing argument; its empty bulk ($0 CR LF CR LF) goes.
    whole = encode_command(["EVALSHA", ADMIT.sha, len(keys), *keys, *argv, b""])
    return whole[: -len(_EMPTY_BULK)]


def read_admit_reply(
    reply: object, buckets: Sequence[Bucket], *, busy_retry_after_s: int = 1
) -> AdmitRefusal | bytes | bool | None:
    """What ``ADMIT`` answered: the call's stream entry id (``call``), True (``task``
    admitted), an :class:`AdmitRefusal`, or None when the call stream does not exist.
    ``busy_retry_after_s``: the ``Retry-After`` of a full lane (no bucket times it).

    Raises:
        ValueError: not an answer the script gives.
    """
    if not isinstance(reply, list) or not reply or not isinstance(reply[0], bytes):
        raise ValueError(f"not an ADMIT answer: {reply!r}")
    verdict = reply[0]
    if verdict == b"ok":
        entry = reply[1] if len(reply) > 1 else None
        return entry if isinstance(entry, bytes) else True
    if verdict == b"no_lane":
        return None
    if verdict == b"tasks" and len(reply) >= 3 and len(reply) % 2 == 1:
        refusal = _too_many_tasks(reply, busy_retry_after_s)
        if refusal is not None:
            return refusal
    if verdict == b"queue_full" and len(reply) == 2 and isinstance(reply[1], int):
        return AdmitRefusal(
            reason=RejectionReason.QUEUE_FULL,
            retry_after_s=busy_retry_after_s,
            waiting=int(reply[1]),
        )
    if verdict == b"bucket" and len(reply) == 5 and all(isinstance(v, int) for v in reply[1:]):
        index, wait_ms, remaining, full_ms = (int(v) for v in reply[1:])
        if not 1 <= index <= len(buckets):
            raise ValueError(f"ADMIT named bucket {index} of {len(buckets)}")
        bucket = buckets[index - 1]
        return AdmitRefusal(
            reason=bucket.reason,
            retry_after_s=retry_after_s(wait_ms),
            bucket=bucket,
            remaining=max(remaining, 0),
            reset_s=math.ceil(max(full_ms, 0) / 1000),
        )
    raise ValueError(f"not an ADMIT answer: {reply!r}")


def _too_many_tasks(reply: list[object], busy_retry_after_s: int) -> AdmitRefusal | None:
    """``{"tasks", held, now, id, admitted, ...}`` read; None if it is not that."""
    held_count, now_ms, *flat = reply[1:]
    held = [
        (task_id.decode(), int(float(admitted)))
        for task_id, admitted in zip(flat[::2], flat[1::2], strict=True)
        if isinstance(task_id, bytes) and isinstance(admitted, bytes)
    ]
    if not (isinstance(held_count, int) and isinstance(now_ms, int)) or 2 * len(held) != len(flat):
        return None
    return AdmitRefusal(
        reason=RejectionReason.TOO_MANY_TASKS,
        retry_after_s=busy_retry_after_s,
        waiting=held_count,
        held=tuple(held),
        now_ms=now_ms,
    )


def retry_after_s(wait_ms: int) -> int:
    """A wait in milliseconds as ``Retry-After`` says it: whole seconds, rounded up, at
    least 1 (``Retry-After: 0`` would invite a retry that is refused again)."""
    return max(1, math.ceil(wait_ms / 1000))
