"""Bearer-token authentication of the HTTP front (ADR-0016), against a real fleet configured
through the documented environment names (an HS256 development setup): every request to
the MCP endpoint needs a valid token (POST, GET and DELETE, both eras), each refusal is a 401
with the spec's challenge, a JSON-RPC body and one audit line, the protected-resource
metadata is served at both well-known URLs, and the probes stay open."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import MCPError

from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE, call, modern_headers
from tests.fixtures.bearer_http import bearer, challenge, official_client
from tests.fixtures.fleet import RunningFleet, module_fleet
from tests.fixtures.tokens import (
    AUDIENCE,
    ISSUER,
    SECRET,
    claims,
    hs256,
    public_pem,
    rsa_key,
    signed,
    unsigned,
)

AUTH_ENV = {
    "MCPFLEET_AUTH_JWT_SECRET": SECRET,
    "MCPFLEET_AUTH_ISSUER": ISSUER,
    "MCPFLEET_AUTH_AUDIENCE": AUDIENCE,
}
auth_fleet = module_fleet("examples.demo:app", env=AUTH_ENV, quiet=True)

WELL_KNOWN = "/.well-known/oauth-protected-resource"


@pytest.fixture
def http(auth_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with auth_fleet.http() as client:
        yield client


def _post(
    http: httpx.Client, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    all_headers = {"content-type": "application/json", "accept": ACCEPT, **(headers or {})}
    return http.post("/mcp", content=json.dumps(body).encode(), headers=all_headers)


def _modern_call(http: httpx.Client, token: str | None) -> httpx.Response:
    body = call("echo", {"text": "hi"}, meta=ENVELOPE)
    headers = modern_headers("tools/call", "echo")
    if token is not None:
        headers.update(bearer(token))
    return _post(http, body, headers)


def _open_session(http: httpx.Client, token: str) -> str:
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
    response = _post(http, init, bearer(token))
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


def _assert_401(response: httpx.Response, *, presented: bool) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    if response.request.method == "POST":  # its body was not read: the connection ends
        assert response.headers["connection"] == "close"
    params = challenge(response)
    origin = str(response.request.url).split("/mcp")[0]
    assert params["resource_metadata"] == f"{origin}{WELL_KNOWN}/mcp"
    assert ("error" in params) is presented
    if presented:
        assert params["error"] == "invalid_token"
        assert params["error_description"]
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == -31401
    assert body["error"]["message"].startswith("Unauthorized: ")
    return dict(body["error"])


def test_a_valid_token_is_served_in_both_eras(http: httpx.Client) -> None:
    modern = _modern_call(http, hs256())
    assert modern.status_code == 200, modern.text
    assert modern.json()["result"]["content"][0]["text"] == "hi"
    session = _open_session(http, hs256())
    headers = {"mcp-protocol-version": "2025-11-25", "mcp-session-id": session, **bearer(hs256())}
    legacy = _post(http, call("echo", {"text": "legacy"}), headers)
    assert legacy.status_code == 200, legacy.text
    assert legacy.json()["result"]["content"][0]["text"] == "legacy"


def test_no_token_is_401_without_an_error_code_on_every_method(http: httpx.Client) -> None:
    error = _assert_401(_modern_call(http, None), presented=False)
    assert error["data"] == {"reason": "missing"}
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}
    _assert_401(_post(http, init), presented=False)
    # GET (the session's stream) and DELETE are checked before their session is looked at.
    session = _open_session(http, hs256())
    session_headers = {"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
    _assert_401(http.get("/mcp", headers={**session_headers, "accept": ACCEPT}), presented=False)
    _assert_401(http.delete("/mcp", headers=session_headers), presented=False)
    # Another scheme is no bearer token either; nor is a token in the query string.
    _assert_401(_post(http, init, {"authorization": "Basic dXNlcjpwYXNz"}), presented=False)
    query = http.post(
        f"/mcp?access_token={hs256()}",
        content=json.dumps(init).encode(),
        headers={"content-type": "application/json", "accept": ACCEPT},
    )
    _assert_401(query, presented=False)
    # The session is still there for its owner: nothing reached it.
    still = http.delete("/mcp", headers={**session_headers, **bearer(hs256())})
    assert still.status_code == 200


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs256(lifetime_s=-120), "expired"),
        (hs256(secret=SECRET[::-1]), "signature"),
        (hs256(aud="https://elsewhere.test/mcp"), "audience"),
        (hs256(iss="https://evil.test"), "issuer"),
        (unsigned(), "algorithm"),
        (signed(rsa_key(), "RS256"), "algorithm"),
        (hs256(nbf=10**10), "not_yet_valid"),
        (hs256(sub=None), "claims"),
        ("garbage", "malformed"),
    ],
)
def test_an_invalid_token_is_401_invalid_token(
    auth_fleet: RunningFleet, http: httpx.Client, token: str, reason: str
) -> None:
    error = _assert_401(_modern_call(http, token), presented=True)
    assert error["data"] == {"error": "invalid_token", "reason": reason}
    auth_fleet.wait_for("auth.failed", reason=reason)
    # Never the token itself, in any process's log.
    assert not [line for line in auth_fleet.lines if token in line]


def test_an_hmac_token_keyed_with_a_public_key_pem_is_refused(http: httpx.Client) -> None:
    # HS256 is allowed here, but only the configured secret verifies it.
    from tests.fixtures.tokens import hmac_forged

    _assert_401(_modern_call(http, hmac_forged(public_pem(rsa_key()))), presented=True)


def test_each_refusal_is_one_audit_line_with_client_and_request_id(
    auth_fleet: RunningFleet, http: httpx.Client
) -> None:
    before = len(auth_fleet.find("auth.failed", reason="lifetime"))
    before_expired = len(auth_fleet.find("auth.failed"))
    _assert_401(_modern_call(http, hs256(lifetime_s=-200)), presented=True)
    auth_fleet.wait_for("auth.failed", count=before_expired + 1)
    line = auth_fleet.find("auth.failed")[-1]
    assert line["audit"] is True
    assert line["reason"] == "expired"
    assert line["client"] == "127.0.0.1"
    assert line["request_id"] and line["http_method"] == "POST"
    assert line["outcome"] == "refused"
    assert "principal" not in line  # the token that would say who was refused
    assert len(auth_fleet.find("auth.failed", reason="lifetime")) == before


def test_several_authorization_headers_are_a_bad_request(http: httpx.Client) -> None:
    response = http.post(
        "/mcp",
        content=json.dumps(call("echo", {"text": "x"}, meta=ENVELOPE)).encode(),
        headers=httpx.Headers(
            [
                ("content-type", "application/json"),
                ("accept", ACCEPT),
                *modern_headers("tools/call", "echo").items(),
                ("authorization", f"Bearer {hs256()}"),
                ("authorization", f"Bearer {hs256()}"),
            ]
        ),
    )
    assert response.status_code == 400
    assert challenge(response)["error"] == "invalid_request"
    assert response.json()["error"]["code"] == -32600


def test_the_metadata_is_served_at_both_well_known_urls(http: httpx.Client) -> None:
    root = http.get(WELL_KNOWN)
    suffixed = http.get(f"{WELL_KNOWN}/mcp")
    for response in (root, suffixed):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "resource": f"{str(http.base_url).rstrip('/')}/mcp",
            "authorization_servers": [ISSUER],
            "bearer_methods_supported": ["header"],
        }
    assert http.post(WELL_KNOWN).status_code == 405


def test_probes_and_metrics_stay_open(http: httpx.Client) -> None:
    _assert_401(_modern_call(http, None), presented=False)
    assert http.get("/health").status_code == 200
    assert http.get("/ready").status_code in (200, 503)
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert 'mcpfleet_auth_failures_total{reason="missing"}' in metrics.text


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_official_client_with_a_bearer_header(
    auth_fleet: RunningFleet, mode: str
) -> None:
    async with official_client(auth_fleet.url, hs256(), mode) as client:
        result = await client.call_tool("echo", {"text": "through mcp"})
    assert result.content[0].text == "through mcp"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_official_client_without_a_token_sees_the_refusal(
    auth_fleet: RunningFleet, mode: str
) -> None:
    # The refusal of the client's first request (discover or initialize) ends its session.
    with pytest.raises(Exception) as info:  # MCPError, maybe in a group
        async with official_client(auth_fleet.url, None, mode) as client:
            await client.call_tool("echo", {"text": "x"})
    error = _mcp_error(info.value)
    assert error.code == -31401
    assert "Bearer" in error.message


def _mcp_error(exc: BaseException) -> MCPError:
    if isinstance(exc, MCPError):
        return exc
    assert isinstance(exc, BaseExceptionGroup), exc
    (inner,) = exc.exceptions
    return _mcp_error(inner)


def test_claims_helper_defaults() -> None:
    # The tokens above rely on these defaults (issuer and audience of the fleet).
    assert claims()["iss"] == ISSUER and claims()["aud"] == AUDIENCE


def test_workers_never_hold_the_secret_and_no_command_line_shows_it(
    auth_fleet: RunningFleet,
) -> None:
    # Workers verify no token: their configuration lacks [auth], their environment the
    # MCPFLEET_AUTH_* variables, so tool code cannot read the secret. Fronts read theirs
    # from a private file named by path.
    workers, fronts = auth_fleet.worker_pids(), auth_fleet.front_pids()
    assert workers and fronts
    run_dir = Path(auth_fleet.data_dir).resolve() / "run"
    assert SECRET.encode() not in (run_dir / "worker.json").read_bytes()
    assert SECRET.encode() in (run_dir / "fleet.json").read_bytes()
    for pid in workers:
        assert SECRET.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        assert b"MCPFLEET_AUTH_" not in Path(f"/proc/{pid}/environ").read_bytes()
    for pid in [*workers, *fronts]:
        assert SECRET.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
