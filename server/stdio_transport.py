"""The stdio transport: one MCP connection over a pair of byte streams (stdin, stdout).

Wire (mcp-protocol.md 3, checklist 7-10): newline-delimited UTF-8 JSON-RPC, one compact
message per line each way; nothing but protocol messages is written. Framing is the pure
``proto.LineFramer`` (lines longer than ``max_line_bytes`` are answered -32600 and skipped
up to their newline) and the era and lifecycle are the pure ``proto.StdioSession``; this
module owns only the I/O and the concurrency.

Concurrency: one task reads, in order. ``initialize`` is answered inline, so a request
pipelined behind it sees the initialized session (as in the SDK); every other request runs in
its own task with its own cancel scope, at most ``max_in_flight`` at once (reading pauses at
the bound), and its answer is written as soon as it is ready. One writer task owns the output
stream and drains a bounded channel: responses wait for room, notifications (progress, log
entries) are dropped when it is full (the client reads too slowly; they are advisory,
responses are not).

Cancellation: ``notifications/cancelled {"requestId": X}`` (both eras) cancels X's scope; from
that moment nothing more is written for X, neither progress nor a response (9.2).

Batches (JSON arrays) are served only on a connection negotiated at exactly 2025-03-26, the
one revision that has them (mcp-protocol.md 2.2): at most ``max_batch_requests`` members
(``proto.decode_batch``, shared with HTTP), whose requests run concurrently and whose
responses go out as one array, in member order; elsewhere an array is refused with -32600.

Changes (``server/change_feed.py``): on a handshake-era connection, once initialized, a
fleet-wide list change is written as ``notifications/tools/list_changed`` (and the prompts'
and resources' alike), and a resource update as ``notifications/resources/updated`` when
the connection subscribed to it (``resources/subscribe``, kept in memory: the connection is
the session). On a 2026-07-28 connection they go only to ``subscriptions/listen``
subscriptions that asked for them, tagged with their ids (mcp-protocol.md 3, 7.6). A listen
request stays in flight for the life of its subscription without taking one of the
``max_in_flight`` slots (a client holding them all with listens could no longer be read, not
even its cancellations); listens have their own bound. ``notifications/cancelled`` for a
listen ends it with nothing more written.

End of input (or ``stop``): reading stops; open listen subscriptions end first, each with
its ``resultType: "complete"`` response and then ``notifications/cancelled`` naming it (the
spec asks for both readings of its teardown, mcp-protocol.md 14 question 11), so they never
hold up the exit; requests in flight get ``eof_grace_s`` to finish and be answered, so
``printf '…' | mcpfleet stdio`` works; then the rest are cancelled, output already queued is
flushed (within the same budget again) and :meth:`serve` returns (ADR-0005 weighs the budget
against clients' patience). A client that closes its end of our output ends the connection
the same way.

About 600 lines, in one module on purpose: reading, serving and writing share the
connection's state (the scopes in flight, the listens, the outbox, the session), and every
pure part already lives in proto.
"""

from __future__ import annotations

import getpass
import itertools
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
import structlog
import trio

from proto import (
    DEFAULT_MAX_JSON_DEPTH,
    END_OF_INPUT,
    LATEST_HANDSHAKE_VERSION,
    NEED_DATA,
    NOTIFICATION_CANCELLED,
    SUBSCRIPTIONS_LISTEN,
    Admission,
    BackendUnavailableError,
    BatchReplies,
    BodyTooLargeError,
    CancelledParams,
    ChangeAnnouncement,
    ChangeKind,
    ClientResponse,
    IncomingMessage,
    InvalidParamsError,
    InvalidRequestError,
    LineFramer,
    LineTooLong,
    ModernParams,
    Notification,
    Principal,
    ProtocolError,
    RedisCommandError,
    Request,
    RequestError,
    RequestId,
    ServiceUnavailableError,
    StdioSession,
    Subscription,
    TaskSpec,
    allows_batches,
    decode_batch,
    decode_message,
    decode_params,
    encode_error,
    encode_result,
    handshake_change_notification,
    is_batch,
    refusal,
    require_envelope,
    require_served_version,
    resource_updated_notification,
    supports_tasks,
)
from server.call_queue import CallCancelledError
from server.change_feed import ChangeFeed, ChangeInbox
from server.dispatch import Dispatcher, NotificationSink
from server.log_level_setting import ConnectionLogLevel
from server.request_failure import failure_error
from server.resource_subscriptions import ConnectionSubscriptions
from server.task_status_relay import TaskStatusRelay

__all__ = ["StdioConnection", "local_principal"]

log = structlog.get_logger()

_READ_CHUNK: Final = 64 * 1024
_STDIO_CLIENT: Final = "stdio"
"""The peer as the audit trail names it: the client that launched this process."""
_OUTBOX: Final = 128
"""Messages queued for the writer; past this, responses wait and progress is dropped."""
_WRITE_BATCH: Final = 64
"""Messages joined into one write when several are queued (fewer syscalls under load)."""

_modern_params: Final = msgspec.json.Decoder(ModernParams)
_cancelled_params: Final = msgspec.json.Decoder(CancelledParams)


_Deliver = Callable[[bytes], Awaitable[None]]
"""Where a message's answer goes: the outbox, or the batch the message came in."""


class _Batch:
    """The responses of one batch, gathered until its last request is done."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.replies = BatchReplies()
        self.complete = trio.Event()  # every message of the batch has been handled

    def deliver_to(self, member: int) -> _Deliver:
        """Where the answer to the batch's ``member``-th message goes."""

        async def add(reply: bytes) -> None:
            # A checkpoint, like the outbox's send: a request cancelled by now is left out.
            await trio.lowlevel.checkpoint_if_cancelled()
            self.replies.add(member, reply)

        return add


class StdioConnection:
    """Serves one stdio connection (module docstring).

    Args:
        dispatcher: serves decoded requests.
        changes: the fleet's change feed.
        front_id: prefix of the request ids minted for log correlation.
        max_line_bytes: longest accepted message line.
        max_in_flight: requests served at once; reading pauses at the bound.
        max_batch_requests: most messages in one batch (2025-03-26).
        max_json_depth: deepest nesting of arrays and objects in one message (ADR-0018).
        max_listens: listen subscriptions open at once; more are refused (-32603).
        eof_grace_s: after the end of input, how long requests in flight may take.
        principal: who the calls are made for; the local OS user by default
            (:func:`local_principal`).
        task_status: task status notifications (a 2025-11-25 connection is told of its
            tasks' status changes); None: not sent.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        changes: ChangeFeed,
        front_id: str,
        max_line_bytes: int,
        max_in_flight: int,
        max_batch_requests: int,
        max_listens: int,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        eof_grace_s: float,
        principal: Principal | None = None,
        task_status: TaskStatusRelay | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._task_status = task_status
        self._initialized = trio.Event()
        self._relay_ready = trio.Event()  # its tasks' events are taken (or not wanted)
        self._principal = principal or local_principal()
        self._log_level = ConnectionLogLevel()  # logging/setLevel (handshake era)
        self._subscriptions = ConnectionSubscriptions()  # resources/subscribe (handshake era)
        self._changes = changes
        self._max_listens = max_listens
        self._listens: dict[RequestId, trio.CancelScope] = {}  # ended by the server
        self._listens_ending = False
        self._front_id = front_id
        self._max_line_bytes = max_line_bytes
        self._max_batch_requests = max_batch_requests
        self._max_depth = max_json_depth
        self._eof_grace_s = eof_grace_s
        self._session = StdioSession()
        self._client_capabilities = 0  # declared in initialize (handshake era)
        self._slots = trio.Semaphore(max_in_flight)
        self._in_flight: dict[RequestId, trio.CancelScope] = {}
        self._running = 0
        self._all_done = trio.Event()
        self._request_numbers = itertools.count(1)
        # Scopes the tasks this connection creates (TaskSpec.owner_of): another
        # connection of the same user does not see them (ADR-0011).
        self._connection_id = f"{front_id}-{secrets.token_hex(8)}"
        self._outbox, self._outbox_out = trio.open_memory_channel[bytes](_OUTBOX)
        self._reading = trio.CancelScope()
        self._writer_done = trio.Event()
        self.progress_dropped = 0

    @property
    def open_listens(self) -> int:
        """Listen subscriptions open now (for this front's load record)."""
        return len(self._listens)

    async def serve(
        self,
        receive: trio.abc.ReceiveStream,
        send: trio.abc.SendStream,
        *,
        stop: trio.Event | None = None,
    ) -> None:
        """Serve until the end of input or ``stop``, then wind down and return.

        Cancellation: requests in flight are cancelled and nothing more is written.
        Resources: neither stream is closed.
        """
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write_loop, send)
            if stop is not None:
                nursery.start_soon(self._stop_reading_on, stop)
            async with trio.open_nursery() as requests:
                with self._changes.inbox(self._changes.is_served) as changes:
                    requests.start_soon(self._relay_changes, changes)
                    requests.start_soon(self._relay_task_status)
                    with self._reading:
                        await self._read_loop(receive, requests)
                    self._end_listens()
                    await self._finish_in_flight()
                cut = self._running
                requests.cancel_scope.cancel()
            # Every request task has ended: nothing more can be queued.
            self._outbox.close()
            with trio.move_on_after(self._eof_grace_s):
                await self._writer_done.wait()
            nursery.cancel_scope.cancel()
        log.info("stdio.closed", requests_cut=cut, progress_dropped=self.progress_dropped)

    async def _stop_reading_on(self, stop: trio.Event) -> None:
        await stop.wait()
        log.info("stdio.stopping")
        self._reading.cancel()

    def _end_listens(self) -> None:
        """Tell every open listen subscription to end with its final messages (and any
        that has not started yet to end as soon as it is acknowledged)."""
        self._listens_ending = True
        if self._listens:
            log.info("stdio.ending_listens", listens=len(self._listens))
        for ending in self._listens.values():
            ending.cancel()

    async def _finish_in_flight(self) -> None:
        """The end-of-input grace: wait for the requests in flight, within the budget."""
        if self._running == 0:
            return
        log.info("stdio.draining", in_flight=self._running, grace_s=self._eof_grace_s)
        with trio.move_on_after(self._eof_grace_s):
            await self._all_done.wait()

    # --- reading -------------------------------------------------------------------------

    async def _read_loop(self, receive: trio.abc.ReceiveStream, requests: trio.Nursery) -> None:
        framer = LineFramer(self._max_line_bytes)
        while True:
            event = framer.next_event()
            if event is NEED_DATA:
                try:
                    data = await receive.receive_some(_READ_CHUNK)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    log.warning("stdio.read_failed", error=str(exc))
                    return
                framer.receive_data(data)
            elif event is END_OF_INPUT:
                log.info("stdio.end_of_input")
                return
            elif isinstance(event, LineTooLong):
                too_large = BodyTooLargeError(
                    f"Message exceeds the limit of {event.limit} bytes; skipped to its newline"
                )
                await self._outbox.send(_error_reply(None, too_large))
            else:
                await self._on_line(event.data, requests)

    async def _on_line(self, line: bytes, requests: trio.Nursery) -> None:
        version = self._session.version
        if version is not None and allows_batches(version) and is_batch(line):
            await self._on_batch(line, requests)
            return
        await self._on_message(line, requests, self._outbox.send)

    async def _on_message(self, data: bytes, nursery: trio.Nursery, deliver: _Deliver) -> None:
        """Handle one message; its answer, if any, goes to ``deliver`` (the outbox, or the
        batch it came in)."""
        try:
            message = decode_message(data, max_depth=self._max_depth)
        except RequestError as exc:
            await deliver(_error_reply(exc.request_id, exc.error))
            return
        await self._on_decoded(message, nursery, deliver)

    async def _on_decoded(
        self, message: IncomingMessage, nursery: trio.Nursery, deliver: _Deliver
    ) -> None:
        if isinstance(message, Request):
            await self._on_request(message, nursery, deliver)
        elif isinstance(message, Notification):
            self._on_notification(message)
        elif isinstance(message, ClientResponse):
            # An answer to a handler's request (ADR-0009): on to the worker waiting for it.
            nursery.start_soon(self._pass_on_response, message)

    async def _on_request(self, request: Request, nursery: trio.Nursery, deliver: _Deliver) -> None:
        if request.id in self._in_flight:
            # Serving it would make the two answers, and any cancellation, ambiguous.
            duplicate = InvalidRequestError(f"Request id {request.id!r} is already in flight")
            await deliver(_error_reply(request.id, duplicate))
            return
        admission = self._session.admit(request)
        if admission is Admission.SERVE_INITIALIZE:
            await self._initialize(request, deliver)
            return
        if admission not in (Admission.SERVE_HANDSHAKE, Admission.SERVE_MODERN):
            await deliver(_error_reply(request.id, refusal(admission, request)))
            return
        if admission is Admission.SERVE_MODERN and request.method == SUBSCRIPTIONS_LISTEN:
            # No slot: it lasts as long as its subscription (module docstring).
            scope = trio.CancelScope()
            self._in_flight[request.id] = scope
            self._started()
            nursery.start_soon(self._serve_listen, request, scope)
            return
        await self._slots.acquire()
        scope = trio.CancelScope()
        self._in_flight[request.id] = scope
        self._started()
        nursery.start_soon(
            self._serve_request, request, scope, admission is Admission.SERVE_MODERN, deliver
        )

    async def _pass_on_response(self, message: ClientResponse) -> None:
        try:
            await self._dispatcher.client_response(
                message, "", principal=self._principal, connection=self._connection_id
            )
        except (BackendUnavailableError, RedisCommandError) as exc:
            # Nothing to answer a response with; its handler waits until its time limit.
            log.warning("stdio.response_not_passed_on", error=str(exc))

    async def _initialize(self, request: Request, deliver: _Deliver) -> None:
        try:
            result, version, client_name, capabilities = await self._dispatcher.initialize(request)
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            await deliver(_error_reply(request.id, failure_error(exc)))
            return
        self._client_capabilities = capabilities
        self._session.initialized(version)
        self._initialized.set()
        # Answered once the connection's task events are taken: no status change is missed.
        await self._relay_ready.wait()
        log.info("stdio.initialized", protocol_version=version, client=client_name)
        await deliver(encode_result(request.id, result))

    async def _on_batch(self, line: bytes, requests: trio.Nursery) -> None:
        """A 2025-03-26 batch (mcp-protocol.md 2.2): its requests run concurrently and their
        responses go out together, as one array in member order, once the last is done;
        notifications in it are handled and not answered; a cancelled request is left out
        of the array."""
        try:
            members = decode_batch(
                line, max_items=self._max_batch_requests, max_depth=self._max_depth
            )
        except RequestError as exc:  # refused as a whole: one error, id null
            await self._outbox.send(_error_reply(exc.request_id, exc.error))
            return
        batch: _Batch = await requests.start(self._run_batch)
        try:
            for index, member in enumerate(members):
                deliver = batch.deliver_to(index)
                if isinstance(member, RequestError):
                    await deliver(_error_reply(member.request_id, member.error))
                else:
                    await self._on_decoded(member, batch.nursery, deliver)
        finally:
            batch.complete.set()

    async def _run_batch(self, *, task_status: trio.TaskStatus[_Batch]) -> None:
        self._started()  # counted in flight until its array is written
        try:
            async with trio.open_nursery() as nursery:
                batch = _Batch(nursery)
                task_status.started(batch)
                await batch.complete.wait()
            if batch.replies:
                await self._outbox.send(batch.replies.encode())
        finally:
            self._finished()

    def _started(self) -> None:
        self._running += 1
        if self._all_done.is_set():
            self._all_done = trio.Event()

    def _finished(self) -> None:
        self._running -= 1
        if self._running == 0:
            self._all_done.set()

    def _on_notification(self, message: Notification) -> None:
        # notifications/initialized needs no action (initialize already opened the session)
        # and unknown notifications are ignored (checklist 3).
        if message.method != NOTIFICATION_CANCELLED:
            return
        try:
            params = decode_params(message.params, _cancelled_params)
        except InvalidParamsError:
            log.debug("stdio.cancel_malformed")
            return
        scope = self._in_flight.pop(params.request_id, None)
        if scope is None:
            return  # finished already, or never seen: races are normal (9.2)
        scope.cancel()
        log.info("request.cancelled_by_client")

    # --- serving one request ---------------------------------------------------------------

    async def _serve_request(
        self, request: Request, scope: trio.CancelScope, modern: bool, deliver: _Deliver
    ) -> None:
        try:
            with scope:
                reply = await self._answer(request, modern, self._notifier(scope))
                # Inside the scope: once cancelled, the response is never written (9.2).
                if reply is not None:
                    await deliver(reply)
        finally:
            if self._in_flight.get(request.id) is scope:
                del self._in_flight[request.id]
            self._slots.release()
            self._finished()

    async def _answer(
        self, request: Request, modern: bool, notify: NotificationSink
    ) -> bytes | None:
        """The response to write, or None when the request was cancelled."""
        request_id = f"{self._front_id}-{next(self._request_numbers)}"
        try:
            if modern:
                result = await self._modern(request, request_id, notify)
            else:
                # Before initialize only ping gets here, and its answer has no version.
                version = self._session.version or LATEST_HANDSHAKE_VERSION
                result = await self._dispatcher.handshake(
                    request,
                    version,
                    request_id=request_id,
                    notify=notify,
                    log_setting=self._log_level,
                    subscriptions=self._subscriptions,
                    principal=self._principal,
                    client_capabilities=self._client_capabilities,
                    connection=self._connection_id,
                    client=_STDIO_CLIENT,
                )
        except CallCancelledError:
            return None  # cancelled by its request id through the fleet: nothing is sent
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            return _error_reply(request.id, failure_error(exc))
        return encode_result(request.id, result)

    async def _modern(
        self, request: Request, request_id: str, notify: NotificationSink
    ) -> bytes | msgspec.Raw:
        """The 2026-07-28 ladder, then the method (-32601 for unknown ones)."""
        version, params = _check_modern(request)
        return await self._dispatcher.modern(
            request,
            version,
            params,
            request_id=request_id,
            notify=notify,
            principal=self._principal,
            connection=self._connection_id,
            client=_STDIO_CLIENT,
        )

    # --- listen subscriptions (2026-07-28) ---------------------------------------------------

    async def _serve_listen(self, request: Request, scope: trio.CancelScope) -> None:
        try:
            with scope:  # cancelled by the client: nothing more is written (9.2)
                await self._listen(request)
        finally:
            if self._in_flight.get(request.id) is scope:
                del self._in_flight[request.id]
            self._finished()

    async def _listen(self, request: Request) -> None:
        """Serve one subscription: refusals as errors before anything else; then the
        acknowledgement, its changes, and (when the server ends it) its final messages."""
        try:
            _check_modern(request)
            subscription = self._dispatcher.subscribe(request)
            if len(self._listens) >= self._max_listens:
                raise ServiceUnavailableError(
                    f"Service unavailable: {self._max_listens} listen subscriptions are open"
                )
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            await self._outbox.send(_error_reply(request.id, failure_error(exc)))
            return
        ending = trio.CancelScope()
        if self._listens_ending:
            ending.cancel()
        self._listens[request.id] = ending
        how = "cancelled"  # by the client, or cut with the connection
        try:
            with self._changes.inbox(subscription.honours) as inbox:
                await self._outbox.send(subscription.acknowledgement())
                with ending:
                    while True:
                        await self._send_change(subscription, await inbox.receive())
                while (announcement := inbox.receive_nowait()) is not None:
                    await self._send_change(subscription, announcement)
            await self._outbox.send(encode_result(request.id, subscription.completion()))
            await self._outbox.send(subscription.cancellation())
            how = "server_ended"
        finally:
            del self._listens[request.id]
            log.info("listen.ended", ending=how, subscription_id=request.id)

    async def _send_change(
        self, subscription: Subscription, announcement: ChangeAnnouncement
    ) -> None:
        for frame in subscription.notifications(announcement):
            await self._outbox.send(frame)

    async def _relay_changes(self, changes: ChangeInbox) -> None:
        """Handshake era: list changes and updates of subscribed resources as unsolicited
        notifications, once initialized (``listChanged`` and ``subscribe`` are declared,
        checklist 46); until cancelled."""
        while True:
            announcement = await changes.receive()
            if self._session.version is None:
                continue
            if announcement.kind == ChangeKind.RESOURCE:
                for uri in self._updated_subscriptions(announcement.target):
                    await self._outbox.send(resource_updated_notification(uri))
                continue
            message = handshake_change_notification(announcement)
            if message is not None:
                await self._outbox.send(message)

    async def _relay_task_status(self) -> None:
        """2025-11-25: status changes of this connection's tasks as unsolicited
        ``notifications/tasks/status``, once initialized; until cancelled."""
        await self._initialized.wait()
        version = self._session.version
        if self._task_status is None or version is None or not supports_tasks(version):
            self._relay_ready.set()
            return
        owner = TaskSpec.owner_of(self._principal, self._connection_id)
        with self._task_status.watch(owner) as events:
            self._relay_ready.set()
            await self._task_status.relay(events, self._outbox.send)

    def _updated_subscriptions(self, target: str | None) -> list[str]:
        """The subscribed URIs a resource update names: its target, or all of them when it
        has none (after a gap, ``server/change_feed.py``)."""
        if target is None:
            return self._subscriptions.uris
        return [target] if target in self._subscriptions else []

    def _notifier(self, scope: trio.CancelScope) -> NotificationSink:
        def notify(message: bytes) -> None:
            if scope.cancel_called:
                return  # cancelled: nothing more is written for this request (9.2)
            try:
                self._outbox.send_nowait(message)
            except trio.WouldBlock:
                self.progress_dropped += 1
                log.debug("stdio.progress_dropped")

        return notify

    # --- writing -----------------------------------------------------------------------------

    async def _write_loop(self, send: trio.abc.SendStream) -> None:
        outbox = self._outbox_out
        try:
            async with outbox:
                async for message in outbox:
                    chunks = [message, b"\n"]
                    while len(chunks) < 2 * _WRITE_BATCH:
                        try:
                            chunks += (outbox.receive_nowait(), b"\n")
                        except (trio.WouldBlock, trio.EndOfChannel):
                            break
                    try:
                        await send.send_all(b"".join(chunks))
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                        # The client stopped reading us: the connection is over. Keep
                        # draining so no request task blocks on a write that cannot happen.
                        log.warning("stdio.write_failed", error=str(exc))
                        self._reading.cancel()
                        async for _ in outbox:
                            pass
                        return
        finally:
            self._writer_done.set()


def _check_modern(request: Request) -> tuple[str, ModernParams]:
    """The 2026-07-28 ladder of the HTTP transport minus its headers: envelope (-32602),
    then version (-32022).

    Raises:
        RemoteProtocolError: the refusal.
    """
    params = decode_params(request.params, _modern_params)
    version, _meta = require_envelope(params)
    require_served_version(version)
    return version, params


def local_principal() -> Principal:
    """The OS user this process runs as: a stdio client launched the front as that user,
    so its calls are that user's (``local:<name>``; ``local:uid-<n>`` when the user has no
    name, as in some containers)."""
    try:
        return Principal.local(getpass.getuser())
    except (KeyError, OSError):
        return Principal.local(f"uid-{os.getuid()}")


def _error_reply(request_id: RequestId | None, error: ProtocolError) -> bytes:
    return encode_error(request_id, error.code, error.message, error.data)
