"""Bad input over HTTP: each answered at once with the status and JSON-RPC error the spec
prescribes, and the front keeps serving (a valid call succeeds afterwards)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.fleet import RunningFleet

ACCEPT = "application/json, text/event-stream"
HANDSHAKE_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture
def http(shared_fleet: RunningFleet) -> Iterator[httpx.Client]:
    origin, path = shared_fleet.url.rsplit("/", 1)
    assert path == "mcp"
    with httpx.Client(base_url=origin, timeout=30) as client:
        yield client
    # Whatever the test sent, the front still serves a valid call afterwards.
    with httpx.Client(base_url=origin, timeout=30) as client:
        ok = post(client, body=call("echo", {"text": "alive"}), version="2025-06-18")
    assert ok.status_code == 200
    assert ok.json()["result"]["content"][0]["text"] == "alive"


def open_session(client: httpx.Client, version: str) -> str:
    """``initialize`` at ``version``; returns the session id the front issued."""
    params = {
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
    response = client.post("/mcp", json=init, headers={"accept": ACCEPT})
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


def post(
    client: httpx.Client,
    url: str = "/mcp",
    body: object | bytes = b"",
    *,
    version: str | None = None,
    headers: dict[str, str] | None = None,
    session: bool = True,
) -> httpx.Response:
    """POST one body; a handshake-era ``version`` gets a fresh session unless
    ``session=False`` (or the headers name one)."""
    all_headers = {"content-type": "application/json", "accept": ACCEPT}
    if version is not None:
        all_headers["mcp-protocol-version"] = version
    if session and version in HANDSHAKE_VERSIONS:
        all_headers["mcp-session-id"] = open_session(client, version)
    all_headers.update(headers or {})
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, content=content, headers=all_headers)


def call(
    name: str, arguments: object, *, rid: object = 1, meta: object = None
) -> dict[str, object]:
    params: dict[str, object] = {"name": name, "arguments": arguments}
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


def modern_headers(method: str, name: str | None = None) -> dict[str, str]:
    headers = {"mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    return headers


def assert_error(
    response: httpx.Response, status: int, code: int, rid: object
) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == rid
    assert body["error"]["code"] == code, body
    return body["error"]


@pytest.mark.parametrize("version", [None, MODERN])
def test_malformed_json_is_a_parse_error(http: httpx.Client, version: str | None) -> None:
    assert_error(
        post(http, body=b'{"jsonrpc": "2.0", "id": 1,', version=version), 400, -32700, None
    )


@pytest.mark.parametrize(
    ("body", "rid"),
    [
        ({"foo": 1}, None),
        ({"jsonrpc": "1.0", "id": 7, "method": "ping"}, 7),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, None),
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], None),
        ("just a string", None),
    ],
)
def test_not_a_jsonrpc_request_is_invalid_request(
    http: httpx.Client, body: object, rid: object
) -> None:
    assert_error(post(http, body=body, version="2025-06-18"), 400, -32600, rid)


def test_unknown_method_handshake_era(http: httpx.Client) -> None:
    body = {"jsonrpc": "2.0", "id": "x", "method": "no/such", "params": {}}
    error = assert_error(post(http, body=body, version="2025-11-25"), 200, -32601, "x")
    assert "no/such" in error["message"]


def test_unknown_method_modern_era_is_404(http: httpx.Client) -> None:
    body = {"jsonrpc": "2.0", "id": 3, "method": "no/such", "params": {"_meta": ENVELOPE}}
    assert_error(post(http, body=body, headers=modern_headers("no/such")), 404, -32601, 3)


@pytest.mark.parametrize("method", ["initialize", "ping"])
def test_handshake_only_methods_are_unknown_in_the_modern_era(
    http: httpx.Client, method: str
) -> None:
    body = {"jsonrpc": "2.0", "id": 3, "method": method, "params": {"_meta": ENVELOPE}}
    assert_error(post(http, body=body, headers=modern_headers(method)), 404, -32601, 3)


def test_unknown_tool(http: httpx.Client) -> None:
    assert_error(post(http, body=call("nope", {}), version="2025-06-18"), 200, -32602, 1)
    response = post(
        http, body=call("nope", {}, meta=ENVELOPE), headers=modern_headers("tools/call", "nope")
    )
    assert_error(response, 400, -32602, 1)


def test_schema_invalid_arguments_before_2025_11_25_are_invalid_params(http: httpx.Client) -> None:
    error = assert_error(
        post(http, body=call("add", {"a": "x", "b": 1}), version="2025-06-18"), 200, -32602, 1
    )
    assert "$.a" in error["message"]


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
def test_schema_invalid_arguments_from_2025_11_25_are_tool_errors(
    http: httpx.Client, version: str
) -> None:
    if version == MODERN:
        response = post(
            http,
            body=call("add", {"a": 1}, meta=ENVELOPE),
            headers=modern_headers("tools/call", "add"),
        )
    else:
        response = post(http, body=call("add", {"a": 1}), version=version)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is True
    assert "missing required field `b`" in result["content"][0]["text"]


def test_body_over_the_size_limit_is_413(http: httpx.Client) -> None:
    huge = json.dumps(call("echo", {"text": "x" * (4 * 1024 * 1024 + 1)})).encode()
    assert_error(post(http, body=huge, version="2025-06-18"), 413, -32600, None)


@pytest.mark.parametrize("shape", ["one large field", "many fields"])
def test_request_head_over_the_size_limit_is_431(http: httpx.Client, shape: str) -> None:
    # front.max_header_bytes defaults to 32 KiB; a body of any size does not count.
    if shape == "one large field":
        headers = {"x-padding": "p" * 40_000}
    else:
        headers = {f"x-padding-{i}": "p" * 100 for i in range(400)}
    response = post(http, body=call("echo", {"text": "a"}), headers=headers, session=False)
    assert response.status_code == 431


def test_a_request_head_arriving_in_pieces_is_cut_at_the_limit(
    shared_fleet: RunningFleet,
) -> None:
    # The head never ends: without a bound the front would buffer it forever.
    host, port = shared_fleet.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # Just past 32 KiB, then wait: all of it is read, so the close is clean (no RST).
        conn.sendall(b"".join(b"x-padding-%d: %s\r\n" % (i, b"p" * 1000) for i in range(34)))
        answer = conn.recv(1024)
    assert answer.startswith(b"HTTP/1.1 431"), answer


def test_request_head_within_the_limit_is_served(http: httpx.Client) -> None:
    headers = {"x-padding": "p" * 20_000}  # e.g. a large bearer token
    response = post(http, body=call("echo", {"text": "a"}), version="2025-06-18", headers=headers)
    assert response.status_code == 200, response.text


def test_wrong_accept_is_406(http: httpx.Client) -> None:
    response = post(http, body=call("echo", {"text": "a"}), headers={"accept": "application/json"})
    assert_error(response, 406, -32600, None)


def test_wrong_content_type_is_415(http: httpx.Client) -> None:
    response = post(http, body=call("echo", {"text": "a"}), headers={"content-type": "text/plain"})
    assert_error(response, 415, -32600, None)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "http://[::1"}, 403),  # malformed: cannot be allowed
        ({"origin": "http://localhost:3000"}, 200),
        ({"host": "evil.example"}, 421),  # a rebinding domain on a loopback bind
        ({"host": "localhost:9"}, 200),
    ],
)
def test_dns_rebinding_defences(http: httpx.Client, headers: dict[str, str], status: int) -> None:
    response = post(http, body=call("echo", {"text": "a"}), version="2025-06-18", headers=headers)
    if status == 200:
        assert response.status_code == 200
    else:
        assert_error(response, status, -32600, None)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_other_http_methods_are_405(http: httpx.Client, method: str) -> None:
    response = http.request(method, "/mcp", headers={"accept": ACCEPT})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, DELETE"


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_2026_is_post_only(http: httpx.Client, method: str) -> None:
    headers = {"accept": ACCEPT, "mcp-protocol-version": "2026-07-28"}
    response = http.request(method, "/mcp", headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == -32600


def test_notifications_and_posted_responses_are_acknowledged_202(http: httpx.Client) -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert post(http, body=note, version="2025-06-18").status_code == 202
    answer = {"jsonrpc": "2.0", "id": 9, "result": {}}
    assert post(http, body=answer, version="2025-06-18").status_code == 202
    assert (
        post(http, body=note, headers=modern_headers("notifications/initialized")).status_code
        == 202
    )


def test_modern_request_without_envelope_is_400_invalid_params(http: httpx.Client) -> None:
    body = {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {}}
    error = assert_error(
        post(http, body=body, headers=modern_headers("tools/list")), 400, -32602, 4
    )
    assert "_meta" in error["message"]
    partial = {
        "jsonrpc": "2.0",
        "id": 5,
        "method": "tools/list",
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}},
    }
    error = assert_error(
        post(http, body=partial, headers=modern_headers("tools/list")), 400, -32602, 5
    )
    assert "clientCapabilities" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"mcp-protocol-version": MODERN, "mcp-method": "tools/list", "mcp-name": "echo"},
        {"mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "other"},
        {"mcp-protocol-version": MODERN, "mcp-method": "tools/call"},
        {"mcp-protocol-version": MODERN, "mcp-method": "Tools/Call", "mcp-name": "echo"},
    ],
)
def test_routing_header_mismatch_is_32020(http: httpx.Client, headers: dict[str, str]) -> None:
    body = call("echo", {"text": "a"}, rid="h", meta=ENVELOPE)
    assert_error(post(http, body=body, headers=headers), 400, -32020, "h")


@pytest.mark.parametrize(
    ("method", "params", "name"),
    [
        ("resources/read", {"uri": "test://a"}, "test://b"),
        ("resources/read", {"uri": "test://a"}, None),
        ("prompts/get", {"name": "p"}, "q"),
    ],
)
def test_mcp_name_must_mirror_the_uri_or_name_of_reads_and_prompts(
    http: httpx.Client, method: str, params: dict[str, str], name: str | None
) -> None:
    body = {"jsonrpc": "2.0", "id": "n", "method": method, "params": {**params, "_meta": ENVELOPE}}
    error = assert_error(
        post(http, body=body, headers=modern_headers(method, name)), 400, -32020, "n"
    )
    assert "Mcp-Name" in str(error["message"])


def test_base64_encoded_mcp_name_matches(http: httpx.Client) -> None:
    body = call("echo", {"text": "a"}, meta=ENVELOPE)
    response = post(http, body=body, headers=modern_headers("tools/call", "=?base64?ZWNobw==?="))
    assert response.status_code == 200
    assert response.json()["result"]["content"][0]["text"] == "a"


def test_unsupported_modern_version_is_32022_listing_supported(http: httpx.Client) -> None:
    meta = {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}
    body = {"jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": {"_meta": meta}}
    headers = {"mcp-protocol-version": "2099-01-01", "mcp-method": "tools/list"}
    error = assert_error(post(http, body=body, headers=headers), 400, -32022, 6)
    assert error["data"]["requested"] == "2099-01-01"
    assert set(error["data"]["supported"]) == {"2025-03-26", "2025-06-18", "2025-11-25", MODERN}


def test_modern_envelope_without_header_is_a_header_mismatch(http: httpx.Client) -> None:
    assert_error(post(http, body=call("echo", {"text": "a"}, meta=ENVELOPE)), 400, -32020, 1)


def test_discover_and_health(http: httpx.Client, shared_fleet: RunningFleet) -> None:
    body = {"jsonrpc": "2.0", "id": "d", "method": "server/discover", "params": {"_meta": ENVELOPE}}
    result = post(http, body=body, headers=modern_headers("server/discover")).json()["result"]
    assert result["resultType"] == "complete"
    assert MODERN in result["supportedVersions"]
    assert isinstance(result["ttlMs"], int) and result["cacheScope"] in ("public", "private")
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "mcpfleet-demo"
    assert http.get("/health").json() == {"status": "ok"}
    for path in ("/ready", "/health/ready"):
        ready = http.get(path)
        assert ready.status_code == 200
        assert ready.json() == {
            "ready": True,
            "checks": {"draining": "no", "subscription": "ok", "redis": "ok", "workers": "2 alive"},
        }
    assert http.get("/nowhere").status_code == 404


def test_legacy_ping_and_initialize_counter_offer(http: httpx.Client) -> None:
    ping = post(http, body={"jsonrpc": "2.0", "id": 1, "method": "ping"}, version="2025-06-18")
    assert ping.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    client_info = {"name": "t", "version": "1"}
    params = {"protocolVersion": "2024-01-01", "capabilities": {}, "clientInfo": client_info}
    init = {"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": params}
    assert post(http, body=init).json()["result"]["protocolVersion"] == "2025-11-25"


@pytest.mark.parametrize("method", ["tools/list", "initialize", "ping"])
def test_headerless_request_with_a_modern_envelope_is_a_header_mismatch(
    http: httpx.Client, method: str
) -> None:
    body = {"jsonrpc": "2.0", "id": 8, "method": method, "params": {"_meta": ENVELOPE}}
    assert_error(post(http, body=body), 400, -32020, 8)


def test_invalid_utf8_in_modern_params_is_invalid_params(http: httpx.Client) -> None:
    body = (
        b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"ec\\xc3\\x28ho",'
        b'"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
        b'"io.modelcontextprotocol/clientCapabilities":{}}}}'
    ).replace(b"\\xc3\\x28", b"\xc3\x28")
    assert_error(
        post(http, body=body, headers=modern_headers("tools/call", "echo")), 400, -32602, 9
    )


def test_initialize_opens_a_session_that_requests_must_carry(http: httpx.Client) -> None:
    session_id = open_session(http, "2025-11-25")
    assert len(session_id) == 32 and all(c in "0123456789abcdef" for c in session_id)
    ok = post(http, body=call("echo", {"text": "a"}), version="2025-11-25", session=False,
              headers={"mcp-session-id": session_id})  # fmt: skip
    assert ok.json()["result"]["content"][0]["text"] == "a"
    missing = post(http, body=call("echo", {"text": "a"}), version="2025-11-25", session=False)
    assert_error(missing, 400, -32600, 1)
    unknown = post(http, body=call("echo", {"text": "a"}), version="2025-11-25", session=False,
                   headers={"mcp-session-id": "0" * 32})  # fmt: skip
    assert_error(unknown, 404, -32600, 1)
    garbage = post(http, body=call("echo", {"text": "a"}), version="2025-11-25", session=False,
                   headers={"mcp-session-id": "not-ours"})  # fmt: skip
    assert_error(garbage, 404, -32600, 1)


def test_delete_ends_the_session(http: httpx.Client) -> None:
    session_id = open_session(http, "2025-06-18")
    headers = {"accept": ACCEPT, "mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"}
    assert http.delete("/mcp", headers=headers).status_code == 200
    after = post(http, body=call("echo", {"text": "a"}), version="2025-06-18", session=False,
                 headers={"mcp-session-id": session_id})  # fmt: skip
    assert_error(after, 404, -32600, 1)
    assert_error(http.delete("/mcp", headers=headers), 404, -32600, None)
    assert_error(http.delete("/mcp", headers={"accept": ACCEPT}), 400, -32600, None)


def test_a_version_header_contradicting_the_session_is_400(http: httpx.Client) -> None:
    session_id = open_session(http, "2025-06-18")
    response = post(http, body=call("echo", {"text": "a"}), version="2025-11-25", session=False,
                    headers={"mcp-session-id": session_id})  # fmt: skip
    error = assert_error(response, 400, -32600, 1)
    assert "2025-06-18" in error["message"]


def test_the_session_remembers_the_negotiated_version(http: httpx.Client) -> None:
    # Header absent: the session's version (2025-06-18) applies, not 2025-03-26, so a
    # schema-invalid call is -32602 and structured content is allowed.
    session_id = open_session(http, "2025-06-18")
    response = post(http, body=call("cpu_burn", {"ms": 1}), session=False,
                    headers={"mcp-session-id": session_id})  # fmt: skip
    assert "structuredContent" in response.json()["result"]


def test_progress_turns_the_answer_into_an_sse_stream(http: httpx.Client) -> None:
    meta = {**ENVELOPE, "progressToken": "p-1"}
    body = call("sleep_progress", {"seconds": 0.2, "steps": 2}, rid="s", meta=meta)
    response = post(http, body=body, headers=modern_headers("tools/call", "sleep_progress"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-accel-buffering"] == "no"
    events = [
        json.loads(line[len("data: ") :])
        for line in response.text.split("\r\n")
        if line.startswith("data: ")
    ]
    assert [e.get("method") for e in events] == ["notifications/progress"] * 2 + [None]
    assert [e["params"]["progress"] for e in events[:2]] == [1, 2]
    assert all(e["params"]["progressToken"] == "p-1" for e in events[:2])
    assert events[-1]["id"] == "s"
    assert events[-1]["result"]["content"][0]["text"] == "slept 0.2 s in 2 steps"


@pytest.mark.parametrize(
    ("method", "params", "name"),
    [
        ("resources/list", {}, None),
        ("resources/templates/list", {}, None),
        ("prompts/list", {}, None),
        ("resources/read", {"uri": "test://a"}, "test://a"),
        ("prompts/get", {"name": "p"}, "p"),
        (
            "completion/complete",
            {"ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "a", "value": ""}},
            None,
        ),
    ],
)
def test_methods_of_capabilities_the_app_lacks_are_unknown(
    http: httpx.Client, method: str, params: dict[str, object], name: str | None
) -> None:
    # The demo app registers no resources, prompts or completions, and declares none.
    legacy = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    assert_error(post(http, body=legacy, version="2025-11-25"), 200, -32601, 1)
    modern = {"jsonrpc": "2.0", "id": 2, "method": method, "params": {**params, "_meta": ENVELOPE}}
    assert_error(post(http, body=modern, headers=modern_headers(method, name)), 404, -32601, 2)
