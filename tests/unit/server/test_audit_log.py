"""server/audit_log.py: every audit line names its requester the same way (principal,
issuer, session, request id, client, in that order) and leaves out what is unknown
instead of writing it empty."""

from __future__ import annotations

import msgspec
from structlog.testing import capture_logs

from proto import Principal
from server.audit_log import Requester, audit


def lines_of(requester: Requester, event: str = "e", **fields: object) -> dict[str, object]:
    with capture_logs() as captured:
        requester.audit(event, **fields)
    (line,) = captured
    return line


def test_a_bearer_requester_is_named_with_its_issuer_session_request_and_client() -> None:
    bearer = Principal.bearer("alice", "https://idp.example", ("files:read",))
    principal = msgspec.structs.replace(bearer, session_id="s-1")
    requester = Requester(principal=principal, request_id="front-0-1", client="10.0.0.7")
    line = lines_of(requester, "limit.rejected", tool="echo", outcome="rejected")
    assert list(line) == [
        "audit", "principal", "issuer", "session_id", "request_id", "client", "tool",
        "outcome", "event", "log_level",
    ]  # fmt: skip
    assert line == {
        "audit": True,
        "principal": "bearer:alice",
        "issuer": "https://idp.example",
        "session_id": "s-1",
        "request_id": "front-0-1",
        "client": "10.0.0.7",
        "tool": "echo",
        "outcome": "rejected",
        "event": "limit.rejected",
        "log_level": "info",
    }
    assert "files:read" not in str(line)  # scopes are not the trail's business


def test_two_issuers_alices_are_told_apart() -> None:
    one = lines_of(Requester(principal=Principal.bearer("alice", "https://a.example", ())))
    two = lines_of(Requester(principal=Principal.bearer("alice", "https://b.example", ())))
    assert one["principal"] == two["principal"] == "bearer:alice"
    assert (one["issuer"], two["issuer"]) == ("https://a.example", "https://b.example")


def test_unknown_facts_are_left_out_never_empty() -> None:
    line = lines_of(
        Requester(principal=Principal.anonymous()), tool="", task_id="t", reason=None, n=0
    )
    assert line == {
        "audit": True, "principal": "anonymous", "task_id": "t", "n": 0, "event": "e",
        "log_level": "info",
    }  # fmt: skip


def test_a_refused_token_names_no_principal() -> None:
    line = lines_of(Requester(request_id="front-0-2", client="::1"), outcome="refused")
    assert line == {
        "audit": True, "request_id": "front-0-2", "client": "::1", "outcome": "refused",
        "event": "e", "log_level": "info",
    }  # fmt: skip


def test_the_stdio_user_and_the_operator() -> None:
    stdio = lines_of(Requester(principal=Principal.local("carol"), client="stdio"))
    assert (stdio["principal"], stdio["client"]) == ("local:carol", "stdio")
    operator = lines_of(Requester(principal=Principal(kind="operator", subject="root")))
    assert operator["principal"] == "operator:root"
    assert "client" not in operator and "issuer" not in operator


def test_audit_itself_writes_what_it_is_given() -> None:
    with capture_logs() as captured:
        audit("e", principal="p", outcome="o")
    assert captured == [
        {"audit": True, "principal": "p", "outcome": "o", "event": "e", "log_level": "info"}
    ]
