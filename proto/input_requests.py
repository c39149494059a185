"""Asking the client for input: the requests a handler may send (``elicitation/create``,
``sampling/createMessage``, ``roots/list``), the client's answers, and the 2026-07-28
``InputRequiredResult`` that carries the requests (mcp-protocol.md 7.5).

Both eras ask with the same ``{method, params}`` objects. The handshake era sends each one
as a JSON-RPC request on the stream of the call that asks and the client answers with a
JSON-RPC response; 2026-07-28 returns them, keyed, in an ``InputRequiredResult`` and the
client retries the same request with ``inputResponses`` under the same keys (and the
``requestState`` echoed, :mod:`proto.request_state`).
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from proto.errors import InvalidParamsError
from proto.lifecycle import ResultMeta
from proto.mcp_struct import JsonObject, McpStruct

__all__ = [
    "ClientAnswer",
    "CreateMessageParams",
    "CreateMessageResult",
    "ElicitParams",
    "ElicitResult",
    "ElicitUrlParams",
    "InputRequest",
    "InputRequiredResult",
    "InputRetry",
    "ListRootsResult",
    "Root",
    "decode_client_answer",
    "input_responses",
]


class InputRequest(McpStruct, frozen=True):
    """One request for the client: a JSON-RPC request without ``jsonrpc`` and ``id``."""

    method: str
    params: JsonObject = msgspec.field(default_factory=dict)


class ElicitParams(McpStruct, frozen=True):
    """``elicitation/create`` in form mode: a message and a flat object schema."""

    message: str
    requested_schema: JsonObject
    mode: Literal["form"] | UnsetType = UNSET


class ElicitUrlParams(McpStruct, frozen=True):
    """``elicitation/create`` in URL mode (2025-11-25+): the user is sent to a URL for an
    interaction the client must not see (a sign-in, a payment). ``elicitationId`` exists
    at 2025-11-25 only (removed at 2026-07-28)."""

    mode: Literal["url"]  # no default: McpStruct omits defaults when encoding
    message: str
    url: str
    elicitation_id: str | UnsetType = UNSET


class CreateMessageParams(McpStruct, frozen=True):
    """``sampling/createMessage``: messages for the client's model, and how to sample."""

    messages: list[JsonObject]
    max_tokens: int
    system_prompt: str | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    model_preferences: JsonObject | UnsetType = UNSET
    include_context: Literal["none", "thisServer", "allServers"] | UnsetType = UNSET
    metadata: JsonObject | UnsetType = UNSET


class ElicitResult(McpStruct, frozen=True):
    """The client's answer to ``elicitation/create``."""

    action: Literal["accept", "decline", "cancel"]
    content: JsonObject | UnsetType = UNSET


class CreateMessageResult(McpStruct, frozen=True):
    """The client's answer to ``sampling/createMessage``; ``content`` is one content block,
    or a list of them from 2025-11-25 (tool use)."""

    role: Literal["user", "assistant"]
    content: JsonObject | list[JsonObject]
    model: str
    stop_reason: str | UnsetType = UNSET


class Root(McpStruct, frozen=True):
    """A root the client exposes (a ``file://`` URI, optionally named)."""

    uri: str
    name: str | UnsetType = UNSET


class ListRootsResult(McpStruct, frozen=True):
    """The client's answer to ``roots/list``."""

    roots: list[Root]


class InputRequiredResult(McpStruct, frozen=True):
    """The 2026-07-28 result asking for input instead of the final result: no cache
    hints (mcp-protocol.md 7.3)."""

    result_type: Literal["input_required"]
    input_requests: msgspec.Raw
    request_state: str | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class InputRetry(McpStruct, frozen=True):
    """The members a 2026-07-28 retry adds to the params of the request it repeats."""

    input_responses: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    request_state: str | UnsetType = UNSET


class ClientAnswer(msgspec.Struct, frozen=True):
    """A client's JSON-RPC response to a request we sent it (handshake era): a ``result``
    or an ``error``."""

    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    error: JsonObject | None = None


_answer_decoder: Final = msgspec.json.Decoder(ClientAnswer)
_responses_decoder: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])


def decode_client_answer(data: bytes) -> ClientAnswer:
    """Decode a client's response (the whole JSON-RPC message).

    Raises:
        msgspec.MsgspecError: not a response object.
    """
    try:
        return _answer_decoder.decode(data)
    except UnicodeDecodeError:
        raise msgspec.DecodeError("invalid UTF-8 in a response") from None


def input_responses(raw: msgspec.Raw) -> dict[str, msgspec.Raw]:
    """A retry's ``inputResponses``: an object of answer objects, keyed as the requests
    were; absent is empty.

    Raises:
        InvalidParamsError: it is not an object, or an answer is not an object (-32602).
    """
    if not raw:
        return {}
    try:
        answers = _responses_decoder.decode(raw)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        raise InvalidParamsError(
            "Invalid params: inputResponses must be an object of responses, keyed as the "
            "inputRequests were"
        ) from None
    for key, answer in answers.items():
        if bytes(answer).lstrip()[:1] != b"{":
            raise InvalidParamsError(f"Invalid params: inputResponses[{key!r}] must be an object")
    return answers
