"""The request side of the HTTP transport, before any era's logic: the headers read in one
pass, the transport checks that come first in mcp-protocol.md 5.4 (size of the head, Host,
Origin, Accept, Content-Type, size of the body), and the refusal they raise.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from proto import (
    MCP_METHOD,
    MCP_NAME,
    MCP_PARAM_PREFIX,
    MCP_PROTOCOL_VERSION,
    MCP_SESSION_ID,
    BodyTooLargeError,
    FleetError,
    InvalidRequestError,
    Principal,
    ProtocolError,
    RequestId,
    encode_error,
)
from server.config import FrontConfig
from server.sse_response import Receive

__all__ = ["HttpError", "RequestHeaders", "TransportChecks", "accepts_sse"]

_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class HttpError(FleetError):
    """A refusal at the HTTP layer: status plus a JSON-RPC error body, and the response
    headers it needs (a ``WWW-Authenticate`` challenge)."""

    def __init__(
        self,
        status: int,
        error: ProtocolError,
        request_id: RequestId | None = None,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
    ):
        super().__init__(error.message)
        self.status = status
        self.error = error
        self.request_id = request_id
        self.headers = headers or []

    def render(self) -> bytes:
        """The JSON-RPC error body."""
        return encode_error(self.request_id, self.error.code, self.error.message, self.error.data)


class RequestHeaders:
    """The request headers the transport reads, gathered in one pass, and what the
    transport learns about the request before its era's handling.

    Attributes:
        client: the caller's address (``server/client_address.py``, ``""`` when unknown)
            for the audit trail and the limits.
        scheme: ``http`` or ``https`` (the ASGI scope's), set by the transport.
        http_method: ``GET``, ``POST``, ... (the ASGI scope's), set by the transport.
        principal: who sent it, once its bearer token was verified (ADR-0016); None while
            authentication is off (the caller is then anonymous).
    """

    __slots__ = (
        "accept",
        "authorization",
        "client",
        "content_length",
        "content_type",
        "host",
        "http_method",
        "last_event_id",
        "method",
        "name",
        "origin",
        "params",
        "principal",
        "scheme",
        "session_id",
        "size",
        "versions",
    )

    def __init__(self, raw: list[tuple[bytes, bytes]], client: str = "") -> None:
        self.client = client
        self.accept = ""
        self.content_type = ""
        self.content_length: int | None = None
        self.origin: str | None = None
        self.host: str | None = None
        self.session_id: str | None = None
        self.last_event_id: str | None = None
        self.versions: list[str] = []
        self.method: list[str] = []
        self.name: list[str] = []
        self.params: dict[str, list[str]] = {}  # Mcp-Param-* values by lower-cased token
        self.authorization: list[str] = []
        self.scheme = "http"
        self.http_method = ""
        self.principal: Principal | None = None
        size = 4 * len(raw)  # bytes of all header fields as on the wire: "name: value\r\n"
        for key, value in raw:
            size += len(key) + len(value)
            if key == MCP_PROTOCOL_VERSION:
                self.versions.append(value.decode("latin-1").strip())
            elif key == MCP_METHOD:
                self.method.append(value.decode("latin-1").strip())
            elif key == MCP_NAME:
                self.name.append(value.decode("latin-1"))
            elif key == b"accept":
                self.accept = f"{self.accept},{value.decode('latin-1')}"
            elif key == b"content-type":
                self.content_type = value.decode("latin-1")
            elif key == b"content-length":
                self.content_length = int(value) if value.isdigit() else None
            elif key == b"origin":
                self.origin = value.decode("latin-1")
            elif key == b"host":
                self.host = value.decode("latin-1")
            elif key == MCP_SESSION_ID:
                self.session_id = value.decode("latin-1").strip()
            elif key == b"authorization":
                self.authorization.append(value.decode("latin-1"))
            elif key == b"last-event-id":
                self.last_event_id = value.decode("latin-1")
            elif key.startswith(MCP_PARAM_PREFIX):
                token = key[len(MCP_PARAM_PREFIX) :].decode("latin-1")
                self.params.setdefault(token, []).append(value.decode("latin-1"))
        self.size = size

    def single_version(self) -> str | None:
        """The version header's value; a duplicated header reads as ``""``, which routes to
        the modern ladder, where it is refused as a header mismatch (checklist 34)."""
        if not self.versions:
            return None
        return self.versions[0] if len(self.versions) == 1 else ""


class TransportChecks:
    """The checks every MCP request passes before its era's ladder, set up from the config.

    Args:
        config: the front's settings (limits, allowed origins and hosts, the bind address).
    """

    def __init__(self, config: FrontConfig) -> None:
        self._max_body = config.max_body_bytes
        self._max_header_bytes = config.max_header_bytes
        self._allowed_origins = frozenset(o.rstrip("/") for o in config.allowed_origins)
        self._allowed_hosts = frozenset(h.lower() for h in config.allowed_hosts)
        # Host is checked when bound to loopback (a local server), or when hosts are listed.
        self._check_hosts = bool(self._allowed_hosts) or _host_name(config.http) in _LOOPBACK_HOSTS

    def check_head(self, headers: RequestHeaders) -> None:
        """Any method: the head's size (431), Host (421) and Origin (403).

        Raises:
            HttpError: the refusal.
        """
        if headers.size > self._max_header_bytes:
            # hypercorn enforces the bound only on a head that arrives in pieces.
            raise HttpError(431, _head_too_large(self._max_header_bytes))
        self._check_host(headers.host)
        self._check_origin(headers.origin)

    @staticmethod
    def check_post(headers: RequestHeaders) -> None:
        """A POST: Accept (406) and Content-Type (415).

        Raises:
            HttpError: the refusal.
        """
        _check_accept(headers.accept)
        _check_content_type(headers.content_type)

    def _check_origin(self, origin: str | None) -> None:
        """DNS-rebinding defence (checklist 53): a present Origin must be loopback or listed."""
        if origin is None:
            return
        try:
            host = urlsplit(origin).hostname
        except ValueError:  # e.g. "http://[::1": not an origin we could allow
            host = None
        if host in _LOOPBACK_HOSTS or origin.rstrip("/") in self._allowed_origins:
            return
        raise HttpError(403, InvalidRequestError(f"Origin not allowed: {origin[:200]}"))

    def _check_host(self, host: str | None) -> None:
        """DNS-rebinding defence for a loopback bind (checklist 53): the Host header must
        name this machine (or a listed host), so a web page on a rebinding domain cannot
        reach the server through the browser."""
        if not self._check_hosts:
            return
        name = _host_name(host or "")
        if name in _LOOPBACK_HOSTS or name in self._allowed_hosts:
            return
        raise HttpError(421, InvalidRequestError(f"Host not allowed: {(host or '')[:200]}"))

    async def read_body(self, receive: Receive, declared: int | None) -> bytes:
        """The whole body, refused with 413 as soon as it is known to be too large (from
        ``Content-Length`` before reading, else while reading).

        Raises:
            HttpError: too large, or the client went away first.
        """
        if declared is not None and declared > self._max_body:
            raise HttpError(413, _too_large(self._max_body))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise HttpError(400, InvalidRequestError("client disconnected"))
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise HttpError(413, _too_large(self._max_body))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _host_name(authority: str) -> str:
    """The host part of ``host[:port]`` / ``[v6]:port``, lower-cased."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[: authority.find("]") + 1] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def _check_accept(accept: str) -> None:
    """Both JSON and SSE must be acceptable (checklist 17); wildcards count."""
    ranges = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    json_ok = not ranges.isdisjoint({"application/json", "application/*", "*/*"})
    if not (json_ok and accepts_sse(accept)):
        raise HttpError(
            406,
            InvalidRequestError(
                "Not Acceptable: Accept must list application/json and text/event-stream"
            ),
        )


def accepts_sse(accept: str) -> bool:
    ranges = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return not ranges.isdisjoint({"text/event-stream", "text/*", "*/*"})


def _check_content_type(content_type: str) -> None:
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise HttpError(
            415,
            InvalidRequestError("Unsupported Media Type: Content-Type must be application/json"),
        )


def _head_too_large(limit: int) -> InvalidRequestError:
    return InvalidRequestError(f"Request Header Fields Too Large: the limit is {limit} bytes")


def _too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"Request body exceeds the limit of {limit} bytes")
