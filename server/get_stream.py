"""GET on the MCP endpoint (handshake era): a session's standalone stream of server-initiated
messages, and the resumption of any of the session's streams after ``Last-Event-ID``
(mcp-protocol.md 4.3, 4.4).

Events come from the event store, so the stream can be served by any front: replayed
after the client's last event id, then delivered live as they are stored (announced on the
session's event channel, watched from before the replay so nothing falls between).

One standalone stream per session (409 for a second, as the SDK does): a Redis lock held
while it is open. A GET that resumes the standalone stream takes the lock over, since the
client has evidently lost the previous connection.

The standalone stream also carries ``notifications/tools/list_changed`` (and the prompts'
and resources' alike) when the fleet announces a list change (``server/change_feed.py``;
mcp-protocol.md 8.4), and ``notifications/resources/updated`` when a handler announces a
change of a resource the session subscribes to: the front holding the stream asks Redis
(one ``SISMEMBER`` per update; updates are rare), since the subscription may have been taken
by another front. Those are delivered live, not stored: a change is idempotent and says
nothing but "refetch", so none is worth replaying, and the front holding the stream is the
only one that could store it anyway. A client that reconnects its stream while the fleet
changes may miss one; it sees the new state at its next fetch. While the stream is open,
its session's subscriptions are kept (their TTL renewed with each keep-alive).

A 2025-11-25 session's standalone stream also carries ``notifications/tasks/status`` when
one of the session's tasks changes status (``server/task_status_relay.py``), live and not
stored, for the same reasons.
"""

from __future__ import annotations

import itertools
import secrets
from contextlib import AbstractContextManager, nullcontext
from typing import Final

import msgspec
import structlog
import trio

from proto import (
    GET_STREAM,
    HOLD_IF_OWNER,
    KEEPALIVE_COMMENT,
    START_ENTRY,
    BackendUnavailableError,
    ChangeAnnouncement,
    ChangeKind,
    EventId,
    InvalidRequestError,
    Keyspace,
    Principal,
    ProtocolError,
    RedisCommandError,
    StoredEvent,
    TaskSpec,
    decode_stored_event,
    encode_event,
    encode_priming_event,
    entry_order,
    handshake_change_notification,
    resource_updated_notification,
)
from server.change_feed import ChangeFeed, ChangeInbox
from server.config import FrontConfig
from server.event_store import EventStore
from server.redis_client import RedisClient
from server.redis_subscriber import ChannelWatch, RedisSubscriber
from server.session_store import SessionStore
from server.sse_response import (
    SSE_HEADERS,
    Message,
    Receive,
    Send,
    cancel_on_disconnect,
    cancel_when_set,
)
from server.task_events import OwnedEvents
from server.task_status_relay import TaskStatusRelay

__all__ = ["GetStreamRefused", "GetStreams"]

log = structlog.get_logger()

_PING: Final = b'{"jsonrpc":"2.0","id":"mcpfleet-ping-%d","method":"ping"}'


class GetStreamRefused(Exception):
    """The GET cannot be served: an HTTP status and the JSON-RPC error to send."""

    def __init__(self, status: int, error: ProtocolError) -> None:
        super().__init__(error.message)
        self.status = status
        self.error = error


class GetStreams:
    """Serves GET streams for one front process.

    Args:
        redis: the front's Redis client (locks).
        keys: the fleet's key schema.
        store: the event store.
        sessions: the session store (resource subscriptions).
        subscriber: the front's pub/sub connection (event channels are watched on it).
        config: the front's settings (keep-alive, retry, ping interval).
        draining: true once the front is shutting down: open streams end (the client
            resumes on another front).
        changes: the fleet's change feed (list changes on standalone streams).
        task_status: task status notifications (standalone streams of 2025-11-25 sessions).

    Attributes:
        open_streams: streams being served now (for this front's load record).
    """

    def __init__(
        self,
        *,
        redis: RedisClient,
        keys: Keyspace,
        store: EventStore,
        sessions: SessionStore,
        subscriber: RedisSubscriber,
        config: FrontConfig,
        draining: trio.Event,
        changes: ChangeFeed,
        task_status: TaskStatusRelay,
    ) -> None:
        self._redis = redis
        self._task_status = task_status
        self._sessions = sessions
        self._changes = changes
        self._keys = keys
        self._store = store
        self._subscriber = subscriber
        self._config = config
        self._draining = draining
        self._pings = itertools.count(1)
        self._lock_ttl_ms = int((config.sse_keepalive_s * 2 + 5) * 1000)
        self.open_streams = 0

    async def serve(
        self,
        session_id: str,
        *,
        resume_from: EventId | None,
        prime: bool,
        receive: Receive,
        send: Send,
        tasks: bool = False,
        principal: Principal | None = None,
    ) -> None:
        """Serve the stream until the client leaves, the front drains, or (for a resumed
        POST stream) its final response was sent. ``tasks``: the session has tasks
        (2025-11-25), so its standalone stream carries the status changes of its caller's
        tasks; ``principal``: that caller, once verified (ADR-0016; None: anonymous, bound
        to the session).

        Raises:
            GetStreamRefused: before anything was sent.
        """
        stream = GET_STREAM if resume_from is None else resume_from.stream
        token = secrets.token_hex(8)
        try:
            if stream == GET_STREAM:
                await self._lock(session_id, token, takeover=resume_from is not None)
            elif not await self._store.exists(session_id, stream):
                raise GetStreamRefused(
                    400, InvalidRequestError("Last-Event-ID names an unknown or expired stream")
                )
        except (BackendUnavailableError, RedisCommandError) as exc:
            raise _unavailable(exc) from None
        self.open_streams += 1
        try:
            await self._open(
                session_id,
                stream=stream,
                resume_from=resume_from,
                prime=prime,
                token=token,
                receive=receive,
                send=send,
                tasks=tasks,
                principal=principal,
            )
        finally:
            self.open_streams -= 1
            if stream == GET_STREAM:
                await self._release(session_id, token)

    async def _open(
        self,
        session_id: str,
        *,
        stream: str,
        resume_from: EventId | None,
        prime: bool,
        token: str,
        receive: Receive,
        send: Send,
        tasks: bool,
        principal: Principal | None,
    ) -> None:
        channel = self._keys.session_event_channel(session_id)
        standalone = stream == GET_STREAM
        send = _serialized(send)  # list changes are written by a task of their own
        try:
            # Watched before reading the store: an event stored meanwhile is announced.
            async with self._subscriber.watch(channel) as watch:
                try:
                    after = (
                        resume_from.entry if resume_from
                        else await self._store.tail(session_id, stream)
                    )  # fmt: skip
                except (BackendUnavailableError, RedisCommandError) as exc:
                    raise _unavailable(exc) from None
                # Taken before the stream is answered: no status change after it is missed.
                owned: AbstractContextManager[OwnedEvents | None] = nullcontext()
                if standalone and tasks:
                    # Its caller's tasks: a verified principal's (in every session), or
                    # the session's own, ``Dispatcher.handshake`` serving an HTTP session's
                    # requests as its anonymous principal.
                    owner = TaskSpec.owner_of(principal or Principal.anonymous(session_id))
                    owned = self._task_status.watch(owner)
                with owned as task_events:
                    await self._stream(
                        session_id, _Cursor(stream, after), watch, token,
                        primer=EventId(stream, after) if prime and not resume_from else None,
                        task_events=task_events,
                        receive=receive, send=send,
                    )  # fmt: skip
                # The stream ends cleanly; a client that still wants it resumes from its
                # last event id (on any front).
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except BackendUnavailableError as exc:  # the watch could not be set up
            raise _unavailable(exc) from None

    async def _stream(
        self,
        session_id: str,
        cursor: _Cursor,
        watch: ChannelWatch,
        token: str,
        *,
        primer: EventId | None,
        task_events: OwnedEvents | None,
        receive: Receive,
        send: Send,
    ) -> None:
        """Answer the GET and serve its events (and, on a standalone stream, list changes
        and task status changes) until the client leaves, the front drains, or the stream
        ends."""
        start = {"type": "http.response.start", "status": 200, "headers": SSE_HEADERS}
        await send(start)
        if primer is not None:  # not when resuming: the client has an id already
            await _body(send, encode_priming_event(primer, self._config.sse_retry_ms))
        standalone = cursor.stream == GET_STREAM
        wants = self._changes.is_served if standalone else _carries_nothing
        with self._changes.inbox(wants) as changes:
            async with trio.open_nursery() as nursery:
                served = nursery.cancel_scope
                nursery.start_soon(cancel_on_disconnect, receive, served, trio.CancelScope())
                nursery.start_soon(cancel_when_set, self._draining, served)
                if standalone:
                    nursery.start_soon(self._relay_changes, session_id, changes, send)
                if task_events is not None:
                    nursery.start_soon(self._relay_task_status, task_events, send)
                await self._events(session_id, cursor, watch, token, send)
                served.cancel()

    async def _events(
        self, session_id: str, cursor: _Cursor, watch: ChannelWatch, token: str, send: Send
    ) -> None:
        try:
            if await self._replay(session_id, cursor, send):
                return
            await self._live(session_id, cursor, watch, token, send)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("sse.stream_ended_by_redis", error=str(exc))

    async def _live(
        self, session_id: str, cursor: _Cursor, watch: ChannelWatch, token: str, send: Send
    ) -> None:
        keepalive_s = self._config.sse_keepalive_s
        ping_s = self._config.session_ping_interval_s
        standalone = cursor.stream == GET_STREAM
        next_ping = trio.current_time() + ping_s
        while True:
            wait_s = keepalive_s
            if standalone and ping_s > 0:
                wait_s = max(0.0, min(wait_s, next_ping - trio.current_time()))
            payload: bytes | None = b""
            with trio.move_on_after(wait_s):
                payload = await watch.receive()
            if payload is None:  # a gap: what was stored meanwhile is in the store
                if await self._replay(session_id, cursor, send):
                    return
                continue
            if payload:
                if await self._deliver(payload, cursor, send):
                    return
                continue
            if standalone and ping_s > 0 and trio.current_time() >= next_ping:
                next_ping = trio.current_time() + ping_s
                await _body(send, encode_event(_PING % next(self._pings)))
                continue
            await _body(send, KEEPALIVE_COMMENT)
            if not await self._still_ours(session_id, cursor.stream, token):
                return

    async def _replay(self, session_id: str, cursor: _Cursor, send: Send) -> bool:
        """Send what was stored after the cursor; True once the final event was sent."""
        for event in await self._store.after(session_id, cursor.stream, cursor.entry):
            if await self._send_event(event, cursor, send):
                return True
        return False

    async def _deliver(self, payload: bytes, cursor: _Cursor, send: Send) -> bool:
        try:
            event = decode_stored_event(payload)
        except msgspec.MsgspecError as exc:
            log.error("sse.undecodable_event", error=str(exc))
            return False
        if event.stream != cursor.stream:
            return False
        return await self._send_event(event, cursor, send)

    async def _send_event(self, event: StoredEvent, cursor: _Cursor, send: Send) -> bool:
        if entry_order(event.entry) <= entry_order(cursor.entry):
            return False  # replayed already
        cursor.entry = event.entry
        await _body(send, encode_event(bytes(event.data), EventId(cursor.stream, event.entry)))
        return event.final

    async def _still_ours(self, session_id: str, stream: str, token: str) -> bool:
        """Between keep-alives: the standalone stream still holds its lock (not taken over
        by a resuming GET); a resumed POST stream is still stored (its front may be gone)."""
        try:
            if stream == GET_STREAM:
                held = await self._redis.run_script(
                    HOLD_IF_OWNER,
                    [self._keys.get_stream_lock(session_id)],
                    [token, "refresh", self._lock_ttl_ms],
                )
                if held == 1:
                    await self._sessions.keep_subscriptions(session_id)
                return held == 1
            return await self._store.exists(session_id, stream)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("sse.stream_check_failed", error=str(exc))
            return True  # keep serving; the next check decides

    async def _relay_changes(self, session_id: str, changes: ChangeInbox, send: Send) -> None:
        """A session's list changes and updates of its subscribed resources, live (module
        docstring), until cancelled."""
        await self._keep_subscriptions(session_id)
        while True:
            announcement = await changes.receive()
            if announcement.kind == ChangeKind.RESOURCE:
                for uri in await self._updated_subscriptions(session_id, announcement.target):
                    await _body(send, encode_event(resource_updated_notification(uri)))
                continue
            message = handshake_change_notification(announcement)
            if message is not None:
                await _body(send, encode_event(message))

    async def _relay_task_status(self, events: OwnedEvents, send: Send) -> None:
        """The status changes of the session's tasks, live, until cancelled."""

        async def notify(message: bytes) -> None:
            await _body(send, encode_event(message))

        await self._task_status.relay(events, notify)

    async def _updated_subscriptions(self, session_id: str, target: str | None) -> list[str]:
        """The session's subscribed URIs a resource update names: its target, or all of
        them when it has none (after a gap, ``server/change_feed.py``). None when Redis
        cannot tell: the update is dropped (logged), the stream goes on."""
        try:
            if target is None:
                return sorted(await self._sessions.subscriptions(session_id))
            return [target] if await self._sessions.is_subscribed(session_id, target) else []
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("sse.resource_update_dropped", uri=target, error=str(exc))
            return []

    async def _keep_subscriptions(self, session_id: str) -> None:
        try:
            await self._sessions.keep_subscriptions(session_id)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("sse.subscriptions_not_kept", error=str(exc))  # the next beat retries

    async def _lock(self, session_id: str, token: str, *, takeover: bool) -> None:
        key = self._keys.get_stream_lock(session_id)
        if takeover:
            await self._redis.execute("SET", key, token, "PX", self._lock_ttl_ms)
            return
        taken = await self._redis.execute("SET", key, token, "NX", "PX", self._lock_ttl_ms)
        if taken is None:
            raise GetStreamRefused(
                409, InvalidRequestError("Conflict: the session already has a GET stream open")
            )

    async def _release(self, session_id: str, token: str) -> None:
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(self._config.redis_command_timeout_s),
        ):
            try:
                await self._redis.run_script(
                    HOLD_IF_OWNER, [self._keys.get_stream_lock(session_id)], [token, "release", 0]
                )
            except (BackendUnavailableError, RedisCommandError) as exc:
                log.warning("sse.lock_release_failed", error=str(exc))  # it expires anyway


def _unavailable(exc: Exception) -> GetStreamRefused:
    return GetStreamRefused(503, ProtocolError(f"Service unavailable: {exc}"))


class _Cursor:
    __slots__ = ("entry", "stream")

    def __init__(self, stream: str, entry: str) -> None:
        self.stream = stream
        self.entry = entry or START_ENTRY


def _carries_nothing(announcement: ChangeAnnouncement) -> bool:
    return False


def _serialized(send: Send) -> Send:
    """``send`` for several tasks: ASGI messages of one response must not interleave."""
    lock = trio.Lock()

    async def locked(message: Message) -> None:
        async with lock:
            await send(message)

    return locked


async def _body(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})
