"""The front's half of 2026-07-28 multi round-trip requests (ADR-0009): open the
``requestState`` a retry echoes, merge its answers with the client's ``inputResponses`` for
the worker, and turn a worker's :class:`~proto.InputRequiredReply` into the
``InputRequiredResult`` with a freshly sealed state.

The sealing key is the fleet's: every front of every replica must open what another
sealed. It lives in Redis (``Keyspace.request_state_key``), created by the first front
that starts (``SET NX``) and read by the others; deleting it rotates it (states in flight
are then refused and their clients start over).
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Final

import msgspec

from proto import (
    InputRequiredReply,
    InputRequiredResult,
    InputRetry,
    InvalidParamsError,
    Keyspace,
    LocalProtocolError,
    RequestBinding,
    ResultMeta,
    input_responses,
    open_request_state,
    seal_request_state,
)
from server.redis_client import RedisClient

__all__ = ["InputRounds", "RoundInputs", "load_request_state_key"]

_encoder: Final = msgspec.json.Encoder()
_retry_decoder: Final = msgspec.json.Decoder(InputRetry)
_KEY_BYTES: Final = 32
_RETRY_MARKER: Final = re.compile(rb'"(?:inputResponses|requestState)"')


class RoundInputs(msgspec.Struct, frozen=True):
    """What a retry brings the worker: every answer known so far and its round."""

    answers: dict[str, msgspec.Raw]
    round: int


async def load_request_state_key(redis: RedisClient, keys: Keyspace) -> bytes:
    """The fleet's sealing key: created if no front made one yet, else the existing one.

    Raises:
        BackendUnavailableError: Redis did not answer.
        LocalProtocolError: Redis holds something that is not a key.
    """
    name = keys.request_state_key()
    await redis.execute("SET", name, secrets.token_bytes(_KEY_BYTES), "NX")
    key = await redis.execute("GET", name)
    if not isinstance(key, bytes) or len(key) < _KEY_BYTES // 2:
        raise LocalProtocolError(f"the request-state key at {name} is missing or too short")
    return key


class InputRounds:
    """Seals and opens the states of one fleet.

    Args:
        key: the fleet's sealing key (:func:`load_request_state_key`).
        ttl_s: how long a client may take to answer before its state expires.
        meta: the ``_meta`` stamped on results (the server's identity).
    """

    def __init__(self, key: bytes, *, ttl_s: float, meta: ResultMeta) -> None:
        self._key = key
        self._ttl_ms = int(ttl_s * 1000)
        self._meta = meta

    @staticmethod
    def is_retry(params: bytes | msgspec.Raw) -> bool:
        """Whether request params may carry a retry's members: a scan of the raw bytes
        without a copy (0.8 µs for a small call), so first rounds never pay for decoding
        them twice."""
        return _RETRY_MARKER.search(params) is not None

    def inputs(self, params: bytes | msgspec.Raw, binding: RequestBinding) -> RoundInputs | None:
        """The answers a retry brings (its sealed state's, then the client's new ones for
        keys the state does not hold), or None when the params are no retry.

        Raises:
            InvalidParamsError: malformed ``inputResponses``, or a state that does not open
                (altered, expired, another request's or principal's) (-32602).
        """
        if not self.is_retry(params):
            return None
        try:
            retry = _retry_decoder.decode(params)
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidParamsError(f"Invalid params: {exc}") from None
        answers = input_responses(retry.input_responses)
        if isinstance(retry.request_state, str):
            opened = open_request_state(
                self._key, retry.request_state, binding, now_ms=int(time.time() * 1000)
            )
            return RoundInputs({**answers, **opened.answers}, opened.round)
        return RoundInputs(answers, 0)

    def task_retry(
        self, params: bytes | msgspec.Raw, binding: RequestBinding
    ) -> tuple[str, dict[str, msgspec.Raw]] | None:
        """For a retry whose state names a durable task (:meth:`task_round`): the task and
        the client's new answers; None for any other request.

        Raises:
            InvalidParamsError: as :meth:`inputs`.
        """
        if not self.is_retry(params):
            return None
        try:
            retry = _retry_decoder.decode(params)
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidParamsError(f"Invalid params: {exc}") from None
        answers = input_responses(retry.input_responses)
        if not isinstance(retry.request_state, str):
            return None
        opened = open_request_state(
            self._key, retry.request_state, binding, now_ms=int(time.time() * 1000)
        )
        return (opened.task_id, answers) if opened.task_id else None

    def task_round(self, task_id: str, requests: msgspec.Raw, binding: RequestBinding) -> bytes:
        """The ``InputRequiredResult`` for a durable task that asked for input before its
        creating call was answered: its requests, and a state naming the task, so that the
        retry's answers go to it (ADR-0011)."""
        state = seal_request_state(
            self._key,
            binding,
            round=0,
            answers={},
            expires_ms=int(time.time() * 1000) + self._ttl_ms,
            task_id=task_id,
        )
        return _encoder.encode(
            InputRequiredResult(
                result_type="input_required",
                input_requests=requests,
                request_state=state,
                meta=self._meta,
            )
        )

    def result(self, reply: InputRequiredReply, binding: RequestBinding) -> bytes:
        """The ``InputRequiredResult`` for a worker's reply: its requests, and a state
        sealing the answers used so far for the next round."""
        state = seal_request_state(
            self._key,
            binding,
            round=reply.round,
            answers=reply.answers,
            expires_ms=int(time.time() * 1000) + self._ttl_ms,
        )
        return _encoder.encode(
            InputRequiredResult(
                result_type="input_required",
                input_requests=reply.requests,
                request_state=state,
                meta=self._meta,
            )
        )
