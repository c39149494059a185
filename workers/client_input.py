"""Asking the client for input from a handler: what may be asked (:class:`ClientRequest`:
an elicitation, a sampling, the roots), what comes back, and how each era carries it
(ADR-0009).

Handlers ask through their context (``ctx.elicit``, ``ctx.sample``, ``ctx.list_roots``,
``ctx.ask``), the same code for both eras:

- **Handshake era** (:class:`LiveInputs`): each request goes to the client at once, on the
  stream of the call that asks, and the handler waits for the answer (within its time
  limit). The answer may reach any front; it comes back on the fleet's broadcast stream.
- **2026-07-28** (:class:`RetriedInputs`): a request the call's round does not answer ends
  the handler (:class:`InputRequired`, a ``BaseException`` so the handler's own
  ``except Exception`` cannot swallow it); the client gets an ``InputRequiredResult``,
  retries with the answers, and the handler runs again from the start, this time finding
  them. Requests are therefore keyed: by the author (``key=``, ``ctx.ask``'s mapping) or by
  their order in the handler (``elicitation-1``, ``sampling-1``, ``roots-1``, ...), which
  is stable as long as the handler asks in the same order each time it runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Generic, Literal, TypeVar

import msgspec
import structlog

from proto import (
    CLIENT_REQUEST_ID_PREFIX,
    ELICITATION_CREATE,
    ROOTS_LIST,
    SAMPLING_CREATE_MESSAGE,
    AnsweredInput,
    ClientCapability,
    ClientRequestMessage,
    CreateMessageParams,
    CreateMessageResult,
    ElicitParams,
    ElicitResult,
    ElicitUrlParams,
    FleetError,
    InputRequest,
    ListRootsResult,
    MissingClientCapabilityError,
    decode_client_answer,
    required_capabilities,
)
from workers.tool_schema import inline_root

__all__ = [
    "ClientRequest",
    "ClientRequestError",
    "ClientRoot",
    "Elicitation",
    "InputChannel",
    "InputRequired",
    "LiveInputs",
    "PendingAnswers",
    "RetriedInputs",
    "SamplingResult",
    "block_on",
    "decoded_answer",
    "elicitation_request",
    "response_value",
    "roots_request",
    "sampling_request",
    "url_elicitation_request",
]

log = structlog.get_logger()

T = TypeVar("T")

_ELICITATION_TYPES: Final = frozenset({"string", "number", "integer", "boolean", "array"})


class ClientRequestError(FleetError):
    """The client answered a request with a JSON-RPC error (e.g. its user refused to let
    the server sample), or with something that is not an answer to it.

    Attributes:
        code: the error's code (``-32602`` for an answer of the wrong shape).
        data: the error's ``data``, if any.
    """

    def __init__(self, message: str, code: int, data: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


@dataclasses.dataclass(frozen=True, slots=True)
class Elicitation(Generic[T]):
    """The user's answer to an elicitation.

    Attributes:
        action: ``"accept"`` (``content`` holds the form's values), ``"decline"`` or
            ``"cancel"`` (``content`` is None).
        content: the values, as the schema's type when one was given, else a dict.
    """

    action: Literal["accept", "decline", "cancel"]
    content: T | None

    @property
    def accepted(self) -> bool:
        return self.action == "accept"


@dataclasses.dataclass(frozen=True, slots=True)
class SamplingResult:
    """What the client's model answered.

    Attributes:
        role: normally ``"assistant"``.
        content: the content block (a dict, e.g. ``{"type": "text", "text": ...}``), or a
            list of them (tool use, 2025-11-25+).
        model: the model the client used.
        stop_reason: why sampling stopped, if the client said.
    """

    role: str
    content: dict[str, Any] | list[dict[str, Any]]
    model: str
    stop_reason: str | None = None

    @property
    def text(self) -> str:
        """The text of the answer's text blocks, joined ("" when there are none)."""
        blocks = self.content if isinstance(self.content, list) else [self.content]
        return "".join(
            str(block.get("text", "")) for block in blocks if block.get("type") == "text"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ClientRoot:
    """A root the client exposes: a ``file://`` URI and an optional name."""

    uri: str
    name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ClientRequest(Generic[T]):
    """One request for the client, built by :func:`elicitation_request`,
    :func:`sampling_request` or :func:`roots_request` and passed to ``ctx.ask``.

    Attributes:
        method: the JSON-RPC method.
        params: its params, as sent.
        capability: the client capability it needs.
        decode: turns the client's ``result`` (JSON) into what the handler gets.
    """

    method: str
    params: dict[str, Any]
    capability: ClientCapability
    decode: Callable[[bytes], T]

    @property
    def kind(self) -> str:
        """The prefix of its default key (``elicitation``, ``sampling``, ``roots``)."""
        return self.method.partition("/")[0]


def _convert(content: dict[str, object], schema: type[T] | None) -> Any:
    if schema is None:
        return content
    try:
        return msgspec.convert(content, schema, strict=False)
    except msgspec.ValidationError as exc:
        raise ClientRequestError(
            f"The client's elicitation answer does not fit the form: {exc}", -32602
        ) from None


def _elicitation_schema(schema: type[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """The ``requestedSchema`` for a dict (as given) or a Struct/dataclass type. Either way
    it must be the flat object of primitives elicitation allows (mcp-protocol.md)."""
    built = (
        dict(schema) if isinstance(schema, Mapping)
        else inline_root(msgspec.json.schema(schema))
    )  # fmt: skip
    if built.get("type") != "object" or not isinstance(built.get("properties"), dict):
        raise TypeError("an elicitation schema must be an object schema with properties")
    if "$defs" in built:
        raise TypeError("an elicitation schema must be flat: no nested types ($defs)")
    for name, prop in built["properties"].items():
        if not isinstance(prop, dict) or not (
            prop.get("type") in _ELICITATION_TYPES or "enum" in prop or "oneOf" in prop
        ):
            raise TypeError(
                f"elicitation field {name!r} must be a string, number, integer, boolean or "
                "enum (no null, no nested object); give optional fields a default instead"
            )
    built.pop("title", None)
    return built


def elicitation_request(
    message: str, schema: type[T] | Mapping[str, Any]
) -> ClientRequest[Elicitation[T]]:
    """Ask the user to fill in a form (``elicitation/create``, form mode).

    Args:
        message: what to tell the user.
        schema: the form: a msgspec Struct or dataclass type of flat primitive fields (the
            accepted content is converted to it), or a JSON schema dict (content stays a
            dict).

    Raises:
        TypeError: the schema is not a flat object of primitives.
    """
    requested = _elicitation_schema(schema)
    target = None if isinstance(schema, Mapping) else schema
    params = msgspec.to_builtins(ElicitParams(message=message, requested_schema=requested))

    def decode(data: bytes) -> Elicitation[T]:
        answer = msgspec.json.decode(data, type=ElicitResult)
        if answer.action != "accept" or isinstance(answer.content, msgspec.UnsetType):
            return Elicitation(answer.action, None)
        return Elicitation(answer.action, _convert(answer.content, target))

    return ClientRequest(ELICITATION_CREATE, params, ClientCapability.ELICITATION, decode)


def url_elicitation_request(
    message: str, url: str, *, elicitation_id: str | None = None
) -> ClientRequest[Elicitation[None]]:
    """Send the user to ``url`` for an interaction the client must not see: a sign-in, a
    payment, entering a secret (``elicitation/create`` in URL mode, 2025-11-25+; the client
    needs ``elicitation.url``). The answer says whether the user agreed to go
    (``action``); it has no content: learn the outcome from your own service.

    Args:
        message: why the user should go there.
        url: an absolute ``https://`` (or, for local development, ``http://``) URL; never
            put secrets in it.
        elicitation_id: names the interaction at 2025-11-25 (default: a random one).

    Raises:
        ValueError: the URL is not absolute http(s).
    """
    if not url.startswith(("https://", "http://")) or len(url) <= len("https://"):
        raise ValueError(f"a URL elicitation needs an absolute http(s) URL, not {url!r}")
    params = msgspec.to_builtins(
        ElicitUrlParams(
            mode="url",
            message=message,
            url=url,
            elicitation_id=elicitation_id or secrets.token_urlsafe(16),
        )
    )

    def decode(data: bytes) -> Elicitation[None]:
        answer = msgspec.json.decode(data, type=ElicitResult)
        return Elicitation(answer.action, None)

    return ClientRequest(ELICITATION_CREATE, params, ClientCapability.ELICITATION_URL, decode)


def sampling_request(
    messages: str | Sequence[Mapping[str, Any]],
    *,
    max_tokens: int,
    system_prompt: str | None = None,
    temperature: float | None = None,
    stop_sequences: Sequence[str] | None = None,
    model_preferences: Mapping[str, Any] | None = None,
) -> ClientRequest[SamplingResult]:
    """Ask the client's model (``sampling/createMessage``).

    Args:
        messages: a prompt (sent as one user text message) or ``SamplingMessage`` dicts
            (``{"role": "user", "content": {"type": "text", "text": ...}}``).
        max_tokens: the most tokens to sample.
        system_prompt, temperature, stop_sequences, model_preferences: passed on as the
            spec defines them; the client may ignore them.
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": {"type": "text", "text": messages}}]
    unset = msgspec.UNSET
    params = CreateMessageParams(
        messages=[dict(m) for m in messages],
        max_tokens=max_tokens,
        system_prompt=unset if system_prompt is None else system_prompt,
        temperature=unset if temperature is None else temperature,
        stop_sequences=unset if stop_sequences is None else list(stop_sequences),
        model_preferences=unset if model_preferences is None else dict(model_preferences),
    )

    def decode(data: bytes) -> SamplingResult:
        answer = msgspec.json.decode(data, type=CreateMessageResult)
        reason = None if isinstance(answer.stop_reason, msgspec.UnsetType) else answer.stop_reason
        return SamplingResult(answer.role, answer.content, answer.model, reason)

    return ClientRequest(
        SAMPLING_CREATE_MESSAGE, msgspec.to_builtins(params), ClientCapability.SAMPLING, decode
    )


def roots_request() -> ClientRequest[list[ClientRoot]]:
    """Ask for the client's roots (``roots/list``)."""

    def decode(data: bytes) -> list[ClientRoot]:
        answer = msgspec.json.decode(data, type=ListRootsResult)
        return [
            ClientRoot(r.uri, None if isinstance(r.name, msgspec.UnsetType) else r.name)
            for r in answer.roots
        ]

    return ClientRequest(ROOTS_LIST, {}, ClientCapability.ROOTS, decode)


def decoded_answer(request: ClientRequest[T], key: str, data: bytes) -> T:
    """The handler's value for the client's result (JSON) answering ``request``.

    Raises:
        ClientRequestError: it is no valid result for the request (-32602).
    """
    try:
        return request.decode(data)
    except (msgspec.MsgspecError, UnicodeDecodeError) as exc:
        raise ClientRequestError(
            f"The client's answer to {request.method} ({key!r}) is not a valid result: {exc}",
            -32602,
        ) from None


class InputRequired(BaseException):  # a signal, like asyncio.CancelledError
    """Ends a 2026-07-28 handler that asked for input its round did not bring: the call is
    answered with an ``InputRequiredResult`` (never raised in the handshake era)."""

    def __init__(self, requests: dict[str, InputRequest], answers: dict[str, msgspec.Raw]) -> None:
        super().__init__("the client must answer before the handler can go on")
        self.requests = requests
        self.answers = answers


class InputChannel:
    """How a call's handler reaches its client; one per call."""

    def __init__(self, capabilities: int) -> None:
        self._capabilities = capabilities
        self._counts: dict[str, int] = {}

    def supports(self, flags: int) -> bool:
        return self._capabilities & flags == flags

    def default_key(self, request: ClientRequest[Any]) -> str:
        kind = request.kind
        count = self._counts[kind] = self._counts.get(kind, 0) + 1
        return f"{kind}-{count}"

    def check_capabilities(self, requests: Mapping[str, ClientRequest[Any]]) -> None:
        """Raises MissingClientCapabilityError (-32021) naming what the client lacks."""
        missing = 0
        for request in requests.values():
            if not self.supports(request.capability):
                missing |= request.capability
        if missing:
            needed = required_capabilities(missing)
            raise MissingClientCapabilityError(
                "The client did not declare the capability this request needs: "
                + ", ".join(sorted(needed)),
                {"requiredCapabilities": needed},
            )

    async def ask(self, requests: Mapping[str, ClientRequest[Any]]) -> dict[str, Any]:
        """The answers to ``requests``, by key. This base channel is a call that cannot
        reach its client: every request lacks its capability.

        Raises:
            MissingClientCapabilityError: the client cannot answer one of them.
            InputRequired: (2026-07-28) the answers are not in this round yet.
            ClientRequestError: the client refused one, or answered nonsense.
        """
        self.check_capabilities(requests)
        return {}


class RetriedInputs(InputChannel):
    """2026-07-28: answers come with the call's round; a missing one ends the handler."""

    def __init__(self, capabilities: int, answers: Mapping[str, msgspec.Raw]) -> None:
        super().__init__(capabilities)
        self._answers = answers
        self.used: dict[str, msgspec.Raw] = {}

    async def ask(self, requests: Mapping[str, ClientRequest[Any]]) -> dict[str, Any]:
        self.check_capabilities(requests)
        missing = {
            key: InputRequest(request.method, _modern_params(request.params))
            for key, request in requests.items()
            if key not in self._answers
        }
        if missing:
            raise InputRequired(missing, dict(self.used))
        results: dict[str, Any] = {}
        for key, request in requests.items():
            raw = self._answers[key]
            results[key] = decoded_answer(request, key, bytes(raw))
            self.used[key] = raw
        return results


def _modern_params(params: dict[str, Any]) -> dict[str, Any]:
    """A request's params as 2026-07-28 has them: URL elicitations lost ``elicitationId``
    (the key in ``inputRequests`` names them)."""
    if "elicitationId" not in params:
        return params
    return {name: value for name, value in params.items() if name != "elicitationId"}


class PendingAnswers:
    """The worker's handshake-era requests waiting for their client's answer, by request
    id; answers arrive from the broadcast stream (on the worker's event loop)."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[str, asyncio.Future[bytes]]] = {}

    def expect(self, session_id: str) -> tuple[str, asyncio.Future[bytes]]:
        request_id = CLIENT_REQUEST_ID_PREFIX + secrets.token_urlsafe(16)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (session_id, future)
        return request_id, future

    def forget(self, request_id: str) -> None:
        self._waiting.pop(request_id, None)

    def on_answer(self, answer: AnsweredInput) -> None:
        """Hand an answer to the request waiting for it, if it waits here and the answer
        comes from the call's own session (anything else is dropped)."""
        waiting = self._waiting.get(answer.request_id)
        if waiting is None:
            return
        session_id, future = waiting
        if answer.session_id != session_id:
            log.warning("ask.answer_from_another_session", ask_id=answer.request_id)
            return
        if not future.done():
            future.set_result(bytes(answer.response))


class LiveInputs(InputChannel):
    """Handshake era: requests go to the client through the call's front at once.

    Args:
        capabilities: what the client declared in ``initialize``.
        pending: the worker's waiting requests.
        session_id: the call's session ("" on stdio): only it may answer.
        send: queues a :class:`ClientRequestMessage` for the call's front (any thread).
        call_id: the call's id at its front.
        register: records a request as outstanding for the session, in Redis, before it
            is sent (fronts pass on only answers to outstanding requests).
    """

    def __init__(
        self,
        capabilities: int,
        pending: PendingAnswers,
        *,
        session_id: str,
        send: Callable[[ClientRequestMessage], None],
        call_id: int,
        register: Callable[[str, str], Awaitable[None]],
    ) -> None:
        super().__init__(capabilities)
        self._pending = pending
        self._session_id = session_id
        self._send = send
        self._call_id = call_id
        self._register = register

    async def ask(self, requests: Mapping[str, ClientRequest[Any]]) -> dict[str, Any]:
        self.check_capabilities(requests)
        waiting: list[tuple[str, str, ClientRequest[Any], asyncio.Future[bytes]]] = []
        try:
            for key, request in requests.items():
                request_id, future = self._pending.expect(self._session_id)
                waiting.append((key, request_id, request, future))
                await self._register(request_id, self._session_id)
                params = msgspec.Raw(msgspec.json.encode(request.params))
                self._send(ClientRequestMessage(self._call_id, request_id, request.method, params))
            answers = await asyncio.gather(*(future for *_, future in waiting))
        finally:
            for _key, request_id, _request, _future in waiting:
                self._pending.forget(request_id)
        return {
            key: response_value(request, key, data)
            for (key, _id, request, _f), data in zip(waiting, answers, strict=True)
        }


def response_value(request: ClientRequest[T], key: str, data: bytes) -> T:
    """The handler's value for a client's JSON-RPC response to ``request``, without its
    envelope (``{"result": ...}`` or ``{"error": ...}``).

    Raises:
        ClientRequestError: the client answered with an error, or with no valid result.
    """
    try:
        answer = decode_client_answer(data)
    except msgspec.MsgspecError as exc:
        raise ClientRequestError(f"Unreadable answer to {request.method}: {exc}", -32700) from None
    if answer.error is not None:
        error = answer.error
        code = error.get("code")
        raise ClientRequestError(
            f"The client refused {request.method}: {error.get('message', 'no message')}",
            code if isinstance(code, int) else -32603,
            error.get("data"),
        )
    if not answer.result:
        raise ClientRequestError(f"The client answered {request.method} without a result", -32600)
    return decoded_answer(request, key, bytes(answer.result))


def block_on(loop: asyncio.AbstractEventLoop, loop_thread: int, awaitable: Any) -> Any:
    """Run ``awaitable`` on the worker's loop (running in ``loop_thread``) from a sync
    handler's thread, and wait for it.

    Raises:
        RuntimeError: called on the loop's own thread (it would wait for itself).
    """
    if threading.get_ident() == loop_thread:
        raise RuntimeError("ctx.wait() is for sync handlers; an async handler awaits instead")

    async def run() -> Any:
        return await awaitable

    return asyncio.run_coroutine_threadsafe(run(), loop).result()
