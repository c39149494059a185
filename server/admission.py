"""Admission control of one front (ADR-0017): which limits a request meets before it puts
work on a lane, the ``ADMIT`` script that checks them all at once in Redis, and what a
refusal becomes (the error its transport renders, an audit line, a count).

The check costs no round trip of its own on the call lane: ``ADMIT`` appends the call
itself (it replaces the lane's ``XADD``), and when no limit applies the lane keeps its
plain ``XADD``. A task's check runs in the thread that creates it, one round trip before
the creating transaction (``server/task_admission.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, NamedTuple

import rq

from proto import (
    CALL_GROUP,
    CALL_PAYLOAD_FIELD,
    AdmitRefusal,
    Bucket,
    CallKind,
    Keyspace,
    LimitExceededError,
    LocalProtocolError,
    OverloadedError,
    Principal,
    PrincipalKind,
    QueueLane,
    RateLimitedError,
    RedisArg,
    RejectionReason,
    TooManyTasksError,
    admit_call_script,
    admit_task_script,
    encode_admit_head,
    limit_identity,
    read_admit_reply,
)
from server.audit_log import Requester
from server.limits_config import LimitsConfig

if TYPE_CHECKING:  # server.metrics imports the call queue, which imports this module
    from server.metrics import FrontMetrics

__all__ = ["AdmissionControl", "AdmitCommand", "Caller"]


class Caller(NamedTuple):
    """Who a request is made for, as the limits see it."""

    principal: Principal
    client: str
    """The caller's address (``"stdio"`` on stdio, "" when unknown)."""
    request_id: str
    """This front's id of the request (log correlation)."""


_TARGET_FIELDS: Final[dict[str, str]] = {
    CallKind.TOOL: "tool",
    CallKind.RESOURCE: "resource",
    CallKind.PROMPT: "prompt",
    CallKind.COMPLETE: "completion",
}
"""The audit line's name for what a refused call was for, by its kind: a resource's URI is
not a tool."""

_CACHED_COMMANDS: Final = 10_000
"""Callers whose ``ADMIT`` commands a front keeps encoded; past it, it starts afresh."""


class AdmitCommand(NamedTuple):
    """``ADMIT`` for one caller (and tool): its keys and arguments but the last (the
    request's own: the encoded call, the task's id), encoded once, and the buckets they
    name (in order)."""

    keys: list[RedisArg]
    argv: list[RedisArg]
    buckets: Sequence[Bucket]
    head: bytes
    """``EVALSHA`` with ``keys`` and ``argv`` as RESP, awaiting the last argument."""
    busy_retry_after_s: int
    """``Retry-After`` of a full lane or of too many tasks."""
    slots: str = ""
    """A task's: the caller's task slots (``Keyspace.task_slots``), "" when unbounded."""

    def encoded(self, last: bytes) -> bytes:
        """The whole command, ending with ``last``."""
        return b"%b$%d\r\n%b\r\n" % (self.head, len(last), last)

    def argv_with(self, last: RedisArg) -> list[RedisArg]:
        """Every argument, ending with ``last`` (for ``EVAL`` when Redis lost the script)."""
        return [*self.argv, last]

    def read(self, reply: object) -> AdmitRefusal | bytes | bool | None:
        """The script's answer (``proto.read_admit_reply``).

        Raises:
            LocalProtocolError: not an answer the script gives.
        """
        try:
            return read_admit_reply(reply, self.buckets, busy_retry_after_s=self.busy_retry_after_s)
        except ValueError as exc:
            raise LocalProtocolError(f"ADMIT answered oddly: {exc}") from None


class AdmissionControl:
    """The limits one front enforces, shared with every other through Redis.

    Args:
        config: the ``[limits]`` settings.
        keys: the fleet's key schema.
        metrics: counts refusals (``mcpfleet_rejections_total``).
        task_slots_ttl_ms: how long a caller's task slots outlive its last task's
            admission (``front.task_max_ttl_ms``: no task lives longer unread).
    """

    def __init__(
        self,
        config: LimitsConfig,
        keys: Keyspace,
        metrics: FrontMetrics,
        *,
        task_slots_ttl_ms: int,
    ) -> None:
        self._config = config
        self._keys = keys
        self._metrics = metrics
        self._limits_calls = config.limits_rates or config.call_bound > 0
        self._limits_tasks = config.limits_tasks
        self._task_slots_ttl_ms = task_slots_ttl_ms
        self._commands: dict[tuple[str, ...], AdmitCommand | None] = {}
        self._stream = keys.call_stream()
        # rq's own key schema (ADR-0011): the task queue's list.
        self._task_queue = rq.Queue.redis_queue_namespace_prefix + keys.task_queue()
        self._fleet_bucket = (
            Bucket(
                RejectionReason.GLOBAL_RATE_LIMITED,
                keys.global_rate_bucket(),
                config.global_rate,
                config.fleet_burst,
            )
            if config.global_rate
            else None
        )

    def buckets(self, caller: Caller, tool: str | None) -> list[Bucket]:
        """The buckets a request of ``caller`` needs a token from: the fleet's, the
        caller's, and its bucket for ``tool`` (a ``tools/call``; None otherwise)."""
        config = self._config
        found: list[Bucket] = []
        if self._fleet_bucket is not None:
            found.append(self._fleet_bucket)
        tool_rate = config.tool_rates.get(tool) if tool is not None else None
        if not (config.rate or tool_rate):
            return found
        identity = limit_identity(caller.principal, caller.client)
        if config.rate:
            key = self._keys.rate_bucket(identity)
            found.append(
                Bucket(RejectionReason.RATE_LIMITED, key, config.rate, config.caller_burst)
            )
        if tool_rate is not None and tool is not None:
            key = self._keys.rate_bucket(identity, tool)
            found.append(
                Bucket(
                    RejectionReason.TOOL_RATE_LIMITED, key, tool_rate.rate, tool_rate.bucket_burst
                )
            )
        return found

    def call_command(self, caller: Caller, tool: str | None) -> AdmitCommand | None:
        """``ADMIT`` for a call of ``caller`` to the call lane (``tool``: the tool of a
        ``tools/call``); None when no limit applies (the lane's plain ``XADD`` does).
        Built once per caller and tool, then reused: the call path pays a lookup."""
        if not self._limits_calls:
            return None
        return self._command("call", caller, tool)

    def task_command(self, caller: Caller, tool: str) -> AdmitCommand | None:
        """``ADMIT`` for a task of ``tool`` about to be created; None when no limit
        applies."""
        if not self._limits_tasks:
            return None
        return self._command("task", caller, tool)

    def _command(self, mode: str, caller: Caller, tool: str | None) -> AdmitCommand | None:
        principal = caller.principal
        # The address tells anonymous callers apart only (proto.limit_identity).
        anonymous = principal.kind == PrincipalKind.ANONYMOUS or not principal.subject
        address = caller.client if anonymous else ""
        cache_key = (mode, principal.kind, principal.issuer, principal.subject, address, tool or "")
        try:
            return self._commands[cache_key]
        except KeyError:
            pass
        if len(self._commands) >= _CACHED_COMMANDS:
            self._commands.clear()
        command = self._commands[cache_key] = self._build(mode, caller, tool)
        return command

    def _build(self, mode: str, caller: Caller, tool: str | None) -> AdmitCommand | None:
        config = self._config
        buckets = self.buckets(caller, tool)
        if mode == "call":
            if not (buckets or config.call_bound):
                return None
            keys, argv = admit_call_script(
                buckets,
                stream=self._stream,
                group=CALL_GROUP,
                field=CALL_PAYLOAD_FIELD,
                max_queued=config.call_bound,
            )
            return AdmitCommand(
                keys, argv, buckets, encode_admit_head(keys, argv), config.retry_after_s
            )
        max_tasks = config.max_tasks_per_principal
        if not (buckets or config.task_bound or max_tasks):
            return None
        slots = ""
        if max_tasks:
            slots = self._keys.task_slots(limit_identity(caller.principal, caller.client))
        keys, argv = admit_task_script(
            buckets,
            queue=self._task_queue,
            slots=slots,
            max_queued=config.task_bound,
            max_tasks=max_tasks,
            slots_ttl_ms=self._task_slots_ttl_ms,
        )
        head = encode_admit_head(keys, argv)
        return AdmitCommand(keys, argv, buckets, head, config.retry_after_s, slots)

    def refuse(
        self,
        refusal: AdmitRefusal,
        caller: Caller,
        target: str,
        *,
        lane: QueueLane,
        kind: str = CallKind.TOOL,
    ) -> LimitExceededError:
        """The error ``refusal`` answers the request with, once audited and counted.
        ``target``: what the request was for, a ``kind`` of call (:class:`CallKind`: a
        tool, a resource's URI, a prompt, a completion provider); ``lane``: where it would
        have waited."""
        reason = refusal.reason
        self._metrics.rejected(reason)
        requester = Requester(
            principal=caller.principal, request_id=caller.request_id, client=caller.client
        )
        requester.audit(
            "limit.rejected",
            **{_TARGET_FIELDS.get(kind, "target"): target},
            reason=reason.value,
            retry_after_s=refusal.retry_after_s,
            outcome="rejected",
        )
        return _error(refusal, target, lane, self._config.max_tasks_per_principal)


def _error(
    refusal: AdmitRefusal, target: str, lane: QueueLane, max_tasks: int
) -> LimitExceededError:
    reason = refusal.reason
    retry = refusal.retry_after_s
    if reason is RejectionReason.TOO_MANY_TASKS:
        return TooManyTasksError(
            f"Too many unfinished tasks: at most {max_tasks} at once per caller; "
            "retry once one of yours has ended",
            reason=reason.value,
            retry_after_s=retry,
            maxTasks=max_tasks,
        )
    if reason is RejectionReason.QUEUE_FULL:
        what = "calls" if lane is QueueLane.CALLS else "tasks"
        return OverloadedError(
            f"Server overloaded: too many {what} are waiting for a worker; retry after {retry} s",
            reason=reason.value,
            retry_after_s=retry,
            lane=lane.value,
        )
    bucket = refusal.bucket
    if bucket is None:
        raise LocalProtocolError(f"a {reason} refusal without its bucket")
    quota = f"{bucket.rate:g} per second, {bucket.burst} at once"
    detail: dict[str, str | int] = {}
    if reason is RejectionReason.TOOL_RATE_LIMITED:
        message = f"Rate limit exceeded for tool {target!r} ({quota}): retry after {retry} s"
        detail["tool"] = target
    elif reason is RejectionReason.GLOBAL_RATE_LIMITED:
        message = f"The server's rate limit is exceeded ({quota}): retry after {retry} s"
    else:
        message = f"Rate limit exceeded ({quota}): retry after {retry} s"
    return RateLimitedError(
        message,
        reason=reason.value,
        retry_after_s=retry,
        limit=bucket.burst,
        remaining=refusal.remaining,
        reset_s=refusal.reset_s,
        **detail,
    )
