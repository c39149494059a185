"""The front side of the call lane: append a call to the stream, wait for its reply.

One Redis command per call from the front (XADD); the reply arrives on the front's own
pub/sub channel, routed by call id. No rq job, no thread hop (DESIGN.md section 6).
"""

from __future__ import annotations

import time

import msgspec
import trio

from proto import (
    CALL_PAYLOAD_FIELD,
    BackendUnavailableError,
    CallMessage,
    ErrorReply,
    Keyspace,
    LocalProtocolError,
    ResultReply,
    encode_wire,
)
from server.redis_client import RedisClient, RedisCommandError
from server.reply_router import ProgressSink, ReplyRouter

__all__ = ["CallQueue", "NoWorkerAnswerError"]


class NoWorkerAnswerError(LocalProtocolError):
    """No worker answered a call before its deadline (none running, or one hung)."""


class CallQueue:
    """Submits foreground calls for one front process.

    Args:
        redis: the front's Redis client.
        router: routes replies arriving on this front's channel.
        keys: the fleet's key schema.
        front_id: this front's id, naming its reply channel.
        reply_grace_s: extra wait beyond the tool timeout before giving up on a worker.
    """

    def __init__(
        self,
        redis: RedisClient,
        router: ReplyRouter,
        keys: Keyspace,
        *,
        front_id: str,
        reply_grace_s: float,
    ) -> None:
        self._redis = redis
        self._router = router
        self._stream = keys.call_stream()
        self._front_id = front_id
        self._reply_grace_s = reply_grace_s

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
    ) -> ResultReply | ErrorReply:
        """Enqueue a validated call and wait for the worker's reply.

        Raises:
            BackendUnavailableError: Redis refused or did not answer the XADD.
            NoWorkerAnswerError: no reply within the tool timeout plus the grace period.

        Cancellation: stops waiting; a worker that already took the call still runs it and
        its reply is dropped.
        """
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
        )
        with self._router.expect(call_id, on_progress) as pending:
            await self._append(message)
            with trio.move_on_after(timeout_s + self._reply_grace_s):
                await pending.done.wait()
            if pending.reply is None:
                raise NoWorkerAnswerError(
                    f"No worker answered the call to {tool!r} within {timeout_s:g} s",
                    {"reason": "no_worker_answer"},
                )
            return pending.reply

    async def _append(self, message: CallMessage) -> None:
        # NOMKSTREAM: if Redis lost the stream (restarted empty), appending would recreate it
        # without the consumer group and the call would wait for nobody; refuse instead,
        # while the workers re-create the lane.
        try:
            entry = await self._redis.execute(
                "XADD", self._stream, "NOMKSTREAM", "*", CALL_PAYLOAD_FIELD, encode_wire(message)
            )
        except RedisCommandError as exc:  # LOADING, OOM, MISCONF, READONLY…
            raise BackendUnavailableError(f"Redis refused the call: {exc}") from None
        if entry is None:
            raise BackendUnavailableError("the call lane is not ready (no worker has joined yet)")
