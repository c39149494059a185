"""``requestState`` of 2026-07-28 multi round-trip requests (mcp-protocol.md 7.5), sealed
with an HMAC so a client can carry it but not forge or alter it.

mcpfleet keeps no state between the rounds of a request: a handler that asked for input
ends, and runs again from the start when the client retries with the answers. The state
carries what a later round needs and the client cannot be trusted with in the clear:

- the answers of earlier rounds (a handler asking twice in a row gets its first answer
  back from the state when it runs for the third time);
- how many rounds were sealed before (``ctx.input_round``);
- what it is bound to: the method and a digest of the request's salient params (a tool's
  name and arguments, a prompt's name and arguments, a resource's URI), the principal, and
  an expiry. A state presented with another request, by another principal or too late is
  refused like a forged one: ``-32602``.

Format: ``<base64url(body)>.<base64url(HMAC-SHA256(key, body)[:16])>``; the body is a JSON
array (:class:`_Body`). Nothing here is secret from the client (it may read its own
answers back); integrity is the point. Single use is not enforced: replaying a state
replays a request the same principal could send again anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final

import msgspec

from proto.errors import InvalidParamsError

__all__ = ["OpenedState", "RequestBinding", "open_request_state", "seal_request_state"]

_FORMAT: Final = 1
_MAC_BYTES: Final = 16
_DIGEST_BYTES: Final = 16
_any_decoder: Final = msgspec.json.Decoder()


class RequestBinding(msgspec.Struct, frozen=True):
    """What a state belongs to: a request (its method and salient params) of a principal."""

    method: str
    digest: bytes
    principal: str

    @classmethod
    def of(cls, method: str, target: str, arguments: bytes, principal: str) -> RequestBinding:
        """The binding of ``method`` on ``target`` (a tool's or prompt's name, a resource's
        URI) with ``arguments`` (JSON; compared by value, so key order and spacing do not
        matter)."""
        try:
            canonical = msgspec.json.encode(_any_decoder.decode(arguments or b"{}"), order="sorted")
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
            canonical = bytes(arguments)
        digest = hashlib.sha256(b"\0".join((method.encode(), target.encode(), canonical)))
        return cls(method, digest.digest()[:_DIGEST_BYTES], principal)


class _Body(msgspec.Struct, frozen=True, array_like=True):
    format: int
    expires_ms: int
    method: str
    digest: bytes
    principal: str
    round: int
    answers: dict[str, msgspec.Raw]
    task_id: str = ""


class OpenedState(msgspec.Struct, frozen=True):
    """What a valid state carries: the rounds sealed so far and their answers, and the
    durable task the rounds gather input for ("" for a plain call; ADR-0011)."""

    round: int
    answers: dict[str, msgspec.Raw]
    task_id: str = ""


_body_decoder: Final = msgspec.json.Decoder(_Body)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]


def seal_request_state(
    key: bytes,
    binding: RequestBinding,
    *,
    round: int,
    answers: dict[str, msgspec.Raw],
    expires_ms: int,
    task_id: str = "",
) -> str:
    """A state for the next round of the request ``binding`` names; ``task_id`` names the
    durable task whose input the rounds gather, if any (ADR-0011)."""
    body = msgspec.json.encode(
        _Body(
            _FORMAT,
            expires_ms,
            binding.method,
            binding.digest,
            binding.principal,
            round,
            answers,
            task_id,
        )
    )
    return f"{_b64(body)}.{_b64(_mac(key, body))}"


def _invalid(why: str) -> InvalidParamsError:
    return InvalidParamsError(
        f"Invalid requestState: {why}; send the request again without requestState and "
        "inputResponses"
    )


def open_request_state(
    key: bytes, token: str, binding: RequestBinding, *, now_ms: int
) -> OpenedState:
    """Check a state the client echoed and return what it carries.

    Raises:
        InvalidParamsError: it is malformed, was altered or not issued with ``key``, has
            expired, or belongs to another request or principal (-32602).
    """
    encoded_body, dot, encoded_mac = token.partition(".")
    if not dot:
        raise _invalid("malformed")
    try:
        body = _unb64(encoded_body)
        mac = _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        raise _invalid("malformed") from None
    if not hmac.compare_digest(mac, _mac(key, body)):
        raise _invalid("altered, or not issued by this server")
    try:
        state = _body_decoder.decode(body)
    except msgspec.MsgspecError:
        raise _invalid("malformed") from None
    if state.format != _FORMAT:
        raise _invalid("issued by another version of this server")
    if state.expires_ms < now_ms:
        raise _invalid("expired")
    if state.method != binding.method or not hmac.compare_digest(state.digest, binding.digest):
        raise _invalid("issued for another request")
    if state.principal != binding.principal:
        raise _invalid("issued to another client")
    return OpenedState(state.round, state.answers, state.task_id)
