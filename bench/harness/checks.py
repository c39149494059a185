"""The correctness check before anything is measured: every demo tool, called once on each
server in each era, must give the demo's answer. A server that answers fast but wrong would
make every ratio meaningless."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from bench.harness.schedule import ERA_HANDSHAKE, ERA_STATELESS
from bench.loadgen.mcp_flows import stateless_call

Expectation = Callable[[Mapping[str, Any]], bool]


def _text(result: Mapping[str, Any]) -> str | None:
    content = result.get("content") or []
    if content and isinstance(content[0], dict) and content[0].get("type") == "text":
        text = content[0].get("text")
        return text if isinstance(text, str) else None
    return None


def _rounds(result: Mapping[str, Any]) -> bool:
    structured = result.get("structuredContent")
    if isinstance(structured, dict) and isinstance(structured.get("rounds"), int):
        return True
    text = _text(result)
    return text is not None and isinstance(json.loads(text).get("rounds"), int)


CALLS: dict[str, tuple[dict[str, Any], Expectation]] = {
    "echo": ({"text": "bench ✓"}, lambda r: _text(r) == "bench ✓"),
    "cpu_burn": ({"ms": 1}, _rounds),
    "wait": ({"ms": 1}, lambda r: _text(r) == "waited 1 ms"),
    "blocking_wait": ({"ms": 1}, lambda r: _text(r) == "blocked 1 ms"),
    "sleep_progress": (
        {"seconds": 0.01, "steps": 1},
        lambda r: _text(r) == "slept 0.01 s in 1 steps",
    ),
}


def _post(
    url: str, body: Mapping[str, Any], headers: Mapping[str, str]
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            **headers,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read().decode()
        reply_headers = {k.lower(): v for k, v in response.headers.items()}
        return int(response.status), reply_headers, _decode(raw, reply_headers)


def _decode(raw: str, headers: Mapping[str, str]) -> Any:
    if not raw:
        return None
    if headers.get("content-type", "").startswith("text/event-stream"):
        # The answer is the last `data:` event carrying a JSON-RPC response.
        reply = None
        for line in raw.splitlines():
            if line.startswith("data:") and line[5:].strip():
                message = json.loads(line[5:])
                if "result" in message or "error" in message:
                    reply = message
        return reply
    return json.loads(raw)


def _call_stateless(url: str, tool: str, arguments: Mapping[str, Any]) -> Any:
    body = stateless_call(tool, arguments)
    headers = {
        "mcp-protocol-version": ERA_STATELESS,
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }
    return _post(url, body, headers)[2]


def _handshake(url: str) -> dict[str, str]:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": ERA_HANDSHAKE,
            "capabilities": {},
            "clientInfo": {"name": "bench-check", "version": "1"},
        },
    }
    _, headers, reply = _post(url, init, {})
    if not reply or reply.get("result", {}).get("protocolVersion") != ERA_HANDSHAKE:
        raise CheckFailed(f"initialize at {url} answered {reply!r}")
    session = {"mcp-protocol-version": ERA_HANDSHAKE}
    if "mcp-session-id" in headers:
        session["mcp-session-id"] = headers["mcp-session-id"]
    _post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    return session


def _call_handshake(
    url: str, session: Mapping[str, str], tool: str, arguments: Mapping[str, Any]
) -> Any:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    return _post(url, body, session)[2]


class CheckFailed(RuntimeError):
    """A server gave a wrong answer before the measurement."""


def check_server(name: str, url: str) -> list[str]:
    """Call every demo tool once in each era; the calls made (``era tool``). Raises
    :class:`CheckFailed` on the first wrong answer."""
    done: list[str] = []
    session = _handshake(url)
    for tool, (arguments, expected) in CALLS.items():
        for era in (ERA_STATELESS, ERA_HANDSHAKE):
            if era == ERA_STATELESS:
                reply = _call_stateless(url, tool, arguments)
            else:
                reply = _call_handshake(url, session, tool, arguments)
            result = (reply or {}).get("result")
            if not isinstance(result, dict) or result.get("isError") or not expected(result):
                raise CheckFailed(f"{name}: {tool} in {era} answered {reply!r}")
            done.append(f"{era} {tool}")
    return done
