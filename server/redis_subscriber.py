"""One pub/sub connection per front process that survives Redis restarts (DESIGN.md 5).

It carries the front's reply channel for its whole life, and any number of channels that
requests watch for a while (:meth:`RedisSubscriber.watch`: a session's event channel while
a stream of that session is open).

Pub/sub is at-most-once: while the subscription is down, messages are lost. After every
reconnect the subscriber calls ``on_gap`` (and tells every watch) so waiters re-check the
authoritative state instead of waiting for a message that will never come (engineering
notes, lesson 11).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

import hiredis
import structlog
import trio

from proto import BackendUnavailableError
from server.redis_client import RedisAddress, connect_stream, encode_command

__all__ = ["ChannelWatch", "RedisSubscriber"]

log = structlog.get_logger()

_READ_BYTES: Final = 65536
_MAX_BACKOFF_S: Final = 2.0
_WATCH_QUEUE: Final = 256


class ChannelWatch:
    """Messages of one watched channel, for one waiter.

    ``receive`` returns a payload, or None after a gap: messages may have been missed (a
    reconnect, or the waiter fell more than a queue behind), so the waiter re-reads the
    authoritative state.
    """

    def __init__(self) -> None:
        self._in, self._out = trio.open_memory_channel[bytes | None](_WATCH_QUEUE)
        self._lost = False

    def deliver(self, payload: bytes | None) -> None:
        try:
            self._in.send_nowait(payload)
        except trio.WouldBlock:
            self._lost = True

    async def receive(self) -> bytes | None:
        if self._lost:
            self._lost = False
            return None
        return await self._out.receive()


class RedisSubscriber:
    """A service subscribed to one channel, handing each payload to ``on_message``.

    Args:
        address: where Redis is.
        channel: the channel to subscribe to.
        on_message: called synchronously, in order, with each message payload.
        on_gap: called after a reconnect, when messages may have been missed.
        connect_timeout_s: deadline for each connection attempt.
        health_interval_s: silence after which a PING checks the connection is alive;
            a second silent interval drops and re-opens it.
    """

    def __init__(
        self,
        address: RedisAddress,
        channel: str,
        *,
        on_message: Callable[[bytes], None],
        on_gap: Callable[[], None],
        connect_timeout_s: float = 5.0,
        health_interval_s: float = 5.0,
    ) -> None:
        self._address = address
        self._channel = channel
        self._channel_bytes = channel.encode()
        self._on_message = on_message
        self._on_gap = on_gap
        self._connect_timeout_s = connect_timeout_s
        self._health_interval_s = health_interval_s
        self.reconnects = 0
        self.connected = False
        self._watches: dict[str, set[ChannelWatch]] = {}
        self._subscribed_to: set[str] = set()
        self._confirmed: dict[str, trio.Event] = {}
        self._stream: trio.abc.Stream | None = None
        self._send_lock = trio.Lock()

    @asynccontextmanager
    async def watch(self, channel: str, *, timeout_s: float = 5.0) -> AsyncIterator[ChannelWatch]:
        """Receive the channel's messages for the duration of the block; entered once
        Redis confirmed the subscription, so nothing published afterwards is missed.

        Raises:
            BackendUnavailableError: no confirmation within ``timeout_s``.
        """
        watch = ChannelWatch()
        self._watches.setdefault(channel, set()).add(watch)
        try:
            if channel not in self._subscribed_to:
                confirmed = self._confirmed.setdefault(channel, trio.Event())
                await self._send(["SUBSCRIBE", channel])
                with trio.move_on_after(timeout_s):
                    await confirmed.wait()
                if channel not in self._subscribed_to:
                    raise BackendUnavailableError(f"no subscription to {channel} in {timeout_s} s")
            yield watch
        finally:
            # Unsubscribed lazily, by the reader (no await here: this may run cancelled).
            watchers = self._watches.get(channel)
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del self._watches[channel]

    async def _send(self, command: list[str]) -> None:
        stream = self._stream
        if stream is None:
            return  # not connected: the next connection subscribes to every watched channel
        try:
            async with self._send_lock:
                await stream.send_all(encode_command(command))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return  # the reader notices the broken connection and starts over

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Subscribe and deliver messages until cancelled; ready once first subscribed.

        Cancellation: closes the connection; nothing else is left behind.
        """
        backoff_s = 0.05
        started = False
        while True:
            try:
                stream = await connect_stream(self._address, self._connect_timeout_s)
            except BackendUnavailableError as exc:
                log.warning("redis.subscribe_failed", error=str(exc), retry_in_s=backoff_s)
            else:
                try:
                    async for _ in self._subscribed(stream):
                        backoff_s = 0.05
                        self.connected = True
                        if not started:
                            started = True
                            task_status.started()
                        else:
                            self.reconnects += 1
                            log.info("redis.resubscribed", channel=self._channel)
                            self._on_gap()
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    log.warning("redis.subscription_lost", error=str(exc))
                except (EOFError, TimeoutError, ConnectionError, hiredis.ProtocolError) as exc:
                    log.warning("redis.subscription_lost", error=str(exc))
                finally:
                    self.connected = False
                    self._stream = None
                    await trio.aclose_forcefully(stream)
            await trio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)

    async def _subscribed(self, stream: trio.abc.Stream) -> AsyncIterator[None]:
        """Async generator: yields once the SUBSCRIBE is confirmed, then delivers messages."""
        self._subscribed_to.clear()
        self._stream = stream
        await self._send_now(stream, ["SUBSCRIBE", self._channel, *self._watches])
        reader = hiredis.Reader()
        silent_intervals = 0
        while True:
            with trio.move_on_after(self._health_interval_s) as scope:
                data = await stream.receive_some(_READ_BYTES)
            if scope.cancelled_caught:
                silent_intervals += 1
                if silent_intervals >= 2:
                    raise TimeoutError("no answer to PING on the subscription")
                await self._send_now(stream, ["PING"])
                await self._drop_unwatched(stream)
                continue
            silent_intervals = 0
            if not data:
                raise EOFError("Redis closed the subscription")
            reader.feed(data)  # type: ignore[arg-type]  # hiredis reads any buffer
            while (msg := reader.gets()) is not False:
                if isinstance(msg, hiredis.ReplyError):
                    # -LOADING while Redis replays its AOF, -NOPERM from an ACL…: start over.
                    raise ConnectionError(f"Redis refused the subscription: {msg}")
                kind = msg[0]
                if kind == b"message":
                    self._route(msg[1], msg[2])
                elif kind == b"subscribe" and self._confirm(msg[1].decode()):
                    yield

    def _route(self, channel: bytes, payload: bytes) -> None:
        if channel == self._channel_bytes:
            self._on_message(payload)
            return
        for watch in self._watches.get(channel.decode(), ()):
            watch.deliver(payload)

    def _confirm(self, channel: str) -> bool:
        """Record a confirmed subscription; True for the reply channel's."""
        self._subscribed_to.add(channel)
        confirmed = self._confirmed.pop(channel, None)
        if channel == self._channel:
            return True
        if confirmed is not None:
            confirmed.set()  # a new watch: it reads the state once it is entered
            return False
        # Re-subscribed after a reconnect: the watchers may have missed messages.
        for watch in self._watches.get(channel, ()):
            watch.deliver(None)
        return False

    async def _drop_unwatched(self, stream: trio.abc.Stream) -> None:
        kept = {self._channel, *self._watches}
        unwatched = [c for c in self._subscribed_to if c not in kept]
        if unwatched:
            self._subscribed_to.difference_update(unwatched)
            await self._send_now(stream, ["UNSUBSCRIBE", *unwatched])

    async def _send_now(self, stream: trio.abc.Stream, command: list[str]) -> None:
        async with self._send_lock:
            await stream.send_all(encode_command(command))
