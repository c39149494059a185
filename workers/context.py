"""``ToolContext``: what a running handler may ask of the fleet (progress, cancellation,
logging to the client, announcing that a resource changed, asking the client for input,
turning tools, prompts and resources on and off) and what it may know about its call
(request id, principal, input round).

Built only by the worker runtime. Every method is safe to call from a sync handler running
in a worker thread and from an async handler on the worker's event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar, final

from proto import (
    CLIENT_CAPABILITY_NAMES,
    ChangeKind,
    FleetError,
    LogLevel,
    Principal,
    VisibilityRequest,
)
from workers.call_log import CallLog
from workers.client_input import (
    ClientRequest,
    ClientRoot,
    Elicitation,
    InputChannel,
    SamplingResult,
    block_on,
    elicitation_request,
    roots_request,
    sampling_request,
    url_elicitation_request,
)

__all__ = ["CancelledByClientError", "ToolContext"]

ProgressSink = Callable[[float, float | None, str | None], None]
ResourceUpdateSink = Callable[[str], None]
"""Announces that the resource at a URI changed (thread-safe)."""
VisibilitySink = Callable[[VisibilityRequest, Mapping[str, tuple[str, ...]]], None]
"""Applies a visibility request to items by list kind, fleet-wide (thread-safe); raises
``ValueError`` for an item the app does not register."""
Items = str | Iterable[str]
"""One item (a tool's or prompt's name, a resource's URI as registered) or several."""

_PROGRESS_MIN_INTERVAL_S: Final = 0.05
_RUNTIME_TOKEN: Final = object()
_UNKNOWN_CALLER: Final = Principal.anonymous()
_NO_CLIENT: Final = InputChannel(0)
T = TypeVar("T")


class CancelledByClientError(FleetError):
    """Raised by :meth:`ToolContext.check_cancelled` once the call was cancelled."""


@final
class ToolContext:
    """Per-call context handed to a handler that declares a parameter of this type.

    Handlers of resources, prompts and completions get one too when they declare it.

    Attributes:
        request_id: the id correlating logs of this call from front to worker.
        tool: what is being run: the tool's name, the resource's URI (template) as
            registered, the prompt's name, or the completion's key.
        principal: who the call is made for (:class:`~proto.Principal`): the local OS user
            on stdio, an anonymous caller over HTTP (bound to its session in the handshake
            era) until authentication exists.
        input_round: at 2026-07-28, how many times this request came back with answers
            the handler asked for (0 on its first run, and always in the handshake era,
            where the handler waits for answers instead of running again).
    """

    __slots__ = (
        "_announce",
        "_cancel",
        "_inputs",
        "_last_progress",
        "_last_sent_at",
        "_log",
        "_loop",
        "_loop_thread",
        "_sink",
        "_visibility",
        "input_round",
        "principal",
        "request_id",
        "tool",
    )

    def __init__(
        self,
        *,
        request_id: str,
        tool: str,
        progress_sink: ProgressSink | None,
        cancel_flag: threading.Event,
        call_log: CallLog | None = None,
        principal: Principal | None = None,
        announce: ResourceUpdateSink | None = None,
        inputs: InputChannel | None = None,
        input_round: int = 0,
        visibility: VisibilitySink | None = None,
        _token: object = None,
    ) -> None:
        if _token is not _RUNTIME_TOKEN:
            raise TypeError("ToolContext is created by the mcpfleet worker runtime")
        self._inputs = inputs or _NO_CLIENT
        self.input_round = input_round
        # Built on the worker's loop: a sync handler's ctx.wait() hands work back to it.
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._loop_thread = threading.get_ident()
        self.request_id = request_id
        self.tool = tool
        self.principal = principal or _UNKNOWN_CALLER
        self._log = call_log or CallLog(tool=tool, request_id=request_id)
        self._sink = progress_sink
        self._cancel = cancel_flag
        self._announce = announce
        self._visibility = visibility
        self._last_progress: float | None = None
        self._last_sent_at = 0.0

    @classmethod
    def _for_runtime(
        cls,
        *,
        request_id: str,
        tool: str,
        progress_sink: ProgressSink | None,
        cancel_flag: threading.Event,
        call_log: CallLog | None = None,
        principal: Principal | None = None,
        announce: ResourceUpdateSink | None = None,
        inputs: InputChannel | None = None,
        input_round: int = 0,
        visibility: VisibilitySink | None = None,
    ) -> ToolContext:
        return cls(
            request_id=request_id,
            tool=tool,
            progress_sink=progress_sink,
            cancel_flag=cancel_flag,
            call_log=call_log,
            principal=principal,
            announce=announce,
            inputs=inputs,
            input_round=input_round,
            visibility=visibility,
            _token=_RUNTIME_TOKEN,
        )

    def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        """Report progress; a no-op when the caller asked for none.

        Values that do not increase are dropped (the spec requires increasing progress), and
        reports closer than 50 ms apart are coalesced, except the one reaching ``total``.
        """
        if self._sink is None:
            return
        if self._last_progress is not None and done <= self._last_progress:
            return
        now = time.monotonic()
        is_final = total is not None and done >= total
        if not is_final and now - self._last_sent_at < _PROGRESS_MIN_INTERVAL_S:
            return
        self._last_progress = done
        self._last_sent_at = now
        self._sink(done, total, message)

    def log(self, level: LogLevel, message: str, data: object = None) -> None:
        """Log ``message`` (and optional JSON-able ``data``) at an MCP level: ``"debug"``,
        ``"info"``, ``"notice"``, ``"warning"``, ``"error"``, ``"critical"``, ``"alert"``
        or ``"emergency"``.

        The entry always goes to the worker's log (``tool.log``, with the request id). It
        reaches the client as ``notifications/message`` (``logger``: the tool's name;
        ``data``: the message, or ``{"message": ..., "data": ...}``) only if the client
        asked for that level: in the handshake era with ``logging/setLevel`` (nothing is
        sent before), at 2026-07-28 with the request's ``_meta`` log level. At most
        ``worker.log_messages_per_s`` entries per second reach the client; the rest are
        counted and reported in one warning (docs/tool-authoring.md).

        Raises:
            ValueError: ``level`` is not one of the eight levels.
        """
        self._log.write(level, message, data)

    def resource_updated(self, uri: str) -> None:
        """Announce that the resource at ``uri`` changed: every client subscribed to it
        gets ``notifications/resources/updated`` (``resources/subscribe`` in the handshake
        era, a listen stream's ``resourceSubscriptions`` at 2026-07-28), whichever front
        it is connected to; other clients get nothing. It is queued with the call's other
        messages, so it goes out before the call's own answer.

        Raises:
            ValueError: ``uri`` is empty or not a string.
        """
        if not isinstance(uri, str) or not uri:  # type: ignore[redundant-expr]  # untyped callers
            raise ValueError("resource_updated() needs the resource's URI")
        if self._announce is not None:
            self._announce(uri)

    def enable(self, *, tools: Items = (), prompts: Items = (), resources: Items = ()) -> None:
        """Turn registered tools, prompts and resources (by URI or URI template as
        registered) on for the whole fleet: every front lists and serves them again, and
        clients that watch a list get its ``notifications/*/list_changed``. An item already
        on changes nothing and announces nothing. Queued with the call's other messages,
        so it is applied before the call's own answer goes out. The state lives in Redis
        and outlives restarts; an operator can change it too (``mcpfleet tools``).

        Raises:
            ValueError: an item the app does not register (only registered items have a
                state; the registry itself is the deployment's code).
        """
        self._request(VisibilityRequest.ENABLE, tools, prompts, resources)

    def disable(self, *, tools: Items = (), prompts: Items = (), resources: Items = ()) -> None:
        """Turn registered items off for the whole fleet: fronts leave them out of their
        lists and answer a call, get or read of one exactly as of an unknown one, without
        reaching a worker. Otherwise as :meth:`enable`.

        Raises:
            ValueError: an item the app does not register.
        """
        self._request(VisibilityRequest.DISABLE, tools, prompts, resources)

    def toggle(self, *, tools: Items = (), prompts: Items = (), resources: Items = ()) -> None:
        """Turn each registered item on if it is off and off if it is on, decided in
        Redis at the moment it is applied (atomically, whatever other handlers do).
        Otherwise as :meth:`enable`; unlike it, applying a toggle twice undoes it, and the
        worker re-sends its messages after a lost Redis connection, so in that rare case a
        toggle may be applied twice.

        Raises:
            ValueError: an item the app does not register.
        """
        self._request(VisibilityRequest.TOGGLE, tools, prompts, resources)

    def _request(
        self, request: VisibilityRequest, tools: Items, prompts: Items, resources: Items
    ) -> None:
        items: dict[str, tuple[str, ...]] = {
            kind: named
            for kind, named in (
                (ChangeKind.TOOLS, _named(tools)),
                (ChangeKind.PROMPTS, _named(prompts)),
                (ChangeKind.RESOURCES, _named(resources)),
            )
            if named
        }
        if items and self._visibility is not None:
            self._visibility(request, items)

    @property
    def cancelled(self) -> bool:
        """True once the client cancelled the call or its deadline passed."""
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`CancelledByClientError` if the call was cancelled.

        Sync handlers call this between steps of long work; async handlers are cancelled
        at their next ``await`` anyway.
        """
        if self._cancel.is_set():
            raise CancelledByClientError("the call was cancelled")

    # --- asking the client (ADR-0009) ------------------------------------------------------

    def client_supports(self, capability: str) -> bool:
        """Whether the client can answer what needs ``capability``: ``"elicitation"``,
        ``"elicitation.url"``, ``"sampling"``, ``"sampling.tools"``, ``"sampling.context"``
        or ``"roots"`` (as it declared them: in ``initialize``, or at 2026-07-28 in this
        request's envelope).

        Raises:
            ValueError: not one of those names.
        """
        flag = CLIENT_CAPABILITY_NAMES.get(capability)
        if flag is None:
            raise ValueError(
                f"unknown client capability {capability!r} "
                f"(known: {', '.join(CLIENT_CAPABILITY_NAMES)})"
            )
        return self._inputs.supports(flag)

    async def ask(self, requests: Mapping[str, ClientRequest[Any]]) -> dict[str, Any]:
        """Ask the client several things at once and return the answers by key.

        ``requests`` map keys of your choosing to :func:`~workers.elicitation_request`,
        :func:`~workers.sampling_request` or :func:`~workers.roots_request`. In the
        handshake era they go to the client together and this waits for every answer; at
        2026-07-28 they go out in one ``InputRequiredResult`` and the handler runs again
        when the client retries with the answers (docs/tool-authoring.md, "Asking the
        client").

        Raises:
            MissingClientCapabilityError: the client did not declare what one request
                needs (unhandled, the call fails with ``-32021``; a tool in the
                handshake era gets a tool error instead).
            ClientRequestError: the client refused one (a JSON-RPC error) or answered
                nonsense.
        """
        return await self._inputs.ask(requests)

    async def _ask_one(self, request: ClientRequest[T], key: str | None) -> T:
        name = key if key is not None else self._inputs.default_key(request)
        answers = await self._inputs.ask({name: request})
        answer: T = answers[name]
        return answer

    async def elicit(
        self,
        message: str,
        schema: type[T] | Mapping[str, Any],
        *,
        key: str | None = None,
    ) -> Elicitation[T]:
        """Ask the user to fill in a form (``elicitation/create``), e.g.
        ``answer = await ctx.elicit("Which region?", Region)``.

        ``schema`` is a msgspec Struct or dataclass of flat primitive fields (the accepted
        content is converted to it) or a JSON schema dict. ``key`` names the request at
        2026-07-28 (default: ``elicitation-<n>``, by the order the handler asks in).
        Raises as :meth:`ask`; ``TypeError`` for a schema elicitation cannot express.
        """
        return await self._ask_one(elicitation_request(message, schema), key)

    async def elicit_url(
        self,
        message: str,
        url: str,
        *,
        elicitation_id: str | None = None,
        key: str | None = None,
    ) -> Elicitation[None]:
        """Send the user to ``url`` for an interaction the client must not see (a sign-in,
        a payment): ``elicitation/create`` in URL mode, for clients declaring
        ``elicitation.url``. The answer's ``action`` says whether the user agreed to go;
        learn the outcome from your own service. ``key`` as for :meth:`elicit`.
        Raises as :meth:`ask`; ``ValueError`` for a URL that is not absolute http(s)."""
        request = url_elicitation_request(message, url, elicitation_id=elicitation_id)
        return await self._ask_one(request, key)

    async def sample(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        max_tokens: int,
        system_prompt: str | None = None,
        temperature: float | None = None,
        stop_sequences: Sequence[str] | None = None,
        model_preferences: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> SamplingResult:
        """Ask the client's model (``sampling/createMessage``): a prompt, or sampling
        messages; ``result.text`` is the answer's text. ``key`` as for :meth:`elicit`
        (default ``sampling-<n>``). Raises as :meth:`ask`."""
        request = sampling_request(
            messages,
            max_tokens=max_tokens,
            system_prompt=system_prompt,
            temperature=temperature,
            stop_sequences=stop_sequences,
            model_preferences=model_preferences,
        )
        return await self._ask_one(request, key)

    async def list_roots(self, *, key: str | None = None) -> list[ClientRoot]:
        """The client's roots (``roots/list``). ``key`` as for :meth:`elicit` (default
        ``roots-<n>``). Raises as :meth:`ask`."""
        return await self._ask_one(roots_request(), key)

    def wait(self, awaitable: Awaitable[T]) -> T:
        """From a sync handler, run one of the context's async methods and wait for it:
        ``answer = ctx.wait(ctx.elicit("Proceed?", Confirm))``.

        Raises:
            RuntimeError: called from an async handler (``await`` it instead).
        """
        if self._loop is None:
            raise RuntimeError("ctx.wait() needs the worker's event loop")
        result: T = block_on(self._loop, self._loop_thread, awaitable)
        return result


def _named(items: Items) -> tuple[str, ...]:
    """One item or several, as a tuple (a lone string is one item, not its characters)."""
    named = (items,) if isinstance(items, str) else tuple(items)
    if not all(isinstance(item, str) and item for item in named):  # type: ignore[redundant-expr]  # untyped callers
        raise ValueError("items are named by non-empty strings")
    return named
