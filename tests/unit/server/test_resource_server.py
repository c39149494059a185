"""``ResourceServer``: which Authorization headers count as a bearer token, the challenge of
each refusal, the metadata document and where it is served (the fleet-level behaviour is in
tests/e2e/test_auth_http.py)."""

from __future__ import annotations

import json

import pytest

from proto import ForbiddenError, Principal
from server.auth_config import AuthConfig
from server.http_request import HttpError, RequestHeaders
from server.jwt_auth import TokenVerifier
from server.metrics import FrontMetrics
from server.resource_server import ResourceServer
from tests.fixtures.tokens import AUDIENCE, ISSUER, SECRET, hs256

CONFIG = AuthConfig(jwt_secret=SECRET, issuer=ISSUER, audience=AUDIENCE)


def _server(config: AuthConfig = CONFIG) -> ResourceServer:
    return ResourceServer(
        config,
        TokenVerifier(config),
        mcp_path="/mcp",
        scopes=("files:read",),
        metrics=FrontMetrics(["tools/call"]),
    )


def _headers(*authorization: str, host: str = "127.0.0.1:8000") -> RequestHeaders:
    raw = [(b"host", host.encode()), *((b"authorization", a.encode()) for a in authorization)]
    headers = RequestHeaders(raw, "127.0.0.1:5")
    headers.http_method = "POST"
    return headers


async def _refusal(server: ResourceServer, headers: RequestHeaders) -> HttpError:
    with pytest.raises(HttpError) as info:
        await server.authenticate(headers, new_request_id=lambda: "r-1")
    return info.value


@pytest.mark.parametrize("value", [f"Bearer {hs256()}", f"bearer {hs256()}", f"BEARER  {hs256()} "])
async def test_the_bearer_scheme_is_case_insensitive(value: str) -> None:
    principal = await _server().authenticate(_headers(value), new_request_id=lambda: "r")
    assert principal == Principal.bearer("alice", ISSUER, ())


@pytest.mark.parametrize("values", [(), ("Basic dXNlcjpwYXNz",), ("Bearer ",), ("Bearer",)])
async def test_no_bearer_token_is_a_401_without_an_error(values: tuple[str, ...]) -> None:
    refusal = await _refusal(_server(), _headers(*values))
    assert refusal.status == 401
    challenge = dict(refusal.headers)[b"www-authenticate"]
    assert challenge == (
        b'Bearer scope="files:read", '
        b'resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"'
    )
    assert dict(refusal.headers)[b"connection"] == b"close"


async def test_an_invalid_token_says_invalid_token_and_why() -> None:
    refusal = await _refusal(_server(), _headers(f"Bearer {hs256(lifetime_s=-300)}"))
    challenge = dict(refusal.headers)[b"www-authenticate"].decode()
    assert challenge.startswith('Bearer error="invalid_token", scope="files:read", ')
    assert challenge.endswith('error_description="the token has expired"')
    assert json.loads(refusal.render())["error"]["data"] == {
        "error": "invalid_token",
        "reason": "expired",
    }


async def test_several_authorization_headers_are_a_bad_request() -> None:
    refusal = await _refusal(_server(), _headers(f"Bearer {hs256()}", f"Bearer {hs256()}"))
    assert refusal.status == 400
    assert dict(refusal.headers)[b"www-authenticate"].startswith(b'Bearer error="invalid_request"')
    assert json.loads(refusal.render())["error"]["code"] == -32600


async def test_a_get_keeps_its_connection() -> None:
    headers = _headers()
    headers.http_method = "GET"
    refusal = await _refusal(_server(), headers)
    assert b"connection" not in dict(refusal.headers)


def test_the_metadata_of_a_configured_resource_is_served_at_its_paths_too() -> None:
    config = AuthConfig(
        jwks_url="https://login.example.com/jwks",
        issuer=ISSUER,
        resource="https://mcp.example.com/public/mcp",
        scopes_supported=("files:read", "files:write"),
        resource_name="Files",
    )
    server = _server(config)
    assert server.metadata_paths == {
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource/public/mcp",
    }
    assert json.loads(server.metadata(_headers())) == {
        "resource": "https://mcp.example.com/public/mcp",
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["files:read", "files:write"],
        "resource_name": "Files",
    }
    forbidden = ForbiddenError("w", ("files:read", "files:write"), ("files:write",))
    assert server.forbidden_challenge(_headers(), forbidden) == (
        b'Bearer error="insufficient_scope", scope="files:read files:write", '
        b'resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/'
        b'public/mcp"'
    )
