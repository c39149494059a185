"""A minimal HTTP/1.1 client for keep-alive connections: an incremental response reader
(Content-Length and chunked bodies), an SSE ``data:`` splitter, and a blocking connection.

Hand-written on raw sockets because a general client (httpx, the mcp library) costs more CPU
per call than the servers it would be measuring. It speaks only what an MCP endpoint needs:
``POST``/``DELETE`` requests built by the caller, responses framed by Content-Length or
chunked transfer encoding; a response with neither has an empty body (every keep-alive
server frames its bodies).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit


class WireError(Exception):
    """The server sent bytes that are not a well-framed HTTP/1.1 response."""


class ConnectionClosed(Exception):
    """The server closed the connection before a whole response arrived."""


@dataclass(frozen=True)
class Endpoint:
    """Where an MCP endpoint listens: host, port and path, from its URL."""

    host: str
    port: int
    path: str

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """Parse ``http://host:port/path`` (only plain http is spoken)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"need an http:// URL, not {url!r}")
        return cls(parts.hostname, parts.port or 80, parts.path or "/")

    @property
    def authority(self) -> str:
        """The ``Host`` header's value."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Response:
    """One whole response: status, headers (names lower-cased, last one wins), body (after
    de-chunking)."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def is_sse(self) -> bool:
        """Whether the body is an event stream."""
        return self.headers.get("content-type", "").startswith("text/event-stream")


class ResponseReader:
    """Reads one response from bytes fed as they arrive.

    ``head`` is set once the status line and headers are in; ``body`` grows as body bytes
    arrive (de-chunked); ``done`` once the response is whole, and ``rest`` then holds bytes
    that came after it.
    """

    __slots__ = ("_buf", "_mode", "_need", "body", "done", "headers", "rest", "status")

    def __init__(self, initial: bytes = b"") -> None:
        self._buf = bytearray(initial)
        self._mode = ""  # "" head pending, "length", "chunked"
        self._need = 0
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.done = False
        self.rest = b""
        if initial:
            self._advance()

    def feed(self, data: bytes) -> bool:
        """Take more bytes; True once the response is whole.

        Raises:
            WireError: malformed status line, headers or chunk framing.
        """
        self._buf += data
        self._advance()
        return self.done

    def response(self) -> Response:
        """The whole response (only once ``done``)."""
        return Response(self.status, self.headers, bytes(self.body))

    def _advance(self) -> None:
        if not self._mode and not self._read_head():
            return
        if self._mode == "length":
            self._read_length()
        else:
            self._read_chunks()

    def _read_head(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = self._buf[:end].decode("latin-1").split("\r\n")
        del self._buf[: end + 4]
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
            raise WireError(f"bad status line {lines[0]!r}")
        try:
            self.status = int(status_line[1])
        except ValueError:
            raise WireError(f"bad status line {lines[0]!r}") from None
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise WireError(f"bad header line {line!r}")
            self.headers[name.strip().lower()] = value.strip()
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._mode = "chunked"
            return True
        self._mode = "length"
        try:
            self._need = int(self.headers.get("content-length", "0"))
        except ValueError:
            raise WireError(f"bad content-length {self.headers['content-length']!r}") from None
        return True

    def _read_length(self) -> None:
        if len(self._buf) < self._need:
            return
        self.body += self._buf[: self._need]
        self.rest = bytes(self._buf[self._need :])
        self._buf.clear()
        self.done = True

    def _read_chunks(self) -> None:
        buf = self._buf
        while True:
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                return
            try:
                size = int(bytes(buf[:line_end]).split(b";", 1)[0], 16)
            except ValueError:
                raise WireError(f"bad chunk size {bytes(buf[:line_end])!r}") from None
            start = line_end + 2
            if size == 0:
                self._finish_chunks(start)
                return
            if len(buf) < start + size + 2:
                return
            if buf[start + size : start + size + 2] != b"\r\n":
                raise WireError("chunk not followed by CRLF")
            self.body += buf[start : start + size]
            del buf[: start + size + 2]

    def _finish_chunks(self, start: int) -> None:
        buf = self._buf
        if buf[start : start + 2] == b"\r\n":
            end = start + 2
        else:  # trailers, ended by an empty line
            trailer_end = buf.find(b"\r\n\r\n", start)
            if trailer_end < 0:
                return
            end = trailer_end + 4
        self.rest = bytes(buf[end:])
        buf.clear()
        self.done = True


class SseSplitter:
    """Cuts an event stream's body into events' ``data`` payloads as it grows."""

    __slots__ = ("_pending", "_seen")

    def __init__(self) -> None:
        self._seen = 0
        self._pending = b""

    def events(self, body: bytes | bytearray, *, final: bool = False) -> list[bytes]:
        """The ``data`` of every event completed since the last call, given the whole body
        so far (``final``: the body is complete, so a last event without its blank line
        counts too). Events without data (comments, retry hints, the empty event that primes
        a resumable stream) are skipped."""
        fresh = bytes(body[self._seen :])
        self._seen = len(body)
        text = self._pending + fresh
        held = b""
        if text.endswith(b"\r") and not final:
            text, held = text[:-1], b"\r"  # maybe half of a CRLF
        text = text.replace(b"\r\n", b"\n")
        out: list[bytes] = []
        pieces = text.split(b"\n\n")
        self._pending = (b"" if final else pieces.pop()) + held
        for event in pieces:
            data = [
                line[5:].removeprefix(b" ")
                for line in event.split(b"\n")
                if line.startswith(b"data:")
            ]
            payload = b"\n".join(data)
            if payload.strip():  # an empty event primes resumption: nothing to read
                out.append(payload)
        return out


def sse_data(body: bytes) -> list[bytes]:
    """Every event's ``data`` payload in a whole event-stream body."""
    return SseSplitter().events(body, final=True)


def request_head(
    method: str, endpoint: Endpoint, headers: dict[str, str], body_length: int
) -> bytes:
    """A request's status line and headers (with Host and Content-Length)."""
    lines = [f"{method} {endpoint.path} HTTP/1.1", f"Host: {endpoint.authority}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {body_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Connection:
    """One blocking keep-alive connection (reconnects when the server closed it between
    requests). For setup exchanges and the tasks/progress flows; the closed-loop driver runs
    its sockets non-blocking on one poller instead."""

    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 60.0) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.sock: socket.socket | None = None
        self.reconnects = 0
        self._rest = b""

    def connect(self) -> socket.socket:
        """The open socket (opened on first use)."""
        if self.sock is None:
            self.sock = open_socket(self.endpoint, self.timeout_s)
            self._rest = b""
        return self.sock

    def close(self) -> None:
        """Close the socket (the next request opens a new one)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, request: bytes) -> Response:
        """Send ``request`` and read its whole response; once more on a fresh connection
        when the kept-alive one turns out closed.

        Raises:
            ConnectionClosed: closed again on the fresh connection.
            WireError: a malformed response.
            OSError: connecting or sending failed, or the timeout passed.
        """
        for attempt in (0, 1):
            try:
                return self._exchange_once(request)
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
                self.reconnects += 1
        raise AssertionError("unreachable")

    def _exchange_once(self, request: bytes) -> Response:
        sock = self.connect()
        sock.sendall(request)
        reader = ResponseReader(self._rest)
        while not reader.done:
            data = sock.recv(65536)
            if not data:
                raise ConnectionClosed("closed before the response was whole")
            reader.feed(data)
        self._after(reader)
        return reader.response()

    def stream(self, request: bytes) -> Iterator[tuple[int, bytes]]:
        """Send ``request`` and yield ``(receipt time_ns, data)`` for every SSE event (or
        the one JSON body) as it arrives. The first yield is preceded by checking the status:
        a non-200 answer raises :class:`WireError` carrying it."""
        sock = self.connect()
        sock.sendall(request)
        reader = ResponseReader(self._rest)
        splitter = SseSplitter()
        while True:
            if reader.status and reader.status != 200:
                self._drain(reader)
                raise WireError(f"http_{reader.status}")
            if reader.headers and reader.headers.get("content-type", "").startswith(
                "text/event-stream"
            ):
                now = time.time_ns()
                for data in splitter.events(reader.body, final=reader.done):
                    yield now, data
            if reader.done:
                self._after(reader)
                if not reader.headers.get("content-type", "").startswith("text/event-stream"):
                    yield time.time_ns(), bytes(reader.body)
                return
            data = sock.recv(65536)
            if not data:
                self.close()
                raise ConnectionClosed("closed before the response was whole")
            reader.feed(data)

    def _drain(self, reader: ResponseReader) -> None:
        sock = self.connect()
        while not reader.done:
            data = sock.recv(65536)
            if not data:
                self.close()
                return
            reader.feed(data)
        self._after(reader)

    def _after(self, reader: ResponseReader) -> None:
        self._rest = reader.rest
        if reader.headers.get("connection", "").lower() == "close":
            self.close()


def open_socket(endpoint: Endpoint, timeout_s: float | None) -> socket.socket:
    """A connected TCP socket with Nagle off (requests are small and latency matters)."""
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
