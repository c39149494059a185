"""A small Redis client for the trio front: trio sockets and the hiredis parser (ADR-0001).

Why not redis-py: a thread hop per command costs ~0.1 ms CPU, more than the rest of a call
lane's Redis work (DESIGN.md section 6). This client pays no hop: every command from every
task goes onto one connection, written in submission order and coalesced into as few
``send`` calls as possible (automatic pipelining); replies are matched first-in first-out.

Rules: RESP2 only; every wait has a deadline and failures surface as
``BackendUnavailableError``; a broken connection fails its pending commands at once and the
next command reconnects. Pub/sub lives in :mod:`server.redis_subscriber`.
"""

from __future__ import annotations

import collections
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Final

import hiredis
import structlog
import trio

from proto import (
    BackendUnavailableError,
    LuaScript,
    RedisAddress,
    RedisArg,
    RedisCommandError,
    encode_command,
    parse_redis_url,
    setup_commands,
)

__all__ = [
    "RedisAddress",
    "RedisClient",
    "RedisCommandError",
    "RedisReply",
    "connect_stream",
    "encode_command",
    "open_redis",
    "parse_redis_url",
]

log = structlog.get_logger()

RedisReply = bytes | int | list["RedisReply"] | None
"""A RESP2 reply as hiredis decodes it (error replies are raised instead; one inside
``EXEC``'s array stays there, a ``hiredis.ReplyError`` value)."""

_READ_BYTES: Final = 65536
_CONNECT_RETRY_S: Final = 0.5


async def connect_stream(address: RedisAddress, timeout_s: float) -> trio.abc.Stream:
    """Open a byte stream to Redis and run AUTH/SELECT on it.

    Raises:
        BackendUnavailableError: unreachable, refused, too slow, or authentication failed.
    """
    try:
        with trio.fail_after(timeout_s):
            stream: trio.abc.Stream
            if address.unix_path is not None:
                stream = await trio.open_unix_socket(address.unix_path)
            elif address.tls:
                stream = await trio.open_ssl_over_tcp_stream(
                    address.host, address.port, ssl_context=ssl.create_default_context()
                )
            else:
                stream = await trio.open_tcp_stream(address.host, address.port)
            setup = setup_commands(address)
            if setup:
                try:
                    await _run_setup(stream, setup)
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
            return stream
    except trio.TooSlowError:
        raise BackendUnavailableError(
            f"Redis did not accept a connection in {timeout_s} s"
        ) from None
    except OSError as exc:
        raise BackendUnavailableError(f"cannot connect to Redis: {exc}") from None


async def _run_setup(stream: trio.abc.Stream, commands: list[list[RedisArg]]) -> None:
    await stream.send_all(b"".join(encode_command(c) for c in commands))
    reader = hiredis.Reader()
    replies = 0
    while replies < len(commands):
        data = await stream.receive_some(_READ_BYTES)
        if not data:
            raise BackendUnavailableError("Redis closed the connection during setup")
        reader.feed(data)  # type: ignore[arg-type]  # hiredis reads any buffer
        while (reply := reader.gets()) is not False:
            if isinstance(reply, hiredis.ReplyError):
                raise BackendUnavailableError(f"Redis refused the connection setup: {reply}")
            replies += 1


class _Waiter:
    __slots__ = ("error", "event", "reply")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.reply: RedisReply = None
        self.error: Exception | None = None


class _Connection:
    """One open connection: FIFO waiters, a write buffer, and a reader task."""

    def __init__(self, stream: trio.abc.Stream, write_timeout_s: float) -> None:
        self._stream = stream
        self._write_timeout_s = write_timeout_s
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._outbox: list[bytes] = []
        self._flushing = False
        self._reader_scope = trio.CancelScope()
        self.broken: Exception | None = None

    def submit(self, payload: bytes, count: int) -> list[_Waiter]:
        if self.broken is not None:
            raise BackendUnavailableError(f"Redis connection lost: {self.broken}")
        waiters = [_Waiter() for _ in range(count)]
        self._waiters.extend(waiters)
        self._outbox.append(payload)
        return waiters

    async def flush(self) -> None:
        """Write everything queued; a no-op when another task is already writing."""
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._outbox and self.broken is None:
                data = b"".join(self._outbox)
                self._outbox.clear()
                # A write cut in half would desynchronise the reply FIFO for every task on
                # this connection, so the send is shielded, and bounded instead.
                with trio.CancelScope(shield=True), trio.move_on_after(self._write_timeout_s):
                    try:
                        await self._stream.send_all(data)
                        continue
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                        self.fail(exc)
                        return
                self.fail(TimeoutError(f"write blocked for {self._write_timeout_s} s"))
        finally:
            self._flushing = False

    async def read_replies(self) -> None:
        """Reader task: match replies to waiters until the connection breaks."""
        reader = hiredis.Reader()
        try:
            with self._reader_scope:
                while True:
                    data = await self._stream.receive_some(_READ_BYTES)
                    if not data:
                        self.fail(EOFError("Redis closed the connection"))
                        return
                    reader.feed(data)  # type: ignore[arg-type]  # hiredis reads any buffer
                    while (reply := reader.gets()) is not False:
                        self._deliver(reply)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.fail(exc)
        except hiredis.ProtocolError as exc:
            self.fail(exc)
        finally:
            await trio.aclose_forcefully(self._stream)

    def _deliver(self, reply: object) -> None:
        if not self._waiters:
            self.fail(hiredis.ProtocolError("reply without a pending command"))
            return
        waiter = self._waiters.popleft()
        if isinstance(reply, hiredis.ReplyError):
            waiter.error = RedisCommandError(str(reply))
        else:
            waiter.reply = reply  # type: ignore[assignment]  # hiredis replies are untyped
        waiter.event.set()

    def fail(self, exc: Exception) -> None:
        if self.broken is not None:
            return
        self.broken = exc
        self._reader_scope.cancel()
        error = BackendUnavailableError(f"Redis connection lost: {exc}")
        while self._waiters:
            waiter = self._waiters.popleft()
            waiter.error = error
            waiter.event.set()

    def close(self) -> None:
        """Fail pending commands; the reader task closes the stream as it exits."""
        self.fail(EOFError("connection closed"))


class RedisClient:
    """Commands over one shared, pipelined connection that reconnects when it breaks.

    Build it with :func:`open_redis`, which owns the reader task's nursery.
    """

    def __init__(
        self,
        address: RedisAddress,
        nursery: trio.Nursery,
        *,
        connect_timeout_s: float,
        command_timeout_s: float,
    ) -> None:
        self._address = address
        self._nursery = nursery
        self._connect_timeout_s = connect_timeout_s
        self._command_timeout_s = command_timeout_s
        self._conn: _Connection | None = None
        self._connect_lock = trio.Lock()
        self._last_connect_error: BackendUnavailableError | None = None
        self._last_connect_failed_at = -1e9

    async def execute(self, *args: RedisArg) -> RedisReply:
        """Run one command and return its reply.

        Raises:
            BackendUnavailableError: no connection, or no reply within the command timeout.
            RedisCommandError: Redis answered with an error reply.

        Cancellation: the command may still run on the server; its reply is discarded.
        """
        (reply,) = await self.execute_many((args,))
        return reply

    async def run_script(
        self, script: LuaScript, keys: Sequence[RedisArg], args: Sequence[RedisArg]
    ) -> RedisReply:
        """Run a script by its SHA, sending its source once when Redis does not know it
        (first use, or after a restart or SCRIPT FLUSH).

        Raises:
            as :meth:`execute`.
        """
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except RedisCommandError as exc:
            if "NOSCRIPT" not in str(exc):
                raise
        return await self.execute("EVAL", script.source, len(keys), *keys, *args)

    async def execute_encoded(self, command: bytes) -> RedisReply:
        """Run one command already encoded as RESP (``encode_command``): for a hot path
        that encodes what does not change once (``ADMIT``'s arguments for a caller).

        Raises:
            as :meth:`execute`.
        """
        (reply,) = await self._submit(command, 1)
        return reply

    async def execute_many(self, commands: Sequence[Sequence[RedisArg]]) -> list[RedisReply]:
        """Send several commands in one write and return their replies in order.

        Not a transaction: use MULTI/EXEC or a script for atomicity. Error replies raise
        :class:`RedisCommandError` after all replies have arrived.
        """
        return await self._submit(b"".join(encode_command(c) for c in commands), len(commands))

    async def _submit(self, payload: bytes, count: int) -> list[RedisReply]:
        conn = await self._connection()
        waiters = conn.submit(payload, count)
        await conn.flush()
        replies: list[RedisReply] = []
        with trio.move_on_after(self._command_timeout_s) as scope:
            for waiter in waiters:
                await waiter.event.wait()
                if waiter.error is not None:
                    raise waiter.error
                replies.append(waiter.reply)
        if scope.cancelled_caught:
            # A silent connection may be half-open: retire it so the next command reconnects
            # instead of queueing behind replies that will never come.
            conn.fail(TimeoutError(f"no reply within {self._command_timeout_s} s"))
            raise BackendUnavailableError(
                f"Redis did not answer within {self._command_timeout_s} s"
            )
        return replies

    async def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and conn.broken is None:
            return conn
        async with self._connect_lock:
            conn = self._conn
            if conn is not None and conn.broken is None:
                return conn
            # Callers queued behind a failed attempt share its verdict for a moment instead
            # of each paying a full connect timeout in turn.
            recent = trio.current_time() - self._last_connect_failed_at < _CONNECT_RETRY_S
            if recent and self._last_connect_error is not None:
                raise self._last_connect_error
            try:
                stream = await connect_stream(self._address, self._connect_timeout_s)
            except BackendUnavailableError as exc:
                self._last_connect_error = exc
                self._last_connect_failed_at = trio.current_time()
                raise
            conn = _Connection(stream, write_timeout_s=self._command_timeout_s)
            self._nursery.start_soon(conn.read_replies)
            self._conn = conn
            return conn

    def close(self) -> None:
        """Close the connection; pending commands fail with ``BackendUnavailableError``."""
        if self._conn is not None:
            self._conn.close()


@asynccontextmanager
async def open_redis(
    address: RedisAddress, *, connect_timeout_s: float = 5.0, command_timeout_s: float = 5.0
) -> AsyncIterator[RedisClient]:
    """Open a :class:`RedisClient`; the connection is made on first use.

    Resources: owns a nursery for the reader task; closing the context closes the
    connection and fails commands still waiting.
    """
    async with trio.open_nursery() as nursery:
        client = RedisClient(
            address,
            nursery,
            connect_timeout_s=connect_timeout_s,
            command_timeout_s=command_timeout_s,
        )
        try:
            yield client
        finally:
            client.close()
