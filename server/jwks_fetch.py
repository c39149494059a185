"""One blocking GET of the issuer's JSON Web Key Set, under a total deadline (ADR-0016).

Run in a thread by :class:`server.jwks_cache.JwksCache`. Whatever the endpoint answers, the
fetch ends within ``timeout_s`` and either returns the body or raises
:class:`JwksUnavailableError` with a reason:

- **A total deadline.** ``urlopen(timeout=…)`` bounds each socket operation only, so an
  endpoint trickling a byte every few seconds could keep one fetch going for hours. A timer
  shuts the connection's socket down when the deadline passes, which ends a read blocked in
  any phase (TLS handshake, status line, headers, body) at once.
- **Every failure is "unavailable".** ``urllib`` raises more than ``OSError`` on a bad
  answer: ``http.client.HTTPException`` (a truncated chunked body, a garbage status line, a
  header line too long), ``ValueError``; all of them, and a body over 1 MiB, become
  :class:`JwksUnavailableError`.
- **Redirects stay on https.** A redirect is followed only to a URL that ``jwks_url`` itself
  could be (``https://``, or ``http://`` to loopback): a redirect to plain HTTP elsewhere
  would let the set be replaced on the way, and with it every key.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import urllib.request
from typing import IO, Any, Final

from proto import FleetError
from server.auth_config import check_jwks_url

__all__ = ["MAX_JWKS_BYTES", "JwksUnavailableError", "fetch_jwks"]

MAX_JWKS_BYTES: Final = 1024 * 1024
"""The largest key set read (a real one is a few KiB)."""

_CHUNK_BYTES: Final = 64 * 1024


class JwksUnavailableError(FleetError):
    """The key set could not be fetched or read (the message says why)."""


def fetch_jwks(url: str, timeout_s: float) -> bytes:
    """GET the key set (blocking; at most :data:`MAX_JWKS_BYTES`; over within ``timeout_s``).

    Raises:
        JwksUnavailableError: unreachable, too slow, an HTTP error, a malformed answer, a
            redirect off https, or too large.
    """
    deadline = _Deadline(timeout_s)
    opener = urllib.request.build_opener(
        _CheckedRedirects(), _WatchedHTTPHandler(deadline), _WatchedHTTPSHandler(deadline)
    )
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with deadline, opener.open(request, timeout=timeout_s) as response:
            data = _read_bounded(response, deadline)
    except JwksUnavailableError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # OSError: URLError, HTTPError, socket timeouts, TLS errors; HTTPException:
        # IncompleteRead, BadStatusLine, LineTooLong; ValueError: a malformed URL or header.
        if deadline.expired:
            raise JwksUnavailableError(deadline.reason) from None
        raise JwksUnavailableError(f"cannot fetch the JWKS: {_describe(exc)}") from None
    if deadline.expired:  # the socket was shut mid-body: what was read is cut short
        raise JwksUnavailableError(deadline.reason)
    return data


def _read_bounded(response: http.client.HTTPResponse, deadline: _Deadline) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while not deadline.expired:
        chunk = response.read1(_CHUNK_BYTES)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_JWKS_BYTES:
            raise JwksUnavailableError("the JWKS is larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Deadline:
    """The fetch's total deadline: when it passes, the socket of the connection open then is
    shut down (from the timer's thread: a blocked ``recv`` then returns at once)."""

    def __init__(self, timeout_s: float) -> None:
        self.reason = f"the JWKS fetch did not complete within {timeout_s:g}s"
        self.expired = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(timeout_s, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        """The connection's socket (a redirect opens another: the latest counts)."""
        with self._lock:
            self._socket = sock
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._socket is not None:
                _shut(self._socket)


def _shut(sock: socket.socket) -> None:
    # OSError: already closed, so nothing is blocked on it.
    with contextlib.suppress(OSError):
        # The plain socket's shutdown, also under TLS: it ends the read of the thread using
        # the socket without touching its TLS state from this thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnection(http.client.HTTPConnection):
    """Hands its TCP socket to the fetch's deadline as soon as it is connected."""

    deadline: _Deadline | None = None

    def connect(self) -> None:
        super().connect()
        if self.deadline is not None:
            self.deadline.watch(self.sock)


class _WatchedTLSConnection(http.client.HTTPSConnection, _WatchedConnection):
    """HTTPS: ``HTTPSConnection.connect`` calls ``_WatchedConnection.connect`` (the next in
    the MRO) for the TCP socket, so the deadline watches it before the TLS handshake."""


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)

    def _connection(self, host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = _WatchedConnection(host, **kwargs)
        connection.deadline = self._deadline
        return connection


class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    """Certificates and host names verified as ``urlopen`` does (the default context)."""

    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)

    def _connection(self, host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = _WatchedTLSConnection(host, **kwargs)
        connection.deadline = self._deadline
        return connection


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL ``jwks_url`` could be (https, http to loopback)."""

    def redirect_request(  # noqa: PLR0917  # urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        try:
            check_jwks_url(newurl)
        except ValueError:
            fp.close()
            raise JwksUnavailableError(
                f"refused the JWKS endpoint's redirect to {newurl[:200]!r}: the key set is "
                "fetched over https only (http only to loopback)"
            ) from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)
