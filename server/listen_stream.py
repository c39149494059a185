"""``subscriptions/listen`` over HTTP (2026-07-28; mcp-protocol.md 5.7, 7.6, checklist 32,
40): the response is an SSE stream that stays open.

The stream opens with the acknowledgement, then carries every change its subscription
honours (from the fleet's change feed, ``server/change_feed.py``), each tagged with the
subscription id, and a ``: ping`` comment whenever it was idle for ``front.sse_keepalive_s``.
It ends in one of two ways:

- the client closes it (the only ending a client has at 2026-07-28): nothing more is sent
  (mcp-protocol.md 5.6);
- the front drains (SIGTERM): changes still pending are flushed, then the listen request's
  response (``resultType: "complete"`` with the subscription id) is the last event, so the
  client knows the end was deliberate and listens again, on another front. A draining
  front therefore never waits on a listen stream.

The inbox is opened before the acknowledgement is written, so a change announced while the
acknowledgement is on its way follows it instead of being lost.
"""

from __future__ import annotations

from typing import Final

import structlog
import trio

from proto import (
    KEEPALIVE_COMMENT,
    ServiceUnavailableError,
    Subscription,
    encode_event,
    encode_result,
)
from server.change_feed import ChangeFeed, ChangeInbox
from server.config import FrontConfig
from server.sse_response import (
    SSE_HEADERS,
    Receive,
    Send,
    cancel_on_disconnect,
    cancel_when_set,
)

__all__ = ["ListenStreams"]

log = structlog.get_logger()

_CLIENT_CLOSED: Final = "client_closed"
_SERVER_ENDED: Final = "server_ended"
_CUT: Final = "cut"


class ListenStreams:
    """Serves the listen streams of one front process.

    Args:
        changes: the fleet's change feed.
        config: the front's settings (keep-alive interval, stream limit).
        draining: set once the front is shutting down: open streams end gracefully.
    """

    def __init__(self, *, changes: ChangeFeed, config: FrontConfig, draining: trio.Event) -> None:
        self._changes = changes
        self._keepalive_s = config.sse_keepalive_s
        self._max_streams = config.max_listen_streams
        self._draining = draining
        self.open_streams = 0

    async def serve(self, subscription: Subscription, *, receive: Receive, send: Send) -> None:
        """Serve the stream until the client closes it or the front drains.

        Raises:
            ServiceUnavailableError: ``front.max_listen_streams`` are open; nothing was sent.

        Cancellation: the stream is cut without its final response (hypercorn's graceful
        timeout; a draining front ends it before that).
        """
        if self.open_streams >= self._max_streams:
            raise ServiceUnavailableError(
                f"Service unavailable: {self._max_streams} listen streams are open on this front"
            )
        self.open_streams += 1
        opened = trio.current_time()
        ending = _CUT
        try:
            with self._changes.inbox(subscription.honours) as inbox:
                await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
                await _body(send, encode_event(subscription.acknowledgement()))
                ending = await self._stream(subscription, inbox, receive, send)
        finally:
            self.open_streams -= 1
            log.info(
                "listen.ended",
                ending=ending,
                subscription_id=subscription.id,
                open_streams=self.open_streams,
                duration_s=round(trio.current_time() - opened, 3),
            )

    async def _stream(
        self, subscription: Subscription, inbox: ChangeInbox, receive: Receive, send: Send
    ) -> str:
        server_ended = False
        with trio.CancelScope() as client_gone:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(cancel_on_disconnect, receive, client_gone, trio.CancelScope())
                with trio.CancelScope() as listening:
                    nursery.start_soon(cancel_when_set, self._draining, listening)
                    await self._relay(subscription, inbox, send)
                # Ended by the server, whatever happens next: a disconnect while (or once)
                # the final response is written only cuts that short.
                server_ended = True
                await self._end(subscription, inbox, send)
                nursery.cancel_scope.cancel()
        return _SERVER_ENDED if server_ended else _CLIENT_CLOSED

    async def _relay(self, subscription: Subscription, inbox: ChangeInbox, send: Send) -> None:
        """Changes as they come, keep-alive comments in between; returns only when cancelled."""
        while True:
            announcement = None
            with trio.move_on_after(self._keepalive_s):
                announcement = await inbox.receive()
            if announcement is None:  # idle: a comment, ignored by clients (SSE spec)
                await _body(send, KEEPALIVE_COMMENT)
                continue
            for frame in subscription.notifications(announcement):
                await _body(send, encode_event(frame))

    async def _end(self, subscription: Subscription, inbox: ChangeInbox, send: Send) -> None:
        """The server ends the stream: pending changes first, then the listen response."""
        while (announcement := inbox.receive_nowait()) is not None:
            for frame in subscription.notifications(announcement):
                await _body(send, encode_event(frame))
        final = encode_event(encode_result(subscription.id, subscription.completion()))
        await send({"type": "http.response.body", "body": final, "more_body": False})


async def _body(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})
