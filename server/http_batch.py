"""One 2025-03-26 JSON-RPC batch POSTed over HTTP (mcp-protocol.md 2.2 and 4.2), once the
transport has checked that it belongs to a 2025-03-26 session.

The batch's requests run concurrently; its notifications are acted on
(``notifications/cancelled`` reaches the request wherever it runs) and never answered;
posted responses are ignored. A member that is not a valid message, ``initialize``, a
request with a 2026-07-28 envelope and a second request with the same id are each answered
with their own error. The answer:

- responses → 200 and a JSON array of them, in the order of the batch's members; or, once a
  progress notification of one of its requests arrived, an SSE stream (the
  :class:`EventStream`'s deferred commitment): every response is an event as soon as its
  request finishes, and the last one ends the stream;
- requests, but all of them cancelled → 200 and an event stream without events (no
  response for a cancelled request, mcp-protocol.md 9.2), as for a single request;
- only notifications and posted responses → 202 without a body (503 if Redis did not take
  a notification, as for a single one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import structlog
import trio

from proto import (
    BackendUnavailableError,
    BatchReplies,
    ClientResponse,
    HeaderMismatchError,
    IncomingMessage,
    InvalidRequestError,
    Notification,
    Principal,
    ProtocolError,
    RedisCommandError,
    Request,
    RequestError,
    RequestId,
    ServiceUnavailableError,
    encode_error,
    encode_result,
)
from server.call_queue import CallCancelledError
from server.config import FrontConfig
from server.dispatch import Dispatcher
from server.event_store import EventStore
from server.log_level_setting import LogLevelSetting
from server.request_failure import failure_error, unavailable_error
from server.resource_subscriptions import ResourceSubscriptions
from server.sse_response import SSE_HEADERS, EventStream, ResumableStream, Send

__all__ = ["HttpBatches"]

log = structlog.get_logger()

_JSON: Final = [(b"content-type", b"application/json")]
_EVENT_STREAM: Final = [SSE_HEADERS[0]]

_Refusal = tuple[int, RequestId | None, ProtocolError]
"""A member answered with an error: its index in the batch, the id to echo, the error."""


class HttpBatches:
    """Serves the batches posted to one front process (module docstring).

    Args:
        dispatcher: serves the requests and acts on the notifications.
        events: the event store (an SSE answer is resumable like any handshake-era one).
        config: the front's settings (SSE keep-alive and retry).
        new_request_id: mints the log-correlation id of each request.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        events: EventStore,
        config: FrontConfig,
        new_request_id: Callable[[], str],
    ) -> None:
        self._dispatcher = dispatcher
        self._events = events
        self._config = config
        self._new_request_id = new_request_id

    async def serve(
        self,
        members: list[IncomingMessage | RequestError],
        *,
        session_id: str,
        version: str,
        prime: bool,
        send: Send,
        log_setting: LogLevelSetting | None = None,
        subscriptions: ResourceSubscriptions | None = None,
        client_capabilities: int = 0,
        principal: Principal | None = None,
        client: str = "",
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        """Serve a decoded batch of a 2025-03-26 session.

        ``prime``: an SSE answer opens with a priming event (never, at 2025-03-26).
        ``log_setting``: the session's ``logging/setLevel`` level; ``subscriptions``: its
        resource subscriptions; ``client_capabilities``: what its client declared it can
        answer (a handler's requests go out on the batch's stream, ADR-0009);
        ``principal``: the verified caller (None: anonymous, bound to the session);
        ``client``: the caller's address (its limits, ADR-0017: a member a limit refuses
        gets its JSON-RPC error in the batch's answer).

        Returns:
            The status, body and headers to answer with; None when the answer was an SSE
            stream, already sent in full through ``send``.

        Cancellation: requests still running are cancelled, and with them their calls
        (the call queue tells the workers); the answer may be cut short.
        """
        async with trio.open_nursery() as nursery:
            events = EventStream(send, nursery, self._config.sse_keepalive_s)
            events.resumable = ResumableStream(
                self._events, session_id, prime=prime, retry_ms=self._config.sse_retry_ms
            )
            batch = _Batch(
                self._dispatcher,
                session_id=session_id,
                version=version,
                events=events,
                new_request_id=self._new_request_id,
                log_setting=log_setting,
                subscriptions=subscriptions,
                client_capabilities=client_capabilities,
                principal=principal,
                client=client,
            )
            await batch.serve(members)
            events.close()
        if events.started:
            if not events.ended:  # its last request was cancelled: no final response
                await events.finish(None)
            return None
        return batch.answer()


class _Batch:
    """One batch being served; every response goes through the POST's event stream."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        session_id: str,
        version: str,
        events: EventStream,
        new_request_id: Callable[[], str],
        log_setting: LogLevelSetting | None,
        subscriptions: ResourceSubscriptions | None,
        client_capabilities: int,
        principal: Principal | None,
        client: str,
    ) -> None:
        self._dispatcher = dispatcher
        self._principal = principal
        self._client = client
        self._client_capabilities = client_capabilities
        self._log_setting = log_setting
        self._subscriptions = subscriptions
        self._session_id = session_id
        self._version = version
        self._events = events
        self._new_request_id = new_request_id
        self._replies = BatchReplies()
        self._unanswered = 0  # responses still to come: when it reaches 0, the last was sent
        self._has_requests = False
        self._unavailable: ServiceUnavailableError | None = None

    async def serve(self, members: list[IncomingMessage | RequestError]) -> None:
        """Serve every member; returns once every request is answered or cancelled."""
        requests, refusals, relayed = self._sort(members)
        self._has_requests = bool(requests)
        # Counted before anything awaits, so whichever response brings it to 0 is the last.
        self._unanswered = len(requests) + len(refusals)
        async with trio.open_nursery() as nursery:
            for index, request in requests:
                nursery.start_soon(self._serve_request, index, request)
            for index, request_id, error in refusals:
                await self._deliver(index, _error_reply(request_id, error))
            for message in relayed:
                await self._act_on(message)

    def answer(self) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Status, body and headers, when the event stream never started."""
        if self._replies:
            return 200, self._replies.encode(), _JSON
        if self._has_requests:
            return 200, b"", _EVENT_STREAM  # every request cancelled: no response at all
        if self._unavailable is not None:
            error = self._unavailable
            return error.http_status, encode_error(None, error.code, error.message), _JSON
        return 202, b"", []

    def _sort(
        self, members: list[IncomingMessage | RequestError]
    ) -> tuple[list[tuple[int, Request]], list[_Refusal], list[Notification | ClientResponse]]:
        requests: list[tuple[int, Request]] = []
        refusals: list[_Refusal] = []
        relayed: list[Notification | ClientResponse] = []  # acted on, never answered
        seen: set[RequestId] = set()
        for index, member in enumerate(members):
            if isinstance(member, RequestError):
                refusals.append((index, member.request_id, member.error))
            elif isinstance(member, Notification | ClientResponse):
                relayed.append(member)
            elif isinstance(member, Request):
                if member.id in seen:
                    # Two answers with one id, and a cancel for it, would be ambiguous.
                    twice = InvalidRequestError(f"Request id {member.id!r} appears twice")
                    refusals.append((index, member.id, twice))
                    continue
                seen.add(member.id)
                try:
                    self._dispatcher.reject_modern_envelope(member)
                except HeaderMismatchError as exc:
                    refusals.append((index, member.id, exc))
                    continue
                requests.append((index, member))
        return requests, refusals, relayed

    async def _serve_request(self, index: int, request: Request) -> None:
        try:
            result = await self._dispatcher.handshake(
                request,
                self._version,
                request_id=self._new_request_id(),
                notify=self._events.notify,
                session_id=self._session_id,
                log_setting=self._log_setting,
                subscriptions=self._subscriptions,
                principal=self._principal,
                client_capabilities=self._client_capabilities,
                client=self._client,
            )
        except CallCancelledError:
            self._unanswered -= 1  # cancelled by the client: left out (mcp-protocol.md 9.2)
            return
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            reply = _error_reply(request.id, failure_error(exc))
        else:
            reply = encode_result(request.id, result)
        await self._deliver(index, reply)

    async def _deliver(self, index: int, reply: bytes) -> None:
        self._replies.add(index, reply)
        self._unanswered -= 1
        await self._events.respond(reply, last=self._unanswered == 0)

    async def _act_on(self, message: Notification | ClientResponse) -> None:
        """A notification (a cancel), or a response to a handler's request, passed on."""
        try:
            if isinstance(message, ClientResponse):
                await self._dispatcher.client_response(
                    message, self._session_id, principal=self._principal
                )
            else:
                await self._dispatcher.handshake_notification(message, session_id=self._session_id)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("batch.notification_failed", error=str(exc))
            self._unavailable = unavailable_error(exc)


def _error_reply(request_id: RequestId | None, error: ProtocolError) -> bytes:
    return encode_error(request_id, error.code, error.message, error.data)
