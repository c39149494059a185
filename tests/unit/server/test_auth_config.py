"""``AuthConfig``: each key checked alone, the keys checked together (``problem``), and
what they default to."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from proto import is_scope_token
from server.auth_config import AuthConfig

SECRET = "s" * 64
PROTECTED: dict[str, Any] = {"issuer": "https://i", "audience": "https://m/mcp"}
"""What every enabled configuration needs beside its keys: an audience to check, an
authorization server to name."""


def _convert(**fields: Any) -> AuthConfig:
    return msgspec.convert(fields, AuthConfig)


def test_off_by_default() -> None:
    config = AuthConfig()
    assert not config.enabled
    assert config.problem() is None
    assert config.allowed_algorithms == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"algorithms": ["none"]}, "'none' is never accepted"),
        ({"algorithms": "RS256,NONE"}, "'none' is never accepted"),
        ({"algorithms": ["HS1"]}, "unknown algorithm 'HS1'"),
        ({"jwt_secret": ""}, "jwt_secret is empty"),
        ({"jwks_url": "http://idp.example.com/jwks"}, "https://"),
        ({"jwks_url": "ftp://127.0.0.1/jwks"}, "https://"),
        ({"resource": "mcp.example.com/mcp"}, "absolute http(s) URL"),
        ({"resource": "https://mcp.example.com/mcp#x"}, "without a fragment"),
        ({"tool_scopes": {"deploy": ["ops write"]}}, "not an OAuth scope"),
        ({"scopes_supported": ['a"b']}, "not an OAuth scope"),
        ({"leeway_s": 301}, "<= 300"),
    ],
)
def test_each_key_is_checked_alone(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(
        msgspec.ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        _convert(**fields)


def test_algorithms_may_be_a_comma_or_space_separated_string() -> None:
    assert _convert(algorithms="RS256, ES256 EdDSA").algorithms == ("RS256", "ES256", "EdDSA")


def test_a_loopback_jwks_url_may_be_plain_http() -> None:
    assert _convert(jwks_url="http://127.0.0.1:8080/jwks").jwks_url is not None
    assert _convert(jwks_url="http://localhost/jwks").jwks_url is not None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"issuer": "https://i"}, "without a key"),
        ({"public_key_file": "k.pem", "jwks_url": "https://i/jwks"}, "not both"),
        ({"public_key_file": "k.pem", "algorithms": ["HS256", "RS256"]}, "(HS256) need jwt_secret"),
        ({"jwks_url": "https://i/jwks", "algorithms": ["HS256"]}, "need jwt_secret"),
        (
            {"jwt_secret": SECRET, "algorithms": ["RS256"]},
            "(RS256) need public_key_file or jwks_url",
        ),
        ({"jwt_secret": SECRET, "public_key_file": "k", "algorithms": ["RS256"]}, "no HS256"),
        ({"jwt_secret": SECRET, "public_key_file": "k", "algorithms": ["HS256"]}, "no RS*"),
        ({"jwt_secret": "s" * 31}, "31 bytes; HS256 takes a secret of at least 32"),
        (
            {"jwt_secret": "s" * 47, "algorithms": ["HS256", "HS384"]},
            "HS384 takes a secret of at least 48",
        ),
        ({"jwt_secret": "s" * 63, "algorithms": ["HS512"]}, "at least 64"),
    ],
)
def test_inconsistent_keys_are_refused_together(fields: dict[str, Any], problem: str) -> None:
    message = _convert(**fields).problem()
    assert message is not None and problem in message
    assert "s" * 31 not in message  # the secret is never quoted


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"jwt_secret": SECRET, "issuer": "https://i"}, "set audience"),
        ({"jwks_url": "https://i/jwks", "issuer": "https://i"}, "or resource"),
        ({"jwt_secret": SECRET, "issuer": "https://i"}, "insecure_skip_audience = true"),
        (
            {"jwt_secret": SECRET, "issuer": "https://i", "resource": "https://m/mcp",
             "insecure_skip_audience": True},
            "contradicts audience/resource",
        ),
        ({"jwt_secret": SECRET, "audience": "a"}, "set issuer"),
        ({"jwt_secret": SECRET, "resource": "https://m/mcp"}, "or authorization_servers"),
        ({"insecure_skip_audience": True}, "without a key"),
    ],
)  # fmt: skip
def test_a_protected_resource_needs_an_audience_and_an_authorization_server(
    fields: dict[str, Any], problem: str
) -> None:
    # mcp-protocol.md 11: tokens are checked to be issued for this server; the metadata
    # names at least one authorization server.
    message = _convert(**fields).problem()
    assert message is not None and problem in message


@pytest.mark.parametrize(
    "fields",
    [
        {"jwt_secret": SECRET, "issuer": "https://i", "audience": "a"},
        {"jwt_secret": SECRET, "issuer": "https://i", "resource": "https://m/mcp"},
        {"jwt_secret": SECRET, "authorization_servers": ["https://as"], "audience": ["a", "b"]},
        {"jwt_secret": SECRET, "issuer": "https://i", "insecure_skip_audience": True},
    ],
)
def test_the_ways_to_name_the_audience_and_the_authorization_server(
    fields: dict[str, Any],
) -> None:
    assert _convert(**fields).problem() is None


@pytest.mark.parametrize(
    ("fields", "algorithms"),
    [
        ({"jwt_secret": SECRET}, ("HS256",)),
        ({"public_key_file": "k.pem"}, ("RS256",)),
        ({"jwks_url": "https://i/jwks"}, ("RS256",)),
        ({"jwt_secret": SECRET, "jwks_url": "https://i/jwks"}, ("HS256", "RS256")),
        ({"jwks_url": "https://i/jwks", "algorithms": ["ES256", "EdDSA"]}, ("ES256", "EdDSA")),
    ],
)
def test_consistent_keys_and_their_algorithms(
    fields: dict[str, Any], algorithms: tuple[str, ...]
) -> None:
    config = _convert(**fields, **PROTECTED)
    assert config.enabled
    assert config.problem() is None
    assert config.allowed_algorithms == algorithms


def test_the_audience_defaults_to_the_resource_and_servers_to_the_issuer() -> None:
    config = _convert(jwt_secret=SECRET, issuer="https://i", resource="https://m/mcp")
    assert config.expected_audience == "https://m/mcp"
    assert config.metadata_servers == ("https://i",)
    explicit = _convert(
        jwt_secret=SECRET,
        issuer="https://i",
        audience=["a", "b"],
        resource="https://m/mcp",
        authorization_servers=["https://as"],
    )
    assert explicit.expected_audience == ("a", "b")
    assert explicit.metadata_servers == ("https://as",)
    assert _convert(jwt_secret=SECRET).expected_audience is None


@pytest.mark.parametrize(
    ("scope", "valid"),
    [("files:read", True), ("a/b.c-d_e~f", True), ("", False), ("a b", False), ('a"', False)],
)
def test_scope_tokens(scope: str, valid: bool) -> None:
    assert is_scope_token(scope) is valid
