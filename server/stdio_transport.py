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
stream and drains a bounded channel: responses wait for room, progress notifications are
dropped when it is full (the client reads too slowly; progress is advisory, responses are
not).

Cancellation: ``notifications/cancelled {"requestId": X}`` (both eras) cancels X's scope; from
that moment nothing more is written for X, neither progress nor a response (9.2).

End of input (or ``stop``): reading stops; requests in flight get ``eof_grace_s`` to finish
and be answered, so ``printf '…' | mcpfleet stdio`` works; then the rest are cancelled,
output already queued is flushed (within the same budget again) and :meth:`serve` returns.
A client that closes its end of our output ends the connection the same way.
"""

from __future__ import annotations

import itertools
from typing import Final

import msgspec
import structlog
import trio

from proto import (
    END_OF_INPUT,
    LATEST_HANDSHAKE_VERSION,
    NEED_DATA,
    NOTIFICATION_CANCELLED,
    Admission,
    BodyTooLargeError,
    CancelledParams,
    ClientResponse,
    InvalidParamsError,
    InvalidRequestError,
    LineFramer,
    LineTooLong,
    ModernParams,
    Notification,
    ProtocolError,
    Request,
    RequestError,
    RequestId,
    StdioSession,
    decode_message,
    decode_params,
    encode_error,
    encode_result,
    refusal,
    require_envelope,
    require_served_version,
)
from server.call_queue import CallCancelledError
from server.dispatch import Dispatcher, NotificationSink
from server.request_failure import failure_error

__all__ = ["StdioConnection"]

log = structlog.get_logger()

_READ_CHUNK: Final = 64 * 1024
_OUTBOX: Final = 128
"""Messages queued for the writer; past this, responses wait and progress is dropped."""
_WRITE_BATCH: Final = 64
"""Messages joined into one write when several are queued (fewer syscalls under load)."""

_modern_params: Final = msgspec.json.Decoder(ModernParams)
_cancelled_params: Final = msgspec.json.Decoder(CancelledParams)


class StdioConnection:
    """Serves one stdio connection (module docstring).

    Args:
        dispatcher: serves decoded requests.
        front_id: prefix of the request ids minted for log correlation.
        max_line_bytes: longest accepted message line.
        max_in_flight: requests served at once; reading pauses at the bound.
        eof_grace_s: after the end of input, how long requests in flight may take.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        front_id: str,
        max_line_bytes: int,
        max_in_flight: int,
        eof_grace_s: float,
    ) -> None:
        self._dispatcher = dispatcher
        self._front_id = front_id
        self._max_line_bytes = max_line_bytes
        self._eof_grace_s = eof_grace_s
        self._session = StdioSession()
        self._slots = trio.Semaphore(max_in_flight)
        self._in_flight: dict[RequestId, trio.CancelScope] = {}
        self._running = 0
        self._all_done = trio.Event()
        self._request_numbers = itertools.count(1)
        self._outbox, self._outbox_out = trio.open_memory_channel[bytes](_OUTBOX)
        self._reading = trio.CancelScope()
        self._writer_done = trio.Event()
        self.progress_dropped = 0

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
                with self._reading:
                    await self._read_loop(receive, requests)
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
                error = BodyTooLargeError(
                    f"Message exceeds the limit of {event.limit} bytes; skipped to its newline"
                )
                await self._outbox.send(encode_error(None, error.code, error.message))
            else:
                await self._on_line(event.data, requests)

    async def _on_line(self, line: bytes, requests: trio.Nursery) -> None:
        try:
            message = decode_message(line)
        except RequestError as exc:
            error = exc.error
            await self._outbox.send(
                encode_error(exc.request_id, error.code, error.message, error.data)
            )
            return
        if isinstance(message, Request):
            await self._on_request(message, requests)
        elif isinstance(message, Notification):
            self._on_notification(message)
        elif isinstance(message, ClientResponse):
            # We never send requests, so no response can be awaited: nothing to do.
            log.debug("stdio.response_ignored")

    async def _on_request(self, request: Request, requests: trio.Nursery) -> None:
        if request.id in self._in_flight:
            # Serving it would make the two answers, and any cancellation, ambiguous.
            error = InvalidRequestError(f"Request id {request.id!r} is already in flight")
            await self._outbox.send(encode_error(request.id, error.code, error.message))
            return
        admission = self._session.admit(request)
        if admission is Admission.SERVE_INITIALIZE:
            await self._initialize(request)
            return
        if admission not in (Admission.SERVE_HANDSHAKE, Admission.SERVE_MODERN):
            await self._refuse(request, refusal(admission, request))
            return
        await self._slots.acquire()
        scope = trio.CancelScope()
        self._in_flight[request.id] = scope
        self._running += 1
        if self._all_done.is_set():
            self._all_done = trio.Event()
        requests.start_soon(
            self._serve_request, request, scope, admission is Admission.SERVE_MODERN
        )

    async def _initialize(self, request: Request) -> None:
        try:
            result, version, client_name = await self._dispatcher.initialize(request)
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            await self._refuse(request, failure_error(exc))
            return
        self._session.initialized(version)
        log.info("stdio.initialized", protocol_version=version, client=client_name)
        await self._outbox.send(encode_result(request.id, result))

    async def _refuse(self, request: Request, error: ProtocolError) -> None:
        await self._outbox.send(encode_error(request.id, error.code, error.message, error.data))

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

    async def _serve_request(self, request: Request, scope: trio.CancelScope, modern: bool) -> None:
        try:
            with scope:
                reply = await self._answer(request, modern, self._notifier(scope))
                # Inside the scope: once cancelled, the response is never written (9.2).
                if reply is not None:
                    await self._outbox.send(reply)
        finally:
            if self._in_flight.get(request.id) is scope:
                del self._in_flight[request.id]
            self._slots.release()
            self._running -= 1
            if self._running == 0:
                self._all_done.set()

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
                    request, version, request_id=request_id, notify=notify
                )
        except CallCancelledError:
            return None  # cancelled by its request id through the fleet: nothing is sent
        except Exception as exc:  # noqa: BLE001  # supervision boundary of one request
            error = failure_error(exc)
            return encode_error(request.id, error.code, error.message, error.data)
        return encode_result(request.id, result)

    async def _modern(
        self, request: Request, request_id: str, notify: NotificationSink
    ) -> bytes | msgspec.Raw:
        """The 2026-07-28 ladder of the HTTP transport minus its headers: envelope
        (-32602), then version (-32022), then the method (-32601 for unknown ones)."""
        params = decode_params(request.params, _modern_params)
        version, _meta = require_envelope(params)
        require_served_version(version)
        return await self._dispatcher.modern(
            request, version, params, request_id=request_id, notify=notify
        )

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
