"""One pub/sub subscription per front process that survives Redis restarts (DESIGN.md 5).

Pub/sub is at-most-once: while the subscription is down, messages are lost. After every
reconnect the subscriber calls ``on_gap`` so waiters re-check the authoritative state
instead of waiting for a message that will never come (engineering notes, lesson 11).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Final

import hiredis
import structlog
import trio

from proto import BackendUnavailableError
from server.redis_client import RedisAddress, connect_stream, encode_command

__all__ = ["RedisSubscriber"]

log = structlog.get_logger()

_READ_BYTES: Final = 65536
_MAX_BACKOFF_S: Final = 2.0


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
        self._on_message = on_message
        self._on_gap = on_gap
        self._connect_timeout_s = connect_timeout_s
        self._health_interval_s = health_interval_s
        self.reconnects = 0
        self.connected = False

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
                    await trio.aclose_forcefully(stream)
            await trio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)

    async def _subscribed(self, stream: trio.abc.Stream) -> AsyncIterator[None]:
        """Async generator: yields once the SUBSCRIBE is confirmed, then delivers messages."""
        await stream.send_all(encode_command(["SUBSCRIBE", self._channel]))
        reader = hiredis.Reader()
        silent_intervals = 0
        while True:
            with trio.move_on_after(self._health_interval_s) as scope:
                data = await stream.receive_some(_READ_BYTES)
            if scope.cancelled_caught:
                silent_intervals += 1
                if silent_intervals >= 2:
                    raise TimeoutError("no answer to PING on the subscription")
                await stream.send_all(encode_command(["PING"]))
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
                    self._on_message(msg[2])
                elif kind == b"subscribe":
                    yield
