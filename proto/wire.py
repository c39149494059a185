"""The internal wire format between fronts and workers (the call lane, DESIGN.md section 5).

Array-like tagged Structs keep messages small and fast to code; schema evolution rules apply
(new fields only appended, with defaults; types never change) so fronts and workers of
adjacent versions survive a rolling deploy. Changing this format needs an ADR.
"""

from __future__ import annotations

import enum
from typing import Final, TypeVar

import msgspec

from proto.principal import Principal

__all__ = [
    "CLIENT_REQUEST_ID_PREFIX",
    "AnsweredInput",
    "BroadcastMessage",
    "CallKind",
    "CallMessage",
    "CancelCall",
    "CancelRequest",
    "CancelTask",
    "CancelledReply",
    "ClientRequestMessage",
    "CompletionArguments",
    "ErrorObject",
    "ErrorReply",
    "InputRequiredReply",
    "LogMessage",
    "ProgressMessage",
    "ResourceReadArguments",
    "ResultReply",
    "SessionRecord",
    "TaskAnswered",
    "WorkerHeartbeat",
    "WorkerMessage",
    "cancel_key_session",
    "decode_broadcast",
    "decode_call",
    "decode_completion_arguments",
    "decode_resource_arguments",
    "decode_worker_message",
    "decode_worker_messages",
    "encode_call_arguments",
    "encode_wire",
    "is_client_request_id",
    "request_cancel_key",
]


class WireStruct(msgspec.Struct, frozen=True, array_like=True, tag=True):
    """Base of front↔worker messages: a JSON array whose first element is the tag."""


class CallKind(enum.StrEnum):
    """What a call asks a worker to run (``CallMessage.kind``, ADR-0007). The field stays a
    plain string on the wire, so a worker meeting a kind it does not know still decodes
    the call (and refuses it)."""

    TOOL = "tool"
    """``tools/call``: ``tool`` names the tool, ``arguments`` are the client's."""
    RESOURCE = "resource"
    """``resources/read``: ``tool`` is the resource's URI or URI template as registered,
    ``arguments`` a :class:`ResourceReadArguments`."""
    PROMPT = "prompt"
    """``prompts/get``: ``tool`` is the prompt's name, ``arguments`` the client's (strings)."""
    COMPLETE = "complete"
    """``completion/complete``: ``tool`` is the provider's key (``completion_key``),
    ``arguments`` a :class:`CompletionArguments`."""


class CallMessage(WireStruct, frozen=True, tag="call"):
    """A foreground call (``tools/call``, ``resources/read``, ``prompts/get`` or
    ``completion/complete``: see ``kind``), appended to the call stream by a front.

    ``arguments`` are JSON the front already validated. ``deadline_ms`` is wall-clock epoch
    milliseconds: a worker drops a call whose caller has stopped waiting.
    """

    call_id: int
    front_id: str
    tool: str
    arguments: msgspec.Raw
    protocol_version: str
    deadline_ms: int
    request_id: str
    progress_token: int | str | None = None
    cancel_key: str | None = None
    """Set when the client may cancel the call by its JSON-RPC id from any front (a
    handshake-era session over HTTP): see :func:`request_cancel_key`."""
    log_level: str | None = None
    """The least severe level the client takes ``notifications/message`` at for this call,
    or None for none: the worker publishes no :class:`LogMessage` below it (the front
    checks again). A plain string, so a future level name cannot break decoding."""
    principal: Principal | None = None
    """Who the call is made for; None from a front that predates principals (a worker
    treats it as anonymous). Both fields: ADR-0008."""
    kind: str = CallKind.TOOL
    """What ``tool`` names and ``arguments`` carry (:class:`CallKind`); a front that
    predates resources sends only tool calls (ADR-0007)."""
    client_capabilities: int = 0
    """What the client can answer if the handler asks it for input
    (``proto.ClientCapability`` flags); 0 from a front that predates asking, or when the
    call cannot carry a request to the client (ADR-0009)."""
    input_responses: dict[str, msgspec.Raw] | None = None
    """2026-07-28: the answers this round of a multi round-trip request brings, keyed as
    the handler asked (earlier rounds' from the ``requestState``, the client's
    ``inputResponses``); None on a first round and in the handshake era (ADR-0009)."""
    input_round: int = 0
    """2026-07-28: how many rounds of this request asked for input before (0 on the first,
    as the front vouches from the ``requestState``)."""
    run: int = 1
    """Which run of the call this is: 1 as the front appends it, one more each time the
    supervisor puts it back on the stream after its worker was lost (ADR-0014)."""
    max_runs: int = 1
    """How many runs the call may have in all: more than 1 only for a tool declared
    idempotent, whose call a lost worker leaves to be redelivered rather than answered
    "worker lost"; 1 from a front that predates redelivery (ADR-0014)."""


class ResourceReadArguments(msgspec.Struct, frozen=True):
    """The ``arguments`` of a resource read: the URI the client asked for and the values
    its template gave each variable, still strings (the worker decodes them leniently
    into the handler's parameter types, as the front checked they do)."""

    uri: str
    variables: dict[str, str] = {}


class CompletionArguments(msgspec.Struct, frozen=True):
    """The ``arguments`` of a completion: what the user typed so far for the argument the
    provider completes, and the other arguments' values already chosen."""

    value: str
    context: dict[str, str] = {}


class ErrorObject(msgspec.Struct, frozen=True, omit_defaults=True):
    """A JSON-RPC ``error`` member."""

    code: int
    message: str
    data: object = None


class ResultReply(WireStruct, frozen=True, tag="result"):
    """The final answer to a call: the encoded JSON-RPC ``result`` object, era-specific."""

    call_id: int
    result: msgspec.Raw


class ErrorReply(WireStruct, frozen=True, tag="error"):
    """The final answer to a call when it is a JSON-RPC error (e.g. the worker was lost)."""

    call_id: int
    error: ErrorObject


class ProgressMessage(WireStruct, frozen=True, tag="progress"):
    """A progress report for a call that carried a progress token."""

    call_id: int
    progress: float
    total: float | None = None
    message: str | None = None


class LogMessage(WireStruct, frozen=True, tag="log"):
    """A handler's log entry for a call whose client takes them (``CallMessage.log_level``),
    sent on as ``notifications/message``; ``data`` is its encoded JSON ``data``."""

    call_id: int
    level: str
    logger: str | None
    data: msgspec.Raw


class CancelledReply(WireStruct, frozen=True, tag="cancelled"):
    """The call was cancelled by its client: the front stops waiting and sends nothing
    further for the request (mcp-protocol.md 9.2)."""

    call_id: int


class InputRequiredReply(WireStruct, frozen=True, tag="input_required"):
    """The final answer of a 2026-07-28 call whose handler asked for input it was not
    given: the ``inputRequests`` (an encoded object, key → ``{method, params}``) and the
    answers it used (the front seals them into the ``requestState``)."""

    call_id: int
    requests: msgspec.Raw
    answers: dict[str, msgspec.Raw]
    round: int


class ClientRequestMessage(WireStruct, frozen=True, tag="ask"):
    """A handshake-era handler asks the client (``sampling/createMessage``, ...): the front
    sends it on the call's stream as a JSON-RPC request with ``request_id``; the answer
    comes back on the broadcast stream (:class:`AnsweredInput`)."""

    call_id: int
    request_id: str
    method: str
    params: msgspec.Raw


WorkerMessage = (
    ResultReply
    | ErrorReply
    | ProgressMessage
    | CancelledReply
    | LogMessage
    | InputRequiredReply
    | ClientRequestMessage
)


class CancelCall(WireStruct, frozen=True, tag="cancel_call"):
    """Cancel one call, named by the front that submitted it (its caller went away).

    ``expires_ms`` (epoch ms): until then a worker remembers the cancel, in case the call is
    still queued and is taken later."""

    front_id: str
    call_id: int
    expires_ms: int


class CancelRequest(WireStruct, frozen=True, tag="cancel_request"):
    """Cancel the call carrying ``cancel_key`` (a client's ``notifications/cancelled``,
    which may reach a different front than the one waiting for the call)."""

    cancel_key: str
    expires_ms: int


class AnsweredInput(WireStruct, frozen=True, tag="answer"):
    """A client's response to a :class:`ClientRequestMessage`, from whichever front it
    reached: the worker waiting for ``request_id`` takes it if ``session_id`` is the
    call's session ("" on stdio). ``response`` is the client's whole JSON-RPC message."""

    request_id: str
    session_id: str
    response: msgspec.Raw


class CancelTask(WireStruct, frozen=True, tag="cancel_task"):
    """Stop a durable task's run, wherever it runs (ADR-0011): its record already says
    ``cancelled`` (or, at 2026-07-28, that a cancel was asked for), so a worker that has not
    started it never will; the one running it cancels or flags its handler."""

    task_id: str


class TaskAnswered(WireStruct, frozen=True, tag="task_answered"):
    """A client answered input requests of a durable task (ADR-0011): the answers are in
    its record already; the worker running it reads them and wakes its handler."""

    task_id: str


BroadcastMessage = CancelCall | CancelRequest | AnsweredInput | CancelTask | TaskAnswered
"""What every worker reads from the fleet's broadcast stream (``Keyspace.cancel_stream``)."""


def request_cancel_key(session_id: str, request_id: int | str) -> str:
    """The key naming a session's request for cancellation: the session id and the
    JSON-RPC id as JSON, so ``1`` and ``"1"`` stay distinct (ids are compared verbatim)."""
    return f"{session_id} {_encoder.encode(request_id).decode()}"


CLIENT_REQUEST_ID_PREFIX: Final = "mcpfleet-ask-"
"""Starts the JSON-RPC id of every request a handler sends a client (handshake era); the
rest is random, so an id names one request fleet-wide and cannot be guessed."""


def is_client_request_id(request_id: object) -> bool:
    """Whether a client's response answers a request of ours (by its id)."""
    return isinstance(request_id, str) and request_id.startswith(CLIENT_REQUEST_ID_PREFIX)


def cancel_key_session(cancel_key: str | None) -> str:
    """The session a :func:`request_cancel_key` names ("" without one: stdio)."""
    return "" if cancel_key is None else cancel_key.partition(" ")[0]


class SessionRecord(msgspec.Struct, frozen=True):
    """A handshake-era session, stored under ``Keyspace.session`` with an idle TTL so any
    front serves it (issue 3)."""

    protocol_version: str
    created_ms: int
    client_name: str = ""
    log_level: str | None = None
    """The level the client set with ``logging/setLevel``; None until it does (then no
    ``notifications/message`` is sent). Absent from records written before logging."""
    client_capabilities: int = 0
    """What the client declared in ``initialize`` it can answer (``ClientCapability``
    flags); 0 in records written before asking existed."""
    owner: str = ""
    """Who opened the session: the ``Principal.identity`` of its bearer caller (ADR-0016),
    "" for an anonymous one (authentication off) and in records written before. Only that
    caller may use the session; another gets the 404 of an unknown one."""


class WorkerHeartbeat(msgspec.Struct, frozen=True):
    """A live worker's status, stored under ``Keyspace.worker_heartbeat`` with a TTL: its
    absence means the worker is gone and its pending calls may be settled."""

    pid: int
    inflight: int
    """Calls the worker holds (running, or waiting for a sync thread)."""
    calls_served: int
    waiting: int = 0
    """Calls and tasks the worker holds that wait for a free sync-handler thread: work
    it took but cannot start (the autoscaler's saturation signal for sync tools, ADR-0013)."""
    tasks_running: int = 0
    """Durable tasks the worker runs: a worker with none and no call in flight is idle."""


_encoder: Final = msgspec.json.Encoder()
_call_decoder: Final = msgspec.json.Decoder(CallMessage)
_resource_arguments_decoder: Final = msgspec.json.Decoder(ResourceReadArguments)
_completion_arguments_decoder: Final = msgspec.json.Decoder(CompletionArguments)
_worker_decoder: Final[msgspec.json.Decoder[WorkerMessage]] = msgspec.json.Decoder(WorkerMessage)
_worker_batch_decoder: Final[msgspec.json.Decoder[list[WorkerMessage]]] = msgspec.json.Decoder(
    list[WorkerMessage]
)
_broadcast_decoder: Final[msgspec.json.Decoder[BroadcastMessage]] = msgspec.json.Decoder(
    BroadcastMessage
)


def encode_wire(message: CallMessage | WorkerMessage | BroadcastMessage) -> bytes:
    """Encode any wire message."""
    return _encoder.encode(message)


def encode_call_arguments(arguments: ResourceReadArguments | CompletionArguments) -> bytes:
    """The ``CallMessage.arguments`` of a resource read or a completion."""
    return _encoder.encode(arguments)


T = TypeVar("T")


def _decode(decoder: msgspec.json.Decoder[T], data: bytes) -> T:
    # msgspec reports bad UTF-8 inside strings as UnicodeDecodeError; callers expect one
    # exception family for garbage.
    try:
        return decoder.decode(data)
    except UnicodeDecodeError:
        raise msgspec.DecodeError("invalid UTF-8 in a wire message") from None


def decode_call(data: bytes) -> CallMessage:
    """Decode a call.

    Raises:
        msgspec.MsgspecError: garbage, including invalid UTF-8.
    """
    return _decode(_call_decoder, data)


def decode_worker_message(data: bytes) -> WorkerMessage:
    """Decode a reply or progress message published by a worker.

    Raises:
        msgspec.MsgspecError: garbage, including invalid UTF-8.
    """
    return _decode(_worker_decoder, data)


def decode_worker_messages(data: bytes) -> list[WorkerMessage]:
    """Decode what a worker published on a front's reply channel: one message, or final
    replies published together (``PUBLISH_REPLIES_OR_KEEP``: a JSON array of messages, each
    itself an array starting with its tag, so the two forms differ in their first two bytes;
    ADR-0022).

    Raises:
        msgspec.MsgspecError: garbage, including invalid UTF-8.
    """
    if data[:2] == b"[[":
        return _decode(_worker_batch_decoder, data)
    return [_decode(_worker_decoder, data)]


def decode_broadcast(data: bytes) -> BroadcastMessage:
    """Decode an entry of the broadcast (cancel) stream.

    Raises:
        msgspec.MsgspecError: garbage, including invalid UTF-8.
    """
    return _decode(_broadcast_decoder, data)


def decode_resource_arguments(data: bytes) -> ResourceReadArguments:
    """Decode a resource read's ``arguments``.

    Raises:
        msgspec.MsgspecError: not resource read arguments (a front of another version).
    """
    return _decode(_resource_arguments_decoder, data)


def decode_completion_arguments(data: bytes) -> CompletionArguments:
    """Decode a completion's ``arguments``.

    Raises:
        msgspec.MsgspecError: not completion arguments (a front of another version).
    """
    return _decode(_completion_arguments_decoder, data)
