"""Security headers on every HTTP response of a real front (ADR-0018, docs/security.md
"Response headers"): MCP answers as JSON and as event streams, refusals, a 404, the probes
and the metrics text; HSTS only when configured; no ``server`` header."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_http_bad_input import (
    ACCEPT,
    ENVELOPE,
    MODERN,
    call,
    modern_headers,
    open_session,
    post,
)
from tests.fixtures.fleet import RunningFleet, module_fleet

RENDERING = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
ONE_YEAR = 31_536_000

hsts_fleet = module_fleet(
    "examples.demo:app", env={"MCPFLEET_FRONT__HSTS_MAX_AGE_S": str(ONE_YEAR)}, quiet=True
)


def assert_secured(response: httpx.Response, *, cache: str = "no-store") -> None:
    for name, value in RENDERING.items():
        assert response.headers.get_list(name) == [value], (name, response.headers)
    assert response.headers.get_list("cache-control") == [cache]
    assert "server" not in response.headers
    assert "strict-transport-security" not in response.headers


@pytest.fixture
def http(shared_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with shared_fleet.http() as client:
        yield client


@pytest.mark.parametrize("version", ["2025-03-26", "2025-11-25", MODERN])
def test_mcp_json_answers(http: httpx.Client, version: str) -> None:
    if version == MODERN:
        body = call("echo", {"text": "hi"}, meta=ENVELOPE)
        response = post(http, body=body, headers=modern_headers("tools/call", "echo"))
    else:
        response = post(http, body=call("echo", {"text": "hi"}), version=version)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert_secured(response)


def test_initialize_and_session_end(http: httpx.Client) -> None:
    client = {"name": "t", "version": "1"}
    params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client}
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
    opened = http.post("/mcp", json=init, headers={"accept": ACCEPT})
    assert_secured(opened)
    session = opened.headers["mcp-session-id"]
    ended = http.delete("/mcp", headers={"mcp-session-id": session})
    assert ended.status_code == 200
    assert_secured(ended)


def test_mcp_event_stream_answer(http: httpx.Client) -> None:
    meta = {**ENVELOPE, "progressToken": "p-1"}
    body = call("sleep_progress", {"seconds": 0.1, "steps": 2}, meta=meta)
    response = post(http, body=body, headers=modern_headers("tools/call", "sleep_progress"))
    assert response.headers["content-type"] == "text/event-stream"
    assert_secured(response, cache="no-store, no-transform")


def test_the_get_stream(http: httpx.Client) -> None:
    session = open_session(http, "2025-11-25")
    headers = {
        "accept": "text/event-stream",
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-11-25",
    }
    with http.stream("GET", "/mcp", headers=headers) as response:
        assert response.status_code == 200
        assert_secured(response, cache="no-store, no-transform")
    http.delete("/mcp", headers={"mcp-session-id": session})


def test_the_listen_stream(http: httpx.Client) -> None:
    params = {"notifications": {"toolsListChanged": True}, "_meta": ENVELOPE}
    body = {"jsonrpc": "2.0", "id": 9, "method": "subscriptions/listen", "params": params}
    headers = {
        "accept": ACCEPT,
        "content-type": "application/json",
        **modern_headers("subscriptions/listen"),
    }
    with http.stream("POST", "/mcp", content=json.dumps(body), headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert_secured(response, cache="no-store, no-transform")


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"method": "POST", "url": "/mcp", "content": b"{", "headers": {"accept": ACCEPT}}, 415),
        (
            {
                "method": "POST",
                "url": "/mcp",
                "content": b"{",
                "headers": {"accept": ACCEPT, "content-type": "application/json"},
            },
            400,
        ),
        ({"method": "PUT", "url": "/mcp"}, 405),
        ({"method": "GET", "url": "/nowhere"}, 404),
        ({"method": "GET", "url": "/mcp", "headers": {"origin": "https://evil.example"}}, 403),
        ({"method": "POST", "url": "/metrics"}, 405),
    ],
)
def test_refusals(http: httpx.Client, request_kwargs: dict[str, object], status: int) -> None:
    response = http.request(**request_kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert_secured(response)


def test_a_body_over_the_limit(http: httpx.Client) -> None:
    huge = json.dumps(call("echo", {"text": "x" * (4 * 1024 * 1024 + 1)})).encode()
    response = post(http, body=huge, version="2025-06-18")
    assert response.status_code == 413
    assert_secured(response)


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/ready", "/metrics"])
def test_probes_and_metrics(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200
    assert_secured(response)


def test_hsts_when_configured(hsts_fleet: RunningFleet) -> None:
    expected = f"max-age={ONE_YEAR}; includeSubDomains"
    with hsts_fleet.http() as client:
        responses = [
            client.get("/health"),
            client.get("/nowhere"),
            post(client, body=call("echo", {"text": "hi"}), version="2025-11-25"),
        ]
        meta = {**ENVELOPE, "progressToken": "p-1"}
        body = call("sleep_progress", {"seconds": 0.1, "steps": 2}, meta=meta)
        responses.append(
            post(client, body=body, headers=modern_headers("tools/call", "sleep_progress"))
        )
    assert responses[-1].headers["content-type"] == "text/event-stream"
    for response in responses:
        assert response.headers.get_list("strict-transport-security") == [expected]
        assert response.headers["x-content-type-options"] == "nosniff"
