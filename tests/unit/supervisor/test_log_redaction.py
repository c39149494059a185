"""supervisor/log_redaction.py: secrets leave a log line by key name (top level, nested,
any case) and by shape (JWTs and bearer credentials in any string); nothing else changes,
and the caller's own data is never modified."""

from __future__ import annotations

import copy

import pytest

from supervisor.log_redaction import REDACTED, SecretRedactor

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJhbGljZSIsImV4cCI6MTg5MzQ1NjAwMH0"
    ".5mhBHqs5_DTLdINd9p5m7ZJ6XD0Xc55kIaCRY5r6HRA"
)


def redact(**event: object) -> dict[str, object]:
    return dict(SecretRedactor()(None, "info", dict(event)))


@pytest.mark.parametrize(
    "key",
    [
        "token", "access_token", "refreshToken", "secret", "client_secret", "password",
        "DB_PASSWORD", "passwd", "authorization", "Authorization", "api_key", "x-api-key",
        "apikey", "ApiKey", "cookie", "set-cookie", "credential", "credentials",
        "private_key", "privateKey",
    ],
)  # fmt: skip
def test_sensitive_names_are_redacted(key: str) -> None:
    assert redact(**{key: "hunter2", "event": "e"}) == {key: REDACTED, "event": "e"}


@pytest.mark.parametrize("key", ["event", "tool", "request_id", "principal", "user", "pid"])
def test_other_names_are_kept(key: str) -> None:
    assert redact(**{key: "hunter2"}) == {key: "hunter2"}


def test_nested_data_is_searched_and_copied() -> None:
    data = {
        "user": "alice",
        "credentials": {"password": "hunter2"},
        "rows": [{"passwd": "p1", "n": 1}, ("x", {"api-key": "k"})],
        "headers": {"Authorization": "Basic YWxpY2U6aHVudGVyMg==", "Accept": "*/*"},
    }
    original = copy.deepcopy(data)
    line = redact(event="tool.log", data=data)
    assert line["data"] == {
        "user": "alice",
        "credentials": REDACTED,
        "rows": [{"passwd": REDACTED, "n": 1}, ("x", {"api-key": REDACTED})],
        "headers": {"Authorization": REDACTED, "Accept": "*/*"},
    }
    assert data == original  # the handler's own dict is untouched


def test_clean_data_is_passed_through_as_is() -> None:
    data = {"rows": [1, 2, {"a": "b"}], "text": "plain"}
    assert redact(data=data)["data"] is data


def test_jwts_and_bearer_credentials_are_cut_out_of_any_text() -> None:
    line = redact(
        event=f"token for alice is {JWT}",
        note=f"header was Bearer {JWT}, done",
        opaque="Authorization: Bearer abc.DEF-123~xyz= trailing",
        nested={"list": [f"got {JWT}"]},
        jwe=f"{JWT}.aaaa.bbbb end",
    )
    assert line == {
        "event": f"token for alice is {REDACTED}",
        "note": f"header was Bearer {REDACTED}, done",
        "opaque": f"Authorization: Bearer {REDACTED} trailing",
        "nested": {"list": [f"got {REDACTED}"]},
        "jwe": f"{REDACTED} end",
    }


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_a_bearer_credential_is_cut_out_whatever_the_schemes_case(scheme: str) -> None:
    # The front accepts the scheme in any case (RFC 7235), so the rule does too; an opaque
    # credential (not a JWT) has only the scheme to give it away.
    text = f"Authorization: {scheme} abc.DEF-123~xyz= trailing"
    line = redact(event=text, nested={"list": [text]})
    expected = f"Authorization: {scheme} {REDACTED} trailing"
    assert line == {"event": expected, "nested": {"list": [expected]}}


def test_text_that_only_looks_close_is_kept() -> None:
    line = redact(event="eyJ alone", other="a bearer of news", n=3, flag=None)
    assert line == {"event": "eyJ alone", "other": "a bearer of news", "n": 3, "flag": None}


def test_nesting_past_the_bound_is_replaced_whole() -> None:
    deep: object = {"password": "hunter2"}
    for _ in range(40):
        deep = [deep]
    assert "hunter2" not in repr(redact(data=deep))


def test_non_string_keys_are_kept() -> None:
    assert redact(data={1: "x", None: "y"})["data"] == {1: "x", None: "y"}
