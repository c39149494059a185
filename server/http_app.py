"""The Streamable HTTP transport as a raw ASGI app (no framework: every microsecond of the
request path is budgeted, DESIGN.md section 6).

``POST /mcp`` serves both eras, routed by the ``MCP-Protocol-Version`` header (checklist 41);
``GET /health`` (alive) and ``GET /ready`` (able to serve) are the probes; ``GET /metrics``
(``front.metrics_path``) is the Prometheus endpoint (``server/metrics_endpoint.py``).
Transport checks run in the order of mcp-protocol.md 5.4: origin, method, Accept,
Content-Type, size (``server/http_request.py``), then JSON-RPC decoding and the era's own
ladder. With ``[auth]`` on, the bearer token of every request to the MCP endpoint is
checked right after the head's checks, before its method or era matters
(``server/resource_server.py``, ADR-0016), and the protected-resource metadata is served at
its well-known paths; the probes and ``/metrics`` stay open. Every 4xx carries a JSON-RPC
error body, so a dual-era client can tell a modern server's refusal from a legacy server
(section 5.9).

A body that is a JSON array (one byte compared, before any decoding) is a JSON-RPC batch:
served on 2025-03-26 sessions (``server/http_batch.py``), refused with 400 -32600 and id
null everywhere else (mcp-protocol.md 2.2).

A 2026-07-28 ``subscriptions/listen`` takes the same ladder and then keeps its response
stream open (``server/listen_stream.py``), so it is routed before the request/response path.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
import structlog
import trio

from proto import (
    CALL_LANE_METHODS,
    HANDSHAKE_VERSIONS,
    INITIALIZE,
    MCP_SESSION_ID,
    MODERN_VERSIONS,
    SUBSCRIPTIONS_LISTEN,
    TASKS_RESULT,
    WWW_AUTHENTICATE,
    BackendUnavailableError,
    ClientResponse,
    Era,
    ErrorCode,
    ForbiddenError,
    HeaderMismatchError,
    InvalidRequestError,
    LimitExceededError,
    ModernParams,
    Notification,
    Principal,
    ProtocolError,
    RedisCommandError,
    RemoteProtocolError,
    Request,
    RequestError,
    RequestId,
    ServiceUnavailableError,
    SessionRecord,
    ShuttingDownError,
    allows_batches,
    batch_refused_error,
    decode_batch,
    decode_header_value,
    decode_message,
    decode_params,
    encode_error,
    encode_result,
    era_of,
    is_batch,
    mirrored_field,
    mirrored_name,
    parse_event_id,
    require_envelope,
    sends_priming_events,
    supports_tasks,
)
from proto import unsupported_version_error as _unsupported
from server.call_queue import CallCancelledError
from server.client_address import client_address
from server.config import FrontConfig
from server.dispatch import Dispatcher, NotificationSink
from server.drain import InFlight
from server.event_store import EventStore
from server.get_stream import GetStreamRefused, GetStreams
from server.http_batch import HttpBatches
from server.http_request import HttpError, RequestHeaders, TransportChecks, accepts_sse
from server.listen_stream import ListenStreams
from server.log_level_setting import SessionLogLevel
from server.metrics_endpoint import MetricsEndpoint
from server.readiness import Readiness
from server.request_failure import failure_error
from server.request_failure import unavailable_error as _unavailable
from server.resource_server import ResourceServer
from server.resource_subscriptions import SessionSubscriptions
from server.response_headers import SECURITY_HEADERS, hsts_header
from server.session_store import SessionStore
from server.sse_response import (
    SSE_HEADERS,
    EventStream,
    LateDisconnectWatch,
    Message,
    Receive,
    ResumableStream,
    Scope,
    Send,
)

__all__ = ["HttpApp"]

log = structlog.get_logger()

_PROGRESS_TOKEN: Final = b'"progressToken"'
"""No request without these bytes can carry a progress token, so none can stream."""
_LOG_LEVEL: Final = b'"io.modelcontextprotocol/logLevel"'
"""No 2026-07-28 request without these bytes takes log entries, so none can stream them."""

_JSON_HEADERS: Final = [(b"content-type", b"application/json")]
_RETRY_AFTER: Final = (b"retry-after", b"1")
"""On every 503 (shutting down, Redis unreachable, at capacity) that does not say its own:
a retry may succeed soon, through another front or once Redis is back."""
_SHUTTING_DOWN: Final = encode_error(
    None, ShuttingDownError.code, str(ShuttingDownError()), {"reason": "shutting_down"}
)
_CLOSE: Final = (b"connection", b"close")
_CLOSING_HEADERS: Final = [*_JSON_HEADERS, _CLOSE]
_ALLOW_HANDSHAKE: Final = [*_JSON_HEADERS, (b"allow", b"GET, POST, DELETE")]
_ALLOW_MODERN: Final = [*_JSON_HEADERS, (b"allow", b"POST")]
_ALLOW_GET: Final = [*_JSON_HEADERS, (b"allow", b"GET, HEAD")]
_modern_params: Final = msgspec.json.Decoder(ModernParams)


class HttpApp:
    """ASGI application of one front process.

    Args:
        dispatcher: serves decoded requests.
        config: the front's settings.
        front_id: prefix of the request ids this front mints for log correlation.
        readiness: the readiness probe (``/health/ready``).
        metrics: the Prometheus endpoint (``front.metrics_path``).
        background: where disconnect watchers of long calls run; it must outlive every
            request (they are stopped when their request ends).
        in_flight: counts the requests being served (the drain waits for none).
        auth: checks bearer tokens and serves the protected-resource metadata; None while
            authentication is off.
        trusted_proxy_hops: proxies in front whose ``X-Forwarded-For`` entries name the
            caller's address (``limits.trusted_proxy_hops``).
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        config: FrontConfig,
        *,
        sessions: SessionStore,
        events: EventStore,
        get_streams: GetStreams,
        listen_streams: ListenStreams,
        front_id: str,
        readiness: Readiness,
        metrics: MetricsEndpoint,
        background: trio.Nursery,
        in_flight: InFlight,
        auth: ResourceServer | None = None,
        trusted_proxy_hops: int = 0,
    ) -> None:
        self._dispatcher = dispatcher
        self._auth = auth
        self._metadata_paths = frozenset() if auth is None else auth.metadata_paths
        self._proxy_hops = trusted_proxy_hops
        self._in_flight = in_flight
        self._background = background
        self._sessions = sessions
        self._events = events
        self._get_streams = get_streams
        self._listen_streams = listen_streams
        self._config = config
        self._path = config.path
        self._max_depth = config.max_json_depth
        self._hsts = hsts_header(config.hsts_max_age_s)
        self._checks = TransportChecks(config)
        self._readiness = readiness
        self._metrics = metrics
        self._metrics_path = config.metrics_path
        self._front_id = front_id
        self._request_numbers = itertools.count(1)
        self._batches = HttpBatches(
            dispatcher, events=events, config=config, new_request_id=self._next_request_id
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if self._hsts is not None:
                send = _adding_header(send, self._hsts)
            if not self._in_flight.admit():
                await _respond(send, 503, _SHUTTING_DOWN, _CLOSING_HEADERS)
                return
            try:
                await self._http(scope, receive, send)
            finally:
                self._in_flight.leave()
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == self._path:
            await self._mcp(scope, receive, send)
        elif path == "/health":
            await _respond(send, 200, b'{"status":"ok"}')
        elif path in ("/health/ready", "/ready"):
            report = await self._readiness.check()
            await _respond(send, 200 if report.ready else 503, msgspec.json.encode(report))
        elif path == self._metrics_path:
            status, headers, body = await self._metrics.answer(scope["method"])
            await _respond(send, status, body, headers)
        elif path in self._metadata_paths:
            await self._resource_metadata(scope, send)
        else:
            await _respond(send, 404, b'{"error":"not found"}')

    async def _mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = RequestHeaders(scope["headers"], client_address(scope, self._proxy_hops))
        extra: list[tuple[bytes, bytes]] = []  # response headers a handler adds
        try:
            self._checks.check_head(headers)
            if self._auth is not None:
                await self._authenticate(scope, headers)
            handshake = era_of(headers.single_version()) is Era.HANDSHAKE
            if scope["method"] == "DELETE" and handshake:
                await self._end_session(headers, send)
                return
            if scope["method"] == "GET" and handshake:
                await self._get(headers, receive, send)
                return
            if scope["method"] != "POST":
                # 2026-07-28 is POST only (checklist 33).
                allowed = _ALLOW_HANDSHAKE if handshake else _ALLOW_MODERN
                message = "Method not allowed; use " + allowed[-1][1].decode()
                await _respond(
                    send, 405, encode_error(None, ErrorCode.INVALID_REQUEST, message), allowed
                )
                return
            self._checks.check_post(headers)
            body = await self._checks.read_body(receive, headers.content_length)
            if is_batch(body):
                await self._batch(headers, body, send)
                return
            if not handshake and headers.method == [SUBSCRIPTIONS_LISTEN]:
                # Routed on the header, which the ladder then checks against the body.
                await self._listen(headers, body, receive, send)
                return
            # A handshake-era call may also stream because its session set a log level: that
            # is known only once the session is read (_handshake_call).
            streams = _PROGRESS_TOKEN in body or (not handshake and _LOG_LEVEL in body)
            # At 2026-07-28 closing the stream cancels the request (checklist 38): only what
            # runs on a worker lasts long enough to be worth watching. Routed on the
            # Mcp-Method header, which the ladder then checks against the body.
            watch = (
                not handshake
                and len(headers.method) == 1
                and headers.method[0] in CALL_LANE_METHODS
            )
            if streams:
                async with trio.open_nursery() as nursery:
                    events = EventStream(send, nursery, self._config.sse_keepalive_s)
                    served = await self._serve_watched(
                        headers, body, extra, receive, events, watch=watch
                    )
                    events.close()
                if served is None:
                    return  # the client is gone; nothing more is sent (mcp-protocol.md 5.6)
                status, payload = served
                if events.started:
                    # Committed to SSE: the final message is the stream's last event.
                    await events.finish(payload)
                    return
            elif watch:
                served = await self._serve_watched(headers, body, extra, receive, None, watch=True)
                if served is None:
                    return
                status, payload = served
            else:
                # Nothing can stream or be cancelled: no nursery, no scope (~20 µs).
                served = await self._serve(headers, body, extra, None, None, send=send)
                if served is None:
                    return  # answered as an event stream already
                status, payload = served
        except HttpError as exc:
            status, payload = exc.status, exc.render()
            extra.extend(exc.headers)
            if status == 413:
                # The rest of the body was never read: the connection cannot carry another
                # request, so the client is told to open a new one.
                extra.append(_CLOSE)
        if payload is None:
            await _respond(send, status, b"", extra)
        else:
            await _respond(send, status, payload, [*_JSON_HEADERS, *extra])

    async def _serve_watched(
        self,
        headers: RequestHeaders,
        body: bytes,
        extra: list[tuple[bytes, bytes]],
        receive: Receive,
        events: EventStream | None,
        *,
        watch: bool,
    ) -> tuple[int, bytes | None] | None:
        """:meth:`_serve`, cancelled if the client disconnects while a call waits long for
        its worker (checklist 38; the watcher starts only then, ADR-0004). None
        when it was cancelled that way."""
        served = trio.CancelScope()
        disconnects = LateDisconnectWatch(self._background, receive, served)
        try:
            with served:
                on_long_wait = disconnects.start if watch else None
                return await self._serve(headers, body, extra, events, on_long_wait)
        finally:
            disconnects.stop()
        log.info("request.cancelled_by_disconnect")
        return None

    async def _serve(
        self,
        headers: RequestHeaders,
        body: bytes,
        extra: list[tuple[bytes, bytes]],
        events: EventStream | None,
        on_long_wait: Callable[[], None] | None,
        *,
        send: Send | None = None,
    ) -> tuple[int, bytes | None] | None:
        """Serve a request; the status and payload to answer with, or None when the answer
        was sent as an event stream already (only with ``send``, see :meth:`_handshake`)."""
        # Refusals are rendered here: raised through a nursery they would arrive wrapped
        # in an exception group.
        try:
            if era_of(headers.single_version()) is Era.MODERN:
                notify = events.notify if events else None
                return await self._modern(headers, body, extra, notify, on_long_wait)
            return await self._handshake(headers, body, extra, events, send)
        except HttpError as exc:
            extra.extend(exc.headers)
            return exc.status, exc.render()

    async def _handshake(
        self,
        headers: RequestHeaders,
        body: bytes,
        extra: list[tuple[bytes, bytes]],
        events: EventStream | None,
        send: Send | None,
    ) -> tuple[int, bytes | None] | None:
        """A handshake-era POST. Without ``events`` (no progress token), a call to a worker
        (``tools/call``, ``resources/read``, ...) of a session that set a log level, or
        whose client can answer requests (its handler may ask), gets its own event stream,
        answered through ``send`` (then None is returned): other requests never pay for
        the nursery."""
        message = _decode(body, self._max_depth)
        rid = message.id if isinstance(message, Request) else None
        if not isinstance(message, ClientResponse):
            try:
                self._dispatcher.reject_modern_envelope(message)
            except HeaderMismatchError as exc:
                raise HttpError(400, exc, rid) from None
        if isinstance(message, Request) and message.method == INITIALIZE:
            return await self._initialize(message, headers, extra)
        session = await self._session(headers, rid)
        if isinstance(message, Notification):
            return await self._handshake_notification(message, headers.session_id or "")
        if not isinstance(message, Request):
            session_id = headers.session_id or ""
            principal = _in_session(headers.principal, session_id)
            return await self._client_response(message, session_id, principal)
        if events is None and send is not None and _may_stream(message.method, session):
            return await self._handshake_streamed(message, session, headers, extra, send)
        return await self._handshake_request(message, session, headers, extra, events)

    async def _handshake_streamed(
        self,
        message: Request,
        session: SessionRecord,
        headers: RequestHeaders,
        extra: list[tuple[bytes, bytes]],
        send: Send,
    ) -> tuple[int, bytes | None] | None:
        """:meth:`_handshake_request` with an event stream its log entries may commit to
        (the deferred commitment, as for progress); None once it answered as a stream."""
        async with trio.open_nursery() as nursery:
            events = EventStream(send, nursery, self._config.sse_keepalive_s)
            status, payload = await self._handshake_request(
                message, session, headers, extra, events
            )
            events.close()
        if not events.started:
            return status, payload
        await events.finish(payload)
        return None

    async def _handshake_request(
        self,
        message: Request,
        session: SessionRecord,
        headers: RequestHeaders,
        extra: list[tuple[bytes, bytes]],
        events: EventStream | None,
    ) -> tuple[int, bytes | None]:
        """A handshake-era request of ``session``, dispatched; its notifications go to
        ``events`` (if any), stored for resumption. A limit's refusal answers with its own
        status (429, 503) and headers in this era too (ADR-0017)."""
        session_id = headers.session_id or ""
        if events is not None:
            events.resumable = ResumableStream(
                self._events,
                session_id,
                prime=sends_priming_events(session.protocol_version),
                retry_ms=self._config.sse_retry_ms,
            )
        try:
            result = await self._dispatcher.handshake(
                message,
                session.protocol_version,
                request_id=self._next_request_id(),
                notify=events.notify if events else None,
                session_id=headers.session_id,
                log_setting=SessionLogLevel(self._sessions, session_id, session.log_level),
                subscriptions=SessionSubscriptions(self._sessions, session_id),
                principal=_in_session(headers.principal, session_id),
                client_capabilities=session.client_capabilities,
                client=headers.client,
            )
        except CallCancelledError:
            # Cancelled by the client: no response at all (mcp-protocol.md 9.2); the HTTP
            # exchange still has to end, as an event stream without events.
            extra.append(SSE_HEADERS[0])
            return 200, None
        except ForbiddenError as exc:
            return self._forbidden(exc, headers, extra, message.id)
        except LimitExceededError as exc:
            return _refused_by_limit(exc, message.id, extra)
        except ProtocolError as exc:
            # In the handshake era a refused request is still a completed exchange (200);
            # only a contradicting header is a transport error, and our own failures 5xx.
            if exc.code == ErrorCode.INTERNAL_ERROR:
                return _server_failure(exc, message.id)
            status = 400 if exc.code == ErrorCode.HEADER_MISMATCH else 200
            return status, encode_error(message.id, exc.code, exc.message, exc.data)
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            return _internal_error(exc, message.id)
        return 200, encode_result(message.id, result)

    async def _batch(self, headers: RequestHeaders, body: bytes, send: Send) -> None:
        """A JSON-RPC batch: served on a 2025-03-26 session, the one revision that has them;
        anywhere else (no session, another version, 2026-07-28) 400 -32600 with id null,
        which conformance requires from 2025-06-18 on (mcp-protocol.md 2.2, question 18).

        Raises:
            HttpError: the batch is refused as a whole, before anything was sent.
        """
        header_version = headers.single_version()
        if header_version is not None and not allows_batches(header_version):
            raise HttpError(400, batch_refused_error())
        session = await self._session(headers, None)
        if not allows_batches(session.protocol_version):
            raise HttpError(400, batch_refused_error())
        try:
            members = decode_batch(
                body, max_items=self._config.max_batch_requests, max_depth=self._max_depth
            )
        except RequestError as exc:
            raise HttpError(400, exc.error, exc.request_id) from None
        answer = await self._batches.serve(
            members,
            session_id=headers.session_id or "",
            version=session.protocol_version,
            prime=sends_priming_events(session.protocol_version),
            send=send,
            log_setting=SessionLogLevel(
                self._sessions, headers.session_id or "", session.log_level
            ),
            subscriptions=SessionSubscriptions(self._sessions, headers.session_id or ""),
            client_capabilities=session.client_capabilities,
            principal=_in_session(headers.principal, headers.session_id or ""),
            client=headers.client,
        )
        if answer is not None:
            await _respond(send, *answer)

    async def _handshake_notification(
        self, message: Notification, session_id: str
    ) -> tuple[int, bytes | None]:
        return await _accepted(
            self._dispatcher.handshake_notification(message, session_id=session_id)
        )

    async def _client_response(
        self, message: ClientResponse, session_id: str, principal: Principal | None
    ) -> tuple[int, bytes | None]:
        """A client's response to a request a handler sent it: 202 once it is on its way to
        that handler's worker (ADR-0009); 503 if Redis did not take it (the client may
        post it again)."""
        return await _accepted(
            self._dispatcher.client_response(message, session_id, principal=principal)
        )

    async def _initialize(
        self, message: Request, headers: RequestHeaders, extra: list[tuple[bytes, bytes]]
    ) -> tuple[int, bytes | None]:
        """Answer ``initialize`` and open a session every front can serve, owned by its
        caller (ADR-0016)."""
        try:
            result, version, client_name, capabilities = await self._dispatcher.initialize(message)
            session_id = await self._sessions.create(
                version, client_name, capabilities, owner=_owner(headers.principal)
            )
        except RemoteProtocolError as exc:
            return 200, encode_error(message.id, exc.code, exc.message, exc.data)
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            return _internal_error(exc, message.id)
        extra.append((MCP_SESSION_ID, session_id.encode()))
        return 200, encode_result(message.id, result)

    async def _get(self, headers: RequestHeaders, receive: Receive, send: Send) -> None:
        """GET: the session's standalone stream, or a stream resumed after
        ``Last-Event-ID`` (mcp-protocol.md 4.3, 4.4)."""
        try:
            if not accepts_sse(headers.accept):
                raise HttpError(
                    406, InvalidRequestError("Not Acceptable: Accept must list text/event-stream")
                )
            resume_from = None
            if headers.last_event_id is not None:
                resume_from = parse_event_id(headers.last_event_id)
                if resume_from is None:
                    raise HttpError(400, InvalidRequestError("Malformed Last-Event-ID"))
            session = await self._session(headers, None)
            await self._get_streams.serve(
                headers.session_id or "",
                resume_from=resume_from,
                prime=sends_priming_events(session.protocol_version),
                receive=receive,
                send=send,
                tasks=supports_tasks(session.protocol_version),
                principal=headers.principal,
            )
        except HttpError as exc:
            await _respond(send, exc.status, exc.render())
        except GetStreamRefused as refused:
            error = refused.error
            await _respond(send, refused.status, encode_error(None, error.code, error.message))

    async def _session(self, headers: RequestHeaders, rid: RequestId | None) -> SessionRecord:
        """The session this request belongs to (mcp-protocol.md 4.5, checklist 18), whose
        negotiated version the version header, if any, must name. Another caller's session
        is answered exactly as an unknown one (ADR-0016, checklist 55)."""
        if headers.session_id is None:
            raise HttpError(
                400, InvalidRequestError("Bad Request: missing Mcp-Session-Id header"), rid
            )
        try:
            record = await self._sessions.touch(headers.session_id)
        except (BackendUnavailableError, RedisCommandError) as exc:
            raise HttpError(503, _unavailable(exc), rid) from None
        if record is None or record.owner != _owner(headers.principal):
            raise HttpError(404, InvalidRequestError("Session not found"), rid)
        header_version = headers.single_version()
        if header_version is not None and header_version != record.protocol_version:
            raise HttpError(
                400,
                _unsupported(header_version)
                if header_version not in HANDSHAKE_VERSIONS
                else InvalidRequestError(
                    f"MCP-Protocol-Version {header_version!r} differs from the session's "
                    f"negotiated {record.protocol_version!r}"
                ),
                rid,
            )
        return record

    async def _end_session(self, headers: RequestHeaders, send: Send) -> None:
        if headers.session_id is None:
            error = InvalidRequestError("Bad Request: missing Mcp-Session-Id header")
            await _respond(send, 400, encode_error(None, error.code, error.message))
            return
        try:
            ended = await self._end_own_session(headers.session_id, headers.principal)
        except (BackendUnavailableError, RedisCommandError) as exc:
            await _respond(send, 503, encode_error(None, ErrorCode.INTERNAL_ERROR, str(exc)))
            return
        if not ended:
            await _respond(
                send, 404, encode_error(None, ErrorCode.INVALID_REQUEST, "Session not found")
            )
            return
        await _respond(send, 200, b"")

    async def _end_own_session(self, session_id: str, principal: Principal | None) -> bool:
        """End the session if it is the caller's; False (an unknown session's answer) if it
        does not exist or is another's. Its owner never changes, so reading it first
        cannot race with a change of hands."""
        record = await self._sessions.touch(session_id)
        if record is None or record.owner != _owner(principal):
            return False
        return await self._sessions.delete(session_id)

    async def _modern(
        self,
        headers: RequestHeaders,
        body: bytes,
        extra: list[tuple[bytes, bytes]],
        notify: NotificationSink | None,
        on_long_wait: Callable[[], None] | None,
    ) -> tuple[int, bytes | None]:
        checked = _check_modern(headers, body, self._max_depth)
        if checked is None:
            return 202, None
        message, version, params = checked
        try:
            result = await self._dispatcher.modern(
                message,
                version,
                params,
                request_id=self._next_request_id(),
                notify=notify,
                param_headers=headers.params,
                on_long_wait=on_long_wait,
                principal=headers.principal,
                client=headers.client,
            )
        except ForbiddenError as exc:
            return self._forbidden(exc, headers, extra, message.id)
        except LimitExceededError as exc:
            return _refused_by_limit(exc, message.id, extra)
        except RemoteProtocolError as exc:
            return exc.http_status, encode_error(message.id, exc.code, exc.message, exc.data)
        except ProtocolError as exc:
            return _server_failure(exc, message.id)
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            return _internal_error(exc, message.id)
        return 200, encode_result(message.id, result)

    async def _listen(
        self, headers: RequestHeaders, body: bytes, receive: Receive, send: Send
    ) -> None:
        """``subscriptions/listen`` (2026-07-28): the ladder every modern request passes,
        then a response stream that stays open (``server/listen_stream.py``). Every
        refusal comes before the stream starts, as JSON with its status."""
        try:
            checked = _check_modern(headers, body, self._max_depth)
            if checked is None:
                await _respond(send, 202, b"", [])
                return
            request = checked[0]
            try:
                subscription = self._dispatcher.subscribe(request)
            except RemoteProtocolError as exc:
                raise HttpError(exc.http_status, exc, request.id) from None
            try:
                await self._listen_streams.serve(subscription, receive=receive, send=send)
            except ServiceUnavailableError as exc:  # at capacity, before the stream started
                error = failure_error(exc)
                raise HttpError(error.http_status, error, request.id) from None
            except Exception as exc:  # noqa: BLE001  # supervision boundary of one stream
                # Logged once here; hypercorn answers 500 if the stream had not started.
                failure_error(exc)
        except HttpError as exc:
            await _respond(send, exc.status, exc.render())

    async def _authenticate(self, scope: Scope, headers: RequestHeaders) -> None:
        """Verify the request's bearer token (``[auth]`` on): ``headers.principal`` is then
        who sent it.

        Raises:
            HttpError: 401 (or 400) with its challenge.
        """
        assert self._auth is not None
        headers.scheme = scope.get("scheme", "http")
        headers.http_method = scope["method"]
        headers.principal = await self._auth.authenticate(
            headers, new_request_id=self._next_request_id
        )

    def _forbidden(
        self,
        error: ForbiddenError,
        headers: RequestHeaders,
        extra: list[tuple[bytes, bytes]],
        request_id: RequestId,
    ) -> tuple[int, bytes]:
        """403 ``insufficient_scope`` for a call of a tool the token's scopes do not cover,
        in both eras (the handshake era's other refusals are 200): the challenge tells an
        OAuth client which scopes to step up to (mcp-protocol.md 11, checklist 54)."""
        if self._auth is not None:
            extra.append((WWW_AUTHENTICATE, self._auth.forbidden_challenge(headers, error)))
        return 403, encode_error(request_id, error.code, error.message, error.data)

    async def _resource_metadata(self, scope: Scope, send: Send) -> None:
        """The RFC 9728 document (mcp-protocol.md 11): public, GET (or HEAD) only."""
        assert self._auth is not None
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, b'{"error":"method not allowed"}', _ALLOW_GET)
            return
        headers = RequestHeaders(scope["headers"])
        headers.scheme = scope.get("scheme", "http")
        await _respond(send, 200, self._auth.metadata(headers))

    def _next_request_id(self) -> str:
        return f"{self._front_id}-{next(self._request_numbers)}"


def _check_routing_headers(
    headers: RequestHeaders, request: Request, version: str, params: ModernParams
) -> None:
    """Header/body agreement, checked before version support (mcp-protocol.md 5.4 step 5)."""
    if len(headers.versions) != 1 or headers.versions[0] != version:
        raise HeaderMismatchError(
            f"MCP-Protocol-Version header must be present once and equal {version!r}"
        )
    if len(headers.method) != 1 or headers.method[0] != request.method:
        raise HeaderMismatchError(
            f"Mcp-Method header must be present once and equal {request.method!r}"
        )
    expected = mirrored_name(request.method, params)
    if expected is None:
        return
    if len(headers.name) != 1 or decode_header_value(headers.name[0]) != expected:
        field = mirrored_field(request.method)
        raise HeaderMismatchError(f"Mcp-Name header must be present once and equal {field}")


def _check_modern(
    headers: RequestHeaders, body: bytes, max_depth: int
) -> tuple[Request, str, ModernParams] | None:
    """The 2026-07-28 ladder every modern POST passes (mcp-protocol.md 5.4 steps 2-6):
    decode, envelope, header/body agreement, version. Returns the request, its version and
    envelope, or None for a notification (acknowledged with 202 and dropped: the 2026 core
    defines none over HTTP, and a POSTed notifications/cancelled is never acted on, 5.1).

    Raises:
        HttpError: the refusal, with its status and the request id when it is known.
    """
    message = _decode(body, max_depth)
    if isinstance(message, Notification):
        header_version = headers.single_version()
        if header_version not in MODERN_VERSIONS:
            raise HttpError(400, _unsupported(header_version or ""))
        return None
    if isinstance(message, ClientResponse):
        raise HttpError(
            400, InvalidRequestError("Responses cannot be posted at 2026-07-28"), message.id
        )
    try:
        params = decode_params(message.params, _modern_params)
        version, _meta = require_envelope(params)
        _check_routing_headers(headers, message, version, params)
        if version not in MODERN_VERSIONS:
            raise _unsupported(version)
    except RemoteProtocolError as exc:
        raise HttpError(exc.http_status, exc, message.id) from None
    return message, version, params


def _owner(principal: Principal | None) -> str:
    """Who a session belongs to (``SessionRecord.owner``): a verified caller's identity, ""
    for an anonymous one (authentication off)."""
    return "" if principal is None else principal.identity


def _in_session(principal: Principal | None, session_id: str) -> Principal | None:
    """A verified caller as its handshake-era session's requests carry it (handlers read
    ``ctx.principal.session_id``); None (anonymous, bound to the session) while
    authentication is off."""
    if principal is None:
        return None
    return msgspec.structs.replace(principal, session_id=session_id)


def _may_stream(method: str, session: SessionRecord) -> bool:
    """Whether a handshake-era request gets an event stream it may commit to: a call to a
    worker of a session that set a log level or whose client can answer requests (its
    handler may ask), or ``tasks/result`` of such a client (the task may ask, ADR-0011)."""
    if method == TASKS_RESULT:
        return bool(session.client_capabilities)
    if method not in CALL_LANE_METHODS:
        return False
    return session.log_level is not None or bool(session.client_capabilities)


async def _accepted(relay: Awaitable[None]) -> tuple[int, bytes | None]:
    """202 for a client message passed on through Redis (never answered otherwise), 503
    when Redis did not take it."""
    try:
        await relay
    except (BackendUnavailableError, RedisCommandError) as exc:
        error = _unavailable(exc)
        return 503, encode_error(None, error.code, error.message)
    return 202, None


def _decode(body: bytes, max_depth: int) -> Request | Notification | ClientResponse:
    try:
        return decode_message(body, max_depth=max_depth)
    except RequestError as exc:
        raise HttpError(400, exc.error, exc.request_id) from None


def _server_failure(exc: Exception, request_id: RequestId) -> tuple[int, bytes]:
    """Our side failed (no worker answered, a worker was lost, Redis is down, a bug):
    logged once and rendered the same way as on every transport."""
    error = failure_error(exc)
    return error.http_status, encode_error(request_id, error.code, error.message, error.data)


_internal_error = _server_failure


def _refused_by_limit(
    exc: LimitExceededError, request_id: RequestId, extra: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    """A limit's refusal (ADR-0017): its status, ``Retry-After`` and, for a token bucket,
    ``X-RateLimit-Limit`` (its burst), ``-Remaining`` (whole tokens left) and ``-Reset``
    (seconds until it is full again); the same facts in the error's ``data``."""
    extra.append((b"retry-after", b"%d" % exc.retry_after_s))
    if exc.limit is not None:
        extra += [
            (b"x-ratelimit-limit", b"%d" % exc.limit),
            (b"x-ratelimit-remaining", b"%d" % exc.remaining),
            (b"x-ratelimit-reset", b"%d" % exc.reset_s),
        ]
    return exc.http_status, encode_error(request_id, exc.code, exc.message, exc.data)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = _JSON_HEADERS
) -> None:
    # An explicit length spares the client chunked decoding and lets it reuse the connection.
    all_headers = [*headers, *SECURITY_HEADERS, (b"content-length", b"%d" % len(body))]
    if status == 503 and not any(name == _RETRY_AFTER[0] for name, _ in headers):
        all_headers.append(_RETRY_AFTER)
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


def _adding_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    """``send``, with ``header`` added to the response's start (``front.hsts_max_age_s``:
    a closure per request, paid only when configured)."""

    async def send_with_header(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message["headers"], header]
        await send(message)

    return send_with_header


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
