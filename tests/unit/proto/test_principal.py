"""``Principal``: what each transport sets, display names, and tolerant decoding."""

from __future__ import annotations

import msgspec
import pytest

from proto import Principal, PrincipalKind


def test_a_local_user() -> None:
    principal = Principal.local("alice")
    assert (principal.kind, principal.subject) == ("local", "alice")
    assert principal.name == "local:alice"
    assert principal.is_anonymous is False
    assert (principal.issuer, principal.session_id, principal.scopes) == ("", "", ())


@pytest.mark.parametrize("session_id", ["", "0123abcd"])
def test_an_anonymous_caller_keeps_its_session(session_id: str) -> None:
    principal = Principal.anonymous(session_id)
    assert principal.kind == PrincipalKind.ANONYMOUS
    assert principal.session_id == session_id
    assert principal.name == "anonymous"
    assert principal.is_anonymous is True


def test_it_is_a_small_array_on_the_wire_and_round_trips() -> None:
    principal = Principal.anonymous("s1")
    encoded = msgspec.json.encode(principal)
    assert encoded == b'["anonymous","","","s1",[]]'
    assert msgspec.json.decode(encoded, type=Principal) == principal


def test_a_newer_front_may_send_an_unknown_kind_and_more_fields() -> None:
    # Issue 7 adds a kind and may append fields: an older worker still decodes the call.
    decoded = msgspec.json.decode(
        b'["bearer","u-1","https://issuer","",["tools:read"],{"future":true}]', type=Principal
    )
    assert decoded.kind == "bearer"
    assert decoded.scopes == ("tools:read",)
    assert decoded.name == "bearer:u-1"
    assert decoded.is_anonymous is False


def test_it_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Principal.local("a").subject = "b"  # type: ignore[misc]


def test_a_bearer_principal_is_its_issuer_and_subject_together() -> None:
    alice = Principal.bearer("alice", "https://one.test", ("a",))
    assert alice.is_bearer and not alice.is_anonymous
    assert alice.name == "bearer:alice"
    assert alice.identity == 'bearer:["https://one.test","alice"]'
    # Another issuer's alice is someone else; other scopes or a session do not matter.
    assert Principal.bearer("alice", "https://two.test", ("a",)).identity != alice.identity
    same = msgspec.structs.replace(alice, scopes=("b",), session_id="s1")
    assert same.identity == alice.identity
    # Issuer and subject cannot be shifted into each other.
    assert Principal.bearer("b|c", "a", ()).identity != Principal.bearer("c", "a|b", ()).identity


def test_other_kinds_are_identified_by_their_name() -> None:
    assert Principal.local("alice").identity == "local:alice"
    assert Principal.anonymous("s1").identity == "anonymous"
