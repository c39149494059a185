"""``ToolContext``: what a running handler may ask of the fleet (progress, cancellation,
logging to the client, announcing that a resource changed, turning tools, prompts and
resources on and off) and what it may know about its call (request id, principal).

Built only by the worker runtime. Every method is safe to call from a sync handler running
in a worker thread and from an async handler on the worker's event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Final, final

from proto import ChangeKind, FleetError, LogLevel, Principal, VisibilityRequest
from workers.call_log import CallLog

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
    """

    __slots__ = (
        "_announce",
        "_cancel",
        "_last_progress",
        "_last_sent_at",
        "_log",
        "_sink",
        "_visibility",
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
        visibility: VisibilitySink | None = None,
        _token: object = None,
    ) -> None:
        if _token is not _RUNTIME_TOKEN:
            raise TypeError("ToolContext is created by the mcpfleet worker runtime")
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


def _named(items: Items) -> tuple[str, ...]:
    """One item or several, as a tuple (a lone string is one item, not its characters)."""
    named = (items,) if isinstance(items, str) else tuple(items)
    if not all(isinstance(item, str) and item for item in named):  # type: ignore[redundant-expr]  # untyped callers
        raise ValueError("items are named by non-empty strings")
    return named
