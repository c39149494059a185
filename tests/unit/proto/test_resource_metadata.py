"""RFC 9728 metadata and ``WWW-Authenticate: Bearer`` challenges (mcp-protocol.md 11)."""

from __future__ import annotations

import msgspec

from proto import ProtectedResourceMetadata, bearer_challenge, resource_metadata_url


def test_the_metadata_url_puts_the_well_known_path_before_the_resource_path() -> None:
    assert (
        resource_metadata_url("https://example.com/public/mcp")
        == "https://example.com/.well-known/oauth-protected-resource/public/mcp"
    )
    assert (
        resource_metadata_url("http://127.0.0.1:8000/mcp/")
        == "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"
    )
    assert (
        resource_metadata_url("https://example.com")
        == "https://example.com/.well-known/oauth-protected-resource"
    )


def test_a_401_challenge_without_a_token_has_no_error() -> None:
    challenge = bearer_challenge(metadata_url="https://m/.well-known/x", scopes=("a", "b:c"))
    assert challenge == b'Bearer scope="a b:c", resource_metadata="https://m/.well-known/x"'


def test_a_challenge_with_an_error_and_a_description() -> None:
    challenge = bearer_challenge(
        metadata_url="https://m/x", error="invalid_token", description="the token has expired"
    )
    assert challenge == (
        b'Bearer error="invalid_token", resource_metadata="https://m/x", '
        b'error_description="the token has expired"'
    )


def test_quotes_and_controls_cannot_break_out_of_a_value() -> None:
    challenge = bearer_challenge(metadata_url='https://evil"host\r\nX: y/\\')
    assert challenge == b'Bearer resource_metadata="https://evil\\"hostX: y/\\\\"'


def test_the_document_leaves_out_what_is_not_set() -> None:
    document = ProtectedResourceMetadata(
        resource="https://m/mcp", authorization_servers=["https://as"]
    )
    assert msgspec.json.decode(msgspec.json.encode(document)) == {
        "resource": "https://m/mcp",
        "authorization_servers": ["https://as"],
        "bearer_methods_supported": ["header"],
    }
