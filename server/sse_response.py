"""SSE on the HTTP transport: the deferred commitment of a POST response
(:class:`EventStream`), and what it, the GET stream and the listen stream share (ASGI
types, headers, the disconnect and drain watches).
"""

from __future__ import annotations

import enum
import math
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import structlog
import trio

from proto import (
    KEEPALIVE_COMMENT,
    BackendUnavailableError,
    EventId,
    RedisCommandError,
    encode_event,
    encode_priming_event,
)
from server.event_store import EventStore
from server.response_headers import RENDERING_HEADERS

__all__ = [
    "SSE_HEADERS",
    "EventStream",
    "LateDisconnectWatch",
    "Message",
    "Receive",
    "ResumableStream",
    "Scope",
    "Send",
    "cancel_on_disconnect",
    "cancel_when_set",
]

log = structlog.get_logger()

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SSE_HEADERS: Final = [
    (b"content-type", b"text/event-stream"),
    # no-store like every MCP answer (server/response_headers.py); no-transform keeps
    # proxies from compressing or buffering the stream.
    (b"cache-control", b"no-store, no-transform"),
    (b"x-accel-buffering", b"no"),
    *RENDERING_HEADERS,
]
_EVENT_QUEUE: Final = 64


async def cancel_on_disconnect(
    receive: Receive, served: trio.CancelScope, watcher: trio.CancelScope
) -> None:
    """Cancel ``served`` when the client disconnects, until ``watcher`` is cancelled."""
    with watcher:
        while (await receive())["type"] != "http.disconnect":
            pass
        served.cancel()


class LateDisconnectWatch:
    """:func:`cancel_on_disconnect` for one request, started only when asked: a watcher
    task costs ~110 µs of CPU on the call path (spawn plus cancel), and most calls answer
    before a client could give up on them (ADR-0004). A disconnect that happened before
    :meth:`start` is still seen: the server holds it for :func:`cancel_on_disconnect`.

    Args:
        nursery: where the watcher runs; it must outlive the request.
        receive: the request's ASGI receive.
        served: the scope to cancel when the client goes away.
    """

    __slots__ = ("_nursery", "_receive", "_served", "_watcher")

    def __init__(self, nursery: trio.Nursery, receive: Receive, served: trio.CancelScope) -> None:
        self._nursery = nursery
        self._receive = receive
        self._served = served
        self._watcher: trio.CancelScope | None = None

    def start(self) -> None:
        """Watch from now on (idempotent)."""
        if self._watcher is None:
            self._watcher = trio.CancelScope()
            self._nursery.start_soon(self._watch, self._watcher)

    async def _watch(self, watcher: trio.CancelScope) -> None:
        # The nursery may be the front's own: a broken receive must not take it down.
        try:
            await cancel_on_disconnect(self._receive, self._served, watcher)
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one watcher
            log.warning("request.disconnect_watch_failed", error=repr(exc))

    def stop(self) -> None:
        """The request is answered: stop watching, if started."""
        if self._watcher is not None:
            self._watcher.cancel()


async def cancel_when_set(event: trio.Event, scope: trio.CancelScope) -> None:
    """Cancel ``scope`` once ``event`` is set (a long-lived stream ends when its front drains)."""
    await event.wait()
    scope.cancel()


class ResumableStream:
    """Where a handshake-era POST stream keeps its events, so the client can resume it with
    ``Last-Event-ID`` on any front (mcp-protocol.md 4.4).

    Args:
        store: the event store.
        session_id: the session the stream belongs to.
        prime: open with a priming event (2025-11-25).
        retry_ms: the ``retry`` of the priming event.
    """

    def __init__(self, store: EventStore, session_id: str, *, prime: bool, retry_ms: int):
        self.store = store
        self.session_id = session_id
        self.name = secrets.token_hex(8)  # unique within the session, unguessable
        self.prime = prime
        self.retry_ms = retry_ms

    async def store_event(self, message: bytes, *, final: bool = False) -> EventId | None:
        """Store a message; its event id, or None when Redis did not take it (the event is
        still sent, only not resumable)."""
        try:
            entry = await self.store.append(self.session_id, self.name, message, final=final)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("sse.event_not_stored", error=str(exc))
            return None
        return EventId(self.name, entry)


class _Kind(enum.Enum):
    """What a queued message is to the stream."""

    NOTIFICATION = "notification"
    RESPONSE = "response"
    LAST_RESPONSE = "last-response"


class EventStream:
    """The deferred SSE commitment (mcp-protocol.md 5.5): a request answers as plain JSON
    unless a notification for it (progress) arrives first; then the response becomes
    ``text/event-stream``, the notifications are events, and the final message is the
    last one. All validation happens before, so errors keep their HTTP status. A stream
    idle for ``keepalive_s`` gets a ``: ping`` comment, so proxies keep it open.

    A 2025-03-26 batch (mcp-protocol.md 2.2) queues its responses with :meth:`respond` as
    its requests finish: they are held until a notification commits the stream (then sent
    first, in the order they came) and are events afterwards; the last one ends the stream
    (:attr:`ended`). A batch whose stream never started is answered as a JSON array.

    With :attr:`resumable` set (handshake-era sessions), every event is stored and carries
    an id, after a priming event for 2025-11-25 clients.
    """

    def __init__(self, send: Send, nursery: trio.Nursery, keepalive_s: float) -> None:
        self._send = send
        self._nursery = nursery
        self._keepalive_s = keepalive_s
        self._in, self._out = trio.open_memory_channel[tuple[bytes, _Kind]](_EVENT_QUEUE)
        self._pumping = False
        self._held: list[bytes] = []
        self.started = False
        self.ended = False
        self.resumable: ResumableStream | None = None

    def notify(self, message: bytes) -> None:
        """Queue a notification; if the client reads slower than progress comes, the
        excess is dropped (progress is advisory, the result is not)."""
        self._pump_soon()
        try:
            self._in.send_nowait((message, _Kind.NOTIFICATION))
        except trio.WouldBlock:
            log.debug("sse.notification_dropped")

    async def respond(self, message: bytes, *, last: bool) -> None:
        """Queue one response of a batch, never dropped: waits while the queue is full.
        ``last``: no other message of the batch follows it, so it ends the stream.

        Cancellation: a response not queued yet is not sent.
        """
        self._pump_soon()
        await self._in.send((message, _Kind.LAST_RESPONSE if last else _Kind.RESPONSE))

    def close(self) -> None:
        self._in.close()

    def _pump_soon(self) -> None:
        if not self._pumping:
            self._pumping = True
            self._nursery.start_soon(self._pump)

    async def _pump(self) -> None:
        async with self._out:
            while True:
                item = None
                idle_s = self._keepalive_s if self.started and not self.ended else math.inf
                with trio.move_on_after(idle_s):
                    try:
                        item = await self._out.receive()
                    except trio.EndOfChannel:
                        return
                if item is None:  # idle: comments are ignored by clients (SSE spec)
                    await self._body(KEEPALIVE_COMMENT, more=True)
                    continue
                await self._pass_on(*item)

    async def _pass_on(self, message: bytes, kind: _Kind) -> None:
        if self.ended:
            return  # a safety net: by construction nothing follows a batch's last response
        if kind is _Kind.NOTIFICATION:
            if not self.started:
                await self._start()
                for held in self._held:
                    await self._event(held, more=True)
                self._held.clear()
            await self._event(message, more=True)
        elif not self.started:
            self._held.append(message)
        else:
            self.ended = kind is _Kind.LAST_RESPONSE
            await self._event(message, more=not self.ended)

    async def _start(self) -> None:
        self.started = True
        await self._send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        resumable = self.resumable
        if resumable is None:
            return
        # The marker creates the stream in the store: resumable before its first event.
        primer = await resumable.store_event(b"")
        if primer is not None and resumable.prime:
            await self._body(encode_priming_event(primer, resumable.retry_ms), more=True)

    async def finish(self, message: bytes | None) -> None:
        """End the stream, with ``message`` as its last event (None: no more events)."""
        if message is None:
            await self._body(b"", more=False)
            return
        await self._event(message, more=False)

    async def _event(self, message: bytes, *, more: bool) -> None:
        event_id = None
        if self.resumable is not None:
            event_id = await self.resumable.store_event(message, final=not more)
        await self._body(encode_event(message, event_id), more=more)

    async def _body(self, body: bytes, *, more: bool) -> None:
        await self._send({"type": "http.response.body", "body": body, "more_body": more})
