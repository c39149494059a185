"""The front side of the call lane: append a call to the stream, wait for its reply.

One Redis command per call from the front: XADD, or ``ADMIT`` (which appends the call
once its limits allow it, ADR-0017) when a limit applies; the reply arrives on the front's
own pub/sub channel, routed by call id. No rq job, no thread hop (DESIGN.md section 6).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import msgspec
import structlog
import trio

from proto import (
    ADMIT,
    CALL_PAYLOAD_FIELD,
    CANCEL_STREAM_MAXLEN,
    AdmitRefusal,
    AnsweredInput,
    BackendUnavailableError,
    BroadcastMessage,
    CallKind,
    CallMessage,
    CancelCall,
    CancelledReply,
    CancelRequest,
    ErrorReply,
    FleetError,
    InputRequiredReply,
    Keyspace,
    LocalProtocolError,
    Principal,
    QueueLane,
    ResultReply,
    ShuttingDownError,
    encode_wire,
)
from server.admission import AdmissionControl, AdmitCommand, Caller
from server.redis_client import RedisClient, RedisCommandError, RedisReply
from server.reply_router import ClientRequestSink, LogSink, ProgressSink, ReplyRouter

__all__ = [
    "IDEMPOTENT_CALL_MAX_RUNS",
    "LONG_WAIT_S",
    "CallCancelledError",
    "CallQueue",
    "NoWorkerAnswerError",
]

log = structlog.get_logger()

LONG_WAIT_S: Final = 0.25
"""A call still unanswered after this long is a long one (``on_long_wait``). Most calls
answer far sooner, even under load; a client that goes away from a shorter call costs at
most this much of a worker's time (ADR-0004)."""

_ANONYMOUS: Final = Principal.anonymous()

IDEMPOTENT_CALL_MAX_RUNS: Final = 3
"""Runs at most of a call to a tool declared idempotent: a run lost with its worker is put
back on the stream for another worker (ADR-0014), like a durable task's (ADR-0011)."""


class NoWorkerAnswerError(LocalProtocolError):
    """No worker answered a call before its deadline (none running, or one hung)."""


class CallCancelledError(FleetError):
    """The client cancelled the call (``notifications/cancelled``, possibly through another
    front): the transport sends no response for the request."""


class CallQueue:
    """Submits foreground calls for one front process.

    Args:
        redis: the front's Redis client.
        router: routes replies arriving on this front's channel.
        keys: the fleet's key schema.
        front_id: this front's id, naming its reply channel.
        reply_grace_s: extra wait beyond the tool timeout before giving up on a worker.
        admission: the limits a call must meet before it is appended (ADR-0017).
        cancel_timeout_s: how long a cancelled caller waits to tell the workers.
    """

    def __init__(
        self,
        redis: RedisClient,
        router: ReplyRouter,
        keys: Keyspace,
        *,
        front_id: str,
        reply_grace_s: float,
        admission: AdmissionControl,
        cancel_timeout_s: float = 2.0,
    ) -> None:
        self._redis = redis
        self._admission = admission
        self._router = router
        self._keys = keys
        self._stream = keys.call_stream()
        self._cancels = keys.cancel_stream()
        self._front_id = front_id
        self._reply_grace_s = reply_grace_s
        self._cancel_timeout_s = cancel_timeout_s

    async def call(
        self,
        *,
        tool: str,
        arguments: bytes,
        protocol_version: str,
        request_id: str,
        timeout_s: float,
        progress_token: int | str | None = None,
        on_progress: ProgressSink | None = None,
        cancel_key: str | None = None,
        on_long_wait: Callable[[], None] | None = None,
        log_level: str | None = None,
        on_log: LogSink | None = None,
        principal: Principal | None = None,
        kind: CallKind = CallKind.TOOL,
        client_capabilities: int = 0,
        on_request: ClientRequestSink | None = None,
        input_responses: dict[str, msgspec.Raw] | None = None,
        input_round: int = 0,
        max_runs: int = 1,
        client: str = "",
    ) -> ResultReply | ErrorReply | InputRequiredReply:
        """Enqueue a validated call and wait for the worker's reply.

        ``kind`` says what ``tool`` names and ``arguments`` carry (``CallKind``: a tool
        call, a resource read, a prompt get or a completion; ADR-0007).
        ``cancel_key`` lets the client cancel the call by request id through any front
        (:meth:`cancel_request`). ``on_long_wait`` is called once if no reply came within
        :data:`LONG_WAIT_S` (a transport starts watching for the client's disconnect only
        then, so the many fast calls never pay for it; ADR-0004). The worker sends log
        entries at ``log_level`` and above (None: none) to ``on_log``. ``principal``: who
        the call is made for, handed to the handler. A handler may ask the client what
        ``client_capabilities`` allow (ADR-0009): in the handshake era its requests go to
        ``on_request``; at 2026-07-28 it ends with an :class:`InputRequiredReply` unless
        ``input_responses`` (round ``input_round``) answer them. ``max_runs`` above 1
        (an idempotent tool, :data:`IDEMPOTENT_CALL_MAX_RUNS`) lets the supervisor run the
        call again on another worker if its worker is lost (ADR-0014): the reply still
        names this call id, and a cancel still reaches whichever worker holds it.
        ``client``: the caller's address, keying an anonymous caller's rate limit.

        Raises:
            LimitExceededError: a limit refused the call; nothing was appended.
            BackendUnavailableError: Redis refused or did not answer the XADD.
            NoWorkerAnswerError: no reply within the tool timeout plus the grace period.
            CallCancelledError: the client cancelled the call by its request id.
            ShuttingDownError: the front's grace period ended first (:meth:`end_waits`).

        Cancellation (of the awaiting task: the client went away): the workers are told to
        stop the call, wherever it is (queued or running), and its reply never comes.
        """
        if self._router.closed:
            raise ShuttingDownError
        call_id = self._router.next_call_id()
        message = CallMessage(
            call_id=call_id,
            front_id=self._front_id,
            tool=tool,
            arguments=msgspec.Raw(arguments or b"{}"),
            protocol_version=protocol_version,
            deadline_ms=int((time.time() + timeout_s) * 1000),
            request_id=request_id,
            progress_token=progress_token,
            cancel_key=cancel_key,
            log_level=log_level,
            principal=principal,
            kind=kind,
            client_capabilities=client_capabilities,
            input_responses=input_responses,
            input_round=input_round,
            max_runs=max_runs,
        )
        with self._router.expect(
            call_id, on_progress, on_log, on_request, deadline_ms=message.deadline_ms
        ) as pending:
            try:
                await self._append(message, client)
                deadline = trio.current_time() + timeout_s + self._reply_grace_s
                if on_long_wait is not None:
                    with trio.move_on_at(min(deadline, trio.current_time() + LONG_WAIT_S)):
                        await pending.done.wait()
                    if not pending.done.is_set():
                        on_long_wait()
                with trio.move_on_at(deadline):
                    await pending.done.wait()
            except trio.Cancelled:
                if pending.reply is None:
                    await self._publish_cancel(
                        CancelCall(self._front_id, call_id, message.deadline_ms)
                    )
                raise
            reply = pending.reply
            if pending.ended:
                raise ShuttingDownError  # end_waits tells the worker
            if reply is None:
                raise NoWorkerAnswerError(
                    f"No worker answered the call to {kind} {tool!r} within {timeout_s:g} s",
                    {"reason": "no_worker_answer"},
                )
            if isinstance(reply, CancelledReply):
                raise CallCancelledError(f"the call to {tool!r} was cancelled by the client")
            return reply

    async def end_waits(self) -> int:
        """The front's grace period is over: every call still waiting for its worker, and
        every call made from now on, raises :class:`ShuttingDownError` at once (its client
        is answered); the workers are told to stop the calls that were waiting, best effort
        within the cancel timeout. Returns how many calls were waiting."""
        ended = self._router.end_waits()
        if not ended:
            return 0
        with trio.CancelScope(shield=True), trio.move_on_after(self._cancel_timeout_s):
            try:
                for call_id, deadline_ms in ended:
                    await self._append_cancel(CancelCall(self._front_id, call_id, deadline_ms))
            except (BackendUnavailableError, RedisCommandError) as exc:
                log.warning("call.cancel_not_sent", calls=len(ended), error=str(exc))
        return len(ended)

    async def cancel_request(self, cancel_key: str, *, within_s: float) -> None:
        """Ask the workers to stop the call carrying ``cancel_key``, if it is queued or
        running, or is taken in the next ``within_s`` seconds (the longest a call can wait).

        Raises:
            BackendUnavailableError: Redis refused or did not answer.
        """
        expires_ms = int((time.time() + within_s) * 1000)
        await self._append_cancel(CancelRequest(cancel_key, expires_ms))

    async def answer_request(self, request_id: str, session_id: str, response: bytes) -> bool:
        """Hand a client's response to the worker whose handler asked (ADR-0009), wherever
        it runs (it reads the broadcast stream). Only a request still outstanding, asked
        for ``session_id`` ("" on stdio), is answered, once; anything else is dropped, so a
        client cannot fill the broadcast stream with answers nobody waits for.

        Returns:
            Whether the response was passed on.

        Raises:
            BackendUnavailableError: Redis refused or did not answer.
        """
        key = self._keys.outstanding_ask(request_id)
        try:
            owner = await self._redis.execute("GET", key)
        except RedisCommandError as exc:
            raise BackendUnavailableError(f"Redis refused the answer: {exc}") from None
        if not isinstance(owner, bytes) or owner.decode() != session_id:
            return False
        await self._append_cancel(AnsweredInput(request_id, session_id, msgspec.Raw(response)))
        try:
            await self._redis.execute("DEL", key)
        except RedisCommandError as exc:  # the worker takes one answer anyway
            log.warning("ask.key_not_deleted", error=str(exc))
        return True

    async def _publish_cancel(self, cancel: CancelCall) -> None:
        # Shielded and bounded: the caller is being cancelled, and the worker holding the
        # call must still hear of it. Best effort: if Redis is unreachable the call runs on
        # and its reply is dropped.
        with trio.CancelScope(shield=True), trio.move_on_after(self._cancel_timeout_s):
            try:
                await self._append_cancel(cancel)
            except (BackendUnavailableError, RedisCommandError) as exc:
                log.warning("call.cancel_not_sent", call_id=cancel.call_id, error=str(exc))

    async def _append_cancel(self, cancel: BroadcastMessage) -> None:
        try:
            await self._redis.execute(
                "XADD", self._cancels, "MAXLEN", "~", CANCEL_STREAM_MAXLEN, "*",
                CALL_PAYLOAD_FIELD, encode_wire(cancel),
            )  # fmt: skip
        except RedisCommandError as exc:
            raise BackendUnavailableError(f"Redis refused the cancellation: {exc}") from None

    async def _append(self, message: CallMessage, client: str) -> None:
        # NOMKSTREAM: if Redis lost the stream (restarted empty), appending would recreate it
        # without the consumer group and the call would wait for nobody; refuse instead,
        # while the workers re-create the lane.
        payload = encode_wire(message)
        caller = Caller(message.principal or _ANONYMOUS, client, message.request_id)
        tool = message.tool if message.kind is CallKind.TOOL else None
        admit = self._admission.call_command(caller, tool)
        entry: AdmitRefusal | RedisReply | bool
        try:
            if admit is None:
                entry = await self._redis.execute(
                    "XADD", self._stream, "NOMKSTREAM", "*", CALL_PAYLOAD_FIELD, payload
                )
            else:
                entry = admit.read(await self._admit(admit, payload))
        except RedisCommandError as exc:  # LOADING, OOM, MISCONF, READONLY…
            raise BackendUnavailableError(f"Redis refused the call: {exc}") from None
        if isinstance(entry, AdmitRefusal):
            raise self._admission.refuse(
                entry, caller, message.tool, lane=QueueLane.CALLS, kind=message.kind
            )
        if entry is None:
            raise BackendUnavailableError("the call lane is not ready (no worker has joined yet)")

    async def _admit(self, admit: AdmitCommand, payload: bytes) -> RedisReply:
        """``ADMIT`` appending ``payload``: its arguments encoded once per caller, so the
        call path pays what a plain ``XADD`` does (ADR-0017); the script's source goes
        only when Redis does not know it (first use, restart)."""
        try:
            return await self._redis.execute_encoded(admit.encoded(payload))
        except RedisCommandError as exc:
            if "NOSCRIPT" not in str(exc):
                raise
        return await self._redis.run_script(ADMIT, admit.keys, admit.argv_with(payload))
