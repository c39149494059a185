"""The MCP exchanges of each era, as request bytes and reply verdicts.

- ``2026-07-28``: every request is one POST carrying the ``_meta`` envelope
  (protocolVersion, clientCapabilities) and the ``Mcp-Method`` / ``Mcp-Name`` headers.
- ``2025-11-25``: a client first POSTs ``initialize`` (keeping the ``Mcp-Session-Id`` the
  server answers, if any: a stateless SDK server gives none, and then no session header is
  sent), then ``notifications/initialized``, then its calls on the session.

Verdicts never raise: :func:`reply_message` and :func:`call_verdict` return an error kind
(``http_503``, ``bad_json``, ``id_mismatch``, ``jsonrpc_-32603``, ``tool_error``, ``check``,
...) and a short detail instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from bench.loadgen.http_wire import Connection, Endpoint, Response, request_head, sse_data
from bench.loadgen.workloads import ERAS, Check

MODERN: Final = "2026-07-28"
HANDSHAKE: Final = "2025-11-25"
TASKS_EXTENSION: Final = "io.modelcontextprotocol/tasks"
CLIENT_INFO: Final = {"name": "mcpfleet-loadgen", "version": "1.0"}

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class Verdict(msgspec.Struct, frozen=True):
    """What a reply was: ``message`` (the JSON-RPC response) when good, else ``kind`` and
    ``detail`` of the error."""

    message: dict[str, Any] | None = None
    kind: str = ""
    detail: str = ""


def stateless_envelope(*, tasks: bool = False) -> dict[str, Any]:
    """The 2026-07-28 request ``_meta`` envelope (declaring the tasks extension when
    ``tasks``)."""
    capabilities: dict[str, Any] = {"extensions": {TASKS_EXTENSION: {}}} if tasks else {}
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
    }


def stateless_call(tool: str, arguments: Mapping[str, Any], request_id: int = 1) -> dict[str, Any]:
    """A whole 2026-07-28 ``tools/call`` message, envelope included (for one-off calls;
    the load loop renders its calls from a :class:`CallTemplate`)."""
    params = {"name": tool, "arguments": dict(arguments), "_meta": stateless_envelope()}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


@dataclass
class Session:
    """One simulated client's protocol state: its era, endpoint, session id (handshake era,
    when the server gave one) and next request id."""

    endpoint: Endpoint
    era: str
    session_id: str | None = None
    next_id: int = 1

    def __post_init__(self) -> None:
        if self.era not in ERAS:
            raise ValueError(f"era must be one of {ERAS}, not {self.era!r}")

    @property
    def modern(self) -> bool:
        """Whether requests carry the 2026-07-28 envelope (else the session's headers)."""
        return self.era == MODERN

    def take_id(self) -> int:
        """A fresh request id."""
        request_id = self.next_id
        self.next_id += 1
        return request_id

    def headers(self, method: str, name: str | None = None) -> dict[str, str]:
        """The headers of a POST of ``method`` (``name``: the tool or task id, 2026 only)."""
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Mcp-Protocol-Version": self.era,
        }
        if self.modern:
            headers["Mcp-Method"] = method
            if name is not None:
                headers["Mcp-Name"] = name
        elif self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        return headers

    def envelope(self, *, tasks: bool = False, progress_token: object = None) -> dict[str, Any]:
        """The request ``_meta``: the 2026 envelope (declaring the tasks extension when
        ``tasks``) and the progress token if any."""
        meta: dict[str, Any] = stateless_envelope(tasks=tasks) if self.modern else {}
        if progress_token is not None:
            meta["progressToken"] = progress_token
        return meta

    def request(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        request_id: int | None,
        name: str | None = None,
        tasks: bool = False,
        progress_token: object = None,
    ) -> bytes:
        """A whole POST of a request (``request_id`` None: a notification)."""
        meta = self.envelope(tasks=tasks, progress_token=progress_token)
        full = {**params, "_meta": meta} if meta else dict(params)
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": full}
        if request_id is not None:
            message["id"] = request_id
        body = _encode(message)
        return request_head("POST", self.endpoint, self.headers(method, name), len(body)) + body

    def call_template(self, tool: str, arguments: Mapping[str, Any]) -> CallTemplate:
        """The hot-path renderer of this client's ``tools/call`` of ``tool``."""
        return CallTemplate(self, tool, arguments)


class CallTemplate:
    """Pre-built bytes of one client's ``tools/call``: only the id and Content-Length vary,
    so rendering a request is two ``%`` formats."""

    __slots__ = ("_head", "_post", "_pre")

    def __init__(self, session: Session, tool: str, arguments: Mapping[str, Any]) -> None:
        params: dict[str, Any] = {"name": tool, "arguments": dict(arguments)}
        meta = session.envelope()
        if meta:
            params["_meta"] = meta
        self._pre = b'{"jsonrpc":"2.0","id":'
        self._post = b',"method":"tools/call","params":' + _encode(params) + b"}"
        head = request_head("POST", session.endpoint, session.headers("tools/call", tool), 0)
        self._head = head.replace(b"Content-Length: 0\r\n", b"Content-Length: %d\r\n")

    def render(self, request_id: int) -> bytes:
        """The whole request with this id."""
        body = b"%s%d%s" % (self._pre, request_id, self._post)
        return self._head % len(body) + body


def reply_message(response: Response, request_id: int) -> Verdict:
    """The JSON-RPC response to ``request_id`` in ``response`` (JSON or an event stream
    whose notifications come first), or the error kind."""
    if response.status != 200:
        return Verdict(
            kind=f"http_{response.status}", detail=response.body[:200].decode(errors="replace")
        )
    bodies = sse_data(response.body) if response.is_sse else [response.body]
    for body in bodies:
        try:
            message = _decode(body)
        except msgspec.DecodeError:
            return Verdict(kind="bad_json", detail=body[:200].decode(errors="replace"))
        if not isinstance(message, dict):
            return Verdict(kind="bad_reply", detail=f"not an object: {body[:200]!r}")
        if "id" not in message:
            continue  # a notification before the response
        if message["id"] != request_id:
            return Verdict(kind="id_mismatch", detail=f"sent {request_id}, got {message['id']!r}")
        error = message.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            return Verdict(kind=f"jsonrpc_{code}", detail=str(error)[:200])
        if not isinstance(message.get("result"), dict):
            return Verdict(kind="bad_reply", detail=f"no result object: {body[:200]!r}")
        return Verdict(message=message)
    return Verdict(kind="no_response", detail=f"no message with id {request_id}")


def call_verdict(response: Response, request_id: int, check: Check) -> Verdict:
    """The verdict on a ``tools/call`` reply: a JSON-RPC success whose result is not an
    error and passes the workload's ``check``."""
    verdict = reply_message(response, request_id)
    if verdict.message is None:
        return verdict
    result = verdict.message["result"]
    if result.get("isError"):
        return Verdict(kind="tool_error", detail=str(result.get("content"))[:200])
    result_type = result.get("resultType", "complete")
    if result_type != "complete":
        return Verdict(kind=f"result_type_{result_type}", detail=str(result)[:200])
    try:
        reason = check(result)
    except Exception as exc:  # a broken check is a failed check, not a crash
        reason = f"check raised {exc!r}"
    if reason is not None:
        return Verdict(kind="check", detail=reason[:200])
    return verdict


def open_session(connection: Connection, era: str) -> Session:
    """A client's session on ``connection``: at 2025-11-25 ``initialize`` (keeping the
    session id when one is given) and ``notifications/initialized``; at 2026-07-28 nothing
    to exchange.

    Raises:
        SetupError: the server refused the handshake.
        OSError, WireError, ConnectionClosed: the connection failed.
    """
    session = Session(connection.endpoint, era)
    if session.modern:
        return session
    params = {"protocolVersion": era, "capabilities": {}, "clientInfo": CLIENT_INFO}
    request_id = session.take_id()
    response = connection.exchange(session.request("initialize", params, request_id=request_id))
    verdict = reply_message(response, request_id)
    if verdict.message is None:
        raise SetupError(f"initialize: {verdict.kind} {verdict.detail}")
    session.session_id = response.headers.get("mcp-session-id")
    notified = connection.exchange(
        session.request("notifications/initialized", {}, request_id=None)
    )
    if notified.status not in (200, 202, 204):
        raise SetupError(f"notifications/initialized: http_{notified.status}")
    return session


def close_session(connection: Connection, session: Session) -> None:
    """End a handshake-era session with DELETE (best effort: errors are ignored)."""
    if session.session_id is None:
        return
    head = request_head("DELETE", session.endpoint, session.headers("DELETE"), 0)
    try:
        connection.exchange(head)
    except Exception:  # closing is a courtesy: sessions expire
        connection.close()


class SetupError(Exception):
    """A client could not start (the handshake was refused)."""
