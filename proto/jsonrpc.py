"""JSON-RPC 2.0 framing: decode one incoming message or a batch, encode replies
(mcp-protocol.md 2.1, 2.2).

Decoding is two-step (STYLE: envelope first, ``Raw`` params): the envelope is decoded once,
``params`` stays raw until the method's own decoder reads it, so tool arguments can be
forwarded to a worker without being re-encoded.

Batches (JSON arrays) exist only in 2025-03-26 (``proto.versions.allows_batches``): a
transport asks :func:`is_batch` of every body, which costs one byte comparison, and only
then :func:`decode_batch`; everywhere else :func:`decode_message` refuses an array.
"""

from __future__ import annotations

from typing import Final, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from proto.error_codes import ErrorCode
from proto.errors import (
    FleetError,
    InvalidParamsError,
    InvalidRequestError,
    ParseError,
    ProtocolError,
)
from proto.json_limits import DEFAULT_MAX_JSON_DEPTH, nesting_exceeds
from proto.methods import INITIALIZE

__all__ = [
    "BatchReplies",
    "ClientResponse",
    "IncomingMessage",
    "Notification",
    "Request",
    "RequestError",
    "RequestId",
    "batch_refused_error",
    "decode_batch",
    "decode_message",
    "decode_params",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_result",
    "is_batch",
]

RequestId = int | str
"""A request id; kept verbatim (``"1"`` and ``1`` differ) and echoed with its JSON type."""

JSONRPC_VERSION: Final = "2.0"

T = TypeVar("T")


class Request(msgspec.Struct, frozen=True):
    """A request: has an id and a method; ``params`` is the raw JSON (empty when absent)."""

    id: RequestId
    method: str
    params: msgspec.Raw


class Notification(msgspec.Struct, frozen=True):
    """A message without an id: never answered, unknown ones ignored."""

    method: str
    params: msgspec.Raw


class ClientResponse(msgspec.Struct, frozen=True):
    """A response the client posted (to a server-initiated request): its ``result`` or
    its ``error``, still encoded (the other one empty)."""

    id: RequestId | None
    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    error: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)

    def outcome(self) -> bytes:
        """The response without its envelope: ``{"result": ...}`` or ``{"error": ...}``."""
        if self.result:
            return b'{"result":' + bytes(self.result) + b"}"
        return b'{"error":' + bytes(self.error) + b"}"


IncomingMessage = Request | Notification | ClientResponse


class _Envelope(msgspec.Struct):
    jsonrpc: str | UnsetType = UNSET
    id: RequestId | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    params: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    error: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)
_any_decoder: Final = msgspec.json.Decoder()


def _too_deep(max_depth: int) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid JSON-RPC message: arrays and objects nested deeper than {max_depth} levels"
    )


def _is_json(body: bytes) -> bool:
    """Whether ``body`` is well-formed JSON at all (only asked on the error path)."""
    try:
        _any_decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return False
    except RecursionError:
        return True  # well-formed as far as we can tell; refused for its depth elsewhere
    return True


def _salvage_id(body: bytes) -> RequestId | None:
    """Best-effort id of a structurally invalid message, so its error can echo it."""
    try:
        obj = _any_decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    rid = obj.get("id")
    if isinstance(rid, bool) or not isinstance(rid, int | str):
        return None
    return rid


def decode_message(body: bytes, *, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> IncomingMessage:
    """Decode exactly one JSON-RPC message, nested at most ``max_depth`` deep (checked
    after the envelope, before ``params`` is decoded: ``proto/json_limits.py``).

    Raises:
        ParseError: not JSON (-32700, id null).
        InvalidRequestError: JSON but not one valid JSON-RPC message, including batches,
            or nested too deep (-32600); ``request_id`` carries the id when it could be
            read.
    """
    try:
        env = _envelope_decoder.decode(body)
    except msgspec.ValidationError as exc:
        if not _is_json(body):
            raise RequestError(ParseError("Parse error: invalid JSON"), None) from None
        if is_batch(body):
            raise RequestError(batch_refused_error(), None) from None
        raise RequestError(
            InvalidRequestError(f"Invalid JSON-RPC message: {exc}"), _salvage_id(body)
        ) from None
    except msgspec.DecodeError as exc:
        raise RequestError(ParseError(f"Parse error: {exc}"), None) from None
    except UnicodeDecodeError:
        raise RequestError(ParseError("Parse error: invalid UTF-8"), None) from None
    except RecursionError:
        raise RequestError(_too_deep(max_depth), None) from None
    rid = env.id if isinstance(env.id, int | str) else None
    if nesting_exceeds(body, max_depth):
        raise RequestError(_too_deep(max_depth), rid)
    if env.jsonrpc != JSONRPC_VERSION:
        raise RequestError(InvalidRequestError('"jsonrpc" must be "2.0"'), rid)
    if isinstance(env.method, str):
        if env.id is UNSET:
            return Notification(env.method, env.params)
        if env.id is None:
            raise RequestError(InvalidRequestError("request id must not be null"), None)
        return Request(env.id, env.method, env.params)
    if env.id is not UNSET and (env.result or env.error):
        return ClientResponse(rid, env.result, env.error)
    raise RequestError(InvalidRequestError('Invalid JSON-RPC message: no "method"'), rid)


class RequestError(FleetError):
    """A :class:`ProtocolError` raised while decoding, with the request id it applies to."""

    def __init__(self, error: ProtocolError, request_id: RequestId | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.request_id = request_id


# --- batches (2025-03-26 only) ------------------------------------------------------------

_batch_decoder: Final = msgspec.json.Decoder(list[msgspec.Raw])


def is_batch(body: bytes) -> bool:
    """Whether ``body`` is a JSON array, by its first byte after whitespace: cheap enough
    to ask of every message before decoding it (``lstrip`` returns ``body`` itself when
    nothing precedes the JSON)."""
    return body.lstrip()[:1] == b"["


def batch_refused_error() -> InvalidRequestError:
    """The answer to a batch where batches do not exist: every revision but 2025-03-26
    (mcp-protocol.md 2.2, checklist 1); -32600, sent with id null."""
    return InvalidRequestError(
        "JSON-RPC batches are only accepted on 2025-03-26 sessions; send one message"
    )


def decode_batch(
    body: bytes, *, max_items: int, max_depth: int = DEFAULT_MAX_JSON_DEPTH
) -> list[IncomingMessage | RequestError]:
    """Decode a 2025-03-26 batch (mcp-protocol.md 2.2) into its members, in order: each
    decoded as by :func:`decode_message` (with ``max_depth``), or the
    :class:`RequestError` its own reply carries. ``initialize`` MUST NOT be in a batch, and
    a batch cannot nest: both are refused per member (-32600).

    Raises:
        RequestError: the batch as a whole is refused, id null: not JSON (-32700); not an
            array, empty, or more than ``max_items`` members (-32600).
    """
    try:
        items = _batch_decoder.decode(body)
    except msgspec.ValidationError:
        if not _is_json(body):
            raise RequestError(ParseError("Parse error: invalid JSON"), None) from None
        not_array = InvalidRequestError("Invalid JSON-RPC batch: not an array")
        raise RequestError(not_array, None) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise RequestError(ParseError(f"Parse error: {exc}"), None) from None
    except RecursionError:
        raise RequestError(_too_deep(max_depth), None) from None
    if not items:
        raise RequestError(InvalidRequestError("Invalid JSON-RPC batch: it is empty"), None)
    if len(items) > max_items:
        raise RequestError(
            InvalidRequestError(
                f"JSON-RPC batch of {len(items)} messages exceeds the limit of {max_items}"
            ),
            None,
        )
    return [_decode_member(bytes(item), max_depth) for item in items]


def _decode_member(data: bytes, max_depth: int) -> IncomingMessage | RequestError:
    if is_batch(data):
        return RequestError(InvalidRequestError("A JSON-RPC batch cannot contain a batch"), None)
    try:
        message = decode_message(data, max_depth=max_depth)
    except RequestError as exc:
        return exc
    if isinstance(message, Request) and message.method == INITIALIZE:
        # 2025-03-26, basic/lifecycle: the initialization request MUST NOT be in a batch.
        refused = InvalidRequestError("initialize must not be part of a JSON-RPC batch")
        return RequestError(refused, message.id)
    return message


class BatchReplies:
    """The replies to one batch, added as its requests finish (in any order) and encoded
    as one array in the order of the batch's members."""

    def __init__(self) -> None:
        self._by_member: dict[int, bytes] = {}

    def add(self, member: int, reply: bytes) -> None:
        """Keep the reply (one encoded response) to the batch's ``member``-th message."""
        self._by_member[member] = reply

    def __len__(self) -> int:
        return len(self._by_member)

    def encode(self) -> bytes:
        """The JSON array of every reply kept, in member order."""
        return b"[" + b",".join(self._by_member[i] for i in sorted(self._by_member)) + b"]"


_EMPTY_OBJECT: Final = b"{}"


def decode_params(params: msgspec.Raw, decoder: msgspec.json.Decoder[T]) -> T:
    """Decode a method's params with its (module-level) decoder.

    Raises:
        InvalidParamsError: params are not an object of the expected shape (-32602).
    """
    try:
        return decoder.decode(params or _EMPTY_OBJECT)
    except msgspec.ValidationError as exc:
        raise InvalidParamsError(f"Invalid params: {exc}") from None
    except msgspec.DecodeError as exc:  # pragma: no cover - the envelope already parsed it
        raise InvalidParamsError(f"Invalid params: {exc}") from None
    except UnicodeDecodeError:
        # Params stay raw through the envelope decode, so their strings are checked here.
        raise InvalidParamsError("Invalid params: invalid UTF-8") from None
    except RecursionError:
        raise InvalidParamsError("Invalid params: nested too deeply") from None


class _Result(msgspec.Struct):
    jsonrpc: str
    id: RequestId
    result: msgspec.Raw


class _ErrorBody(msgspec.Struct, omit_defaults=True):
    code: int
    message: str
    data: object = None


class _Error(msgspec.Struct):
    jsonrpc: str
    # No default: a null id carries meaning and must be written out.
    id: RequestId | None
    error: _ErrorBody


class _Notification(msgspec.Struct):
    jsonrpc: str
    method: str
    params: msgspec.Raw


class _Request(msgspec.Struct):
    jsonrpc: str
    id: RequestId
    method: str
    params: msgspec.Raw


class _BareNotification(msgspec.Struct):
    jsonrpc: str
    method: str


_encoder: Final = msgspec.json.Encoder()


def encode_result(request_id: RequestId, result: bytes | msgspec.Raw) -> bytes:
    """A success response embedding ``result`` (already-encoded JSON object) verbatim."""
    raw = result if isinstance(result, msgspec.Raw) else msgspec.Raw(result)
    return _encoder.encode(_Result(JSONRPC_VERSION, request_id, raw))


def encode_error(
    request_id: RequestId | None, code: ErrorCode | int, message: str, data: object = None
) -> bytes:
    """An error response; ``data`` is any JSON-serialisable value (omitted when ``None``)."""
    return _encoder.encode(
        _Error(JSONRPC_VERSION, request_id, _ErrorBody(int(code), message, data))
    )


def encode_notification(method: str, params: bytes | None = None) -> bytes:
    """A notification with already-encoded ``params`` (None: no ``params`` member, as in
    a handshake-era ``notifications/tools/list_changed``)."""
    if params is None:
        return _encoder.encode(_BareNotification(JSONRPC_VERSION, method))
    return _encoder.encode(_Notification(JSONRPC_VERSION, method, msgspec.Raw(params)))


def encode_request(request_id: RequestId, method: str, params: bytes | msgspec.Raw) -> bytes:
    """A request the server sends the client, with already-encoded ``params``."""
    raw = params if isinstance(params, msgspec.Raw) else msgspec.Raw(params)
    return _encoder.encode(_Request(JSONRPC_VERSION, request_id, method, raw))
