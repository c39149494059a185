"""The error tree: JSON-RPC codes and the HTTP status each error renders with."""

from __future__ import annotations

import pytest

from proto import (
    BackendUnavailableError,
    BodyTooLargeError,
    ErrorCode,
    FleetError,
    ForbiddenError,
    HeaderMismatchError,
    InvalidParamsError,
    InvalidRequestError,
    LimitExceededError,
    LocalProtocolError,
    MethodNotFoundError,
    MissingClientCapabilityError,
    OverloadedError,
    ParseError,
    ProtocolError,
    RateLimitedError,
    RemoteProtocolError,
    TooManyTasksError,
    UnauthorizedError,
    UnsupportedVersionError,
    http_status_for_code,
)


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (ProtocolError, -32603, 500),
        (RemoteProtocolError, -32600, 400),
        (LocalProtocolError, -32603, 500),
        (ParseError, -32700, 400),
        (InvalidRequestError, -32600, 400),
        (BodyTooLargeError, -32600, 413),
        (MethodNotFoundError, -32601, 404),
        (InvalidParamsError, -32602, 400),
        (HeaderMismatchError, -32020, 400),
        (MissingClientCapabilityError, -32021, 400),
        (UnsupportedVersionError, -32022, 400),
    ],
)
def test_class_code_and_status(cls: type[ProtocolError], code: int, status: int) -> None:
    err = cls("something went wrong", {"detail": 1})
    assert err.code == code
    assert err.http_status == status
    assert err.message == "something went wrong"
    assert str(err) == "something went wrong"
    assert err.data == {"detail": 1}
    assert isinstance(err, FleetError)
    assert isinstance(err, ProtocolError)


def test_data_defaults_to_none() -> None:
    assert InvalidParamsError("x").data is None


@pytest.mark.parametrize(
    "cls",
    [
        ParseError,
        InvalidRequestError,
        BodyTooLargeError,
        MethodNotFoundError,
        InvalidParamsError,
        HeaderMismatchError,
        MissingClientCapabilityError,
        UnsupportedVersionError,
    ],
)
def test_client_errors_are_remote(cls: type[ProtocolError]) -> None:
    assert issubclass(cls, RemoteProtocolError)
    assert not issubclass(cls, LocalProtocolError)


def test_backend_unavailable_is_not_a_protocol_error() -> None:
    err = BackendUnavailableError("redis down")
    assert isinstance(err, FleetError)
    assert not isinstance(err, ProtocolError)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (-32601, 404),
        (-32700, 400),
        (-32600, 400),
        (-32602, 400),
        (-32020, 400),
        (-32021, 400),
        (-32022, 400),
        (-32603, 500),
        (ErrorCode.METHOD_NOT_FOUND, 404),
        (ErrorCode.INVALID_PARAMS, 400),
        (ErrorCode.INTERNAL_ERROR, 500),
        (-32000, 500),
        (-32002, 500),
        (-32042, 500),
        (0, 500),
        (1, 500),
        (404, 500),
    ],
)
def test_http_status_for_code(code: int, status: int) -> None:
    assert http_status_for_code(code) == status


def test_retired_codes_are_not_emitted() -> None:
    assert {int(c) for c in ErrorCode} == {
        -32700,
        -32600,
        -32601,
        -32602,
        -32603,
        -32020,
        -32021,
        -32022,
        # mcpfleet's own, outside the JSON-RPC range (ADR-0016, ADR-0017)
        -31401,
        -31403,
        -31429,
        -31503,
    }


def test_auth_errors_carry_their_status_and_oauth_error() -> None:
    unauthorized = UnauthorizedError("expired", "the token has expired")
    assert (unauthorized.code, unauthorized.http_status) == (-31401, 401)
    assert unauthorized.data == {"error": "invalid_token", "reason": "expired"}
    missing = UnauthorizedError("missing", "no token", token_presented=False)
    assert missing.data == {"reason": "missing"}
    forbidden = ForbiddenError("deploy", ("ops:read", "ops:write"), ("ops:write",))
    assert (forbidden.code, forbidden.http_status) == (-31403, 403)
    assert forbidden.data == {
        "error": "insufficient_scope",
        "tool": "deploy",
        "requiredScopes": ["ops:read", "ops:write"],
        "missingScopes": ["ops:write"],
    }
    assert http_status_for_code(-31401) == 401 and http_status_for_code(-31403) == 403


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (ProtocolError, -32601, 404),
        (ProtocolError, -32602, 400),
        (ProtocolError, -32000, 500),
        (InvalidParamsError, -32603, 500),
        (LocalProtocolError, -32700, 400),
    ],
)
def test_code_override_sets_code_and_status_from_the_table(
    cls: type[ProtocolError], code: int, status: int
) -> None:
    err = cls("relayed", code=code)
    assert err.code == code
    assert err.http_status == status


def test_code_override_does_not_leak_into_the_class() -> None:
    ProtocolError("relayed", code=-32601)
    assert ProtocolError.code == -32603
    assert ProtocolError.http_status == 500
    assert ProtocolError("plain").code == -32603


@pytest.mark.parametrize(
    ("reply", "transient"),
    [
        ("LOADING Redis is loading the dataset in memory", True),
        ("BUSY Redis is busy running a script", True),
        ("READONLY You can't write against a read only replica.", True),
        ("MASTERDOWN Link with MASTER is down", True),
        ("TRYAGAIN Multiple keys request during rehashing", True),
        ("NOGROUP No such key 'x' or consumer group 'y'", False),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", False),
        ("NOSCRIPT No matching script", False),
    ],
)
def test_redis_error_replies_know_whether_to_retry(reply: str, transient: bool) -> None:
    from proto import RedisCommandError

    assert RedisCommandError(reply).is_transient is transient


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (RateLimitedError, -31429, 429),
        (TooManyTasksError, -31429, 429),
        (OverloadedError, -31503, 503),
    ],
)
def test_a_limits_refusal_carries_its_facts_in_data(
    cls: type[LimitExceededError], code: int, status: int
) -> None:
    err = cls("slow down", reason="rate_limited", retry_after_s=3, limit=10, reset_s=7, tool="t")
    assert (err.code, err.http_status) == (code, status)
    assert http_status_for_code(code) == status
    assert err.data == {
        "reason": "rate_limited",
        "retryAfter": 3,
        "limit": 10,
        "remaining": 0,
        "reset": 7,
        "tool": "t",
    }
    assert (err.retry_after_s, err.limit, err.remaining, err.reset_s) == (3, 10, 0, 7)


def test_a_refusal_that_is_no_buckets_has_no_bucket_facts() -> None:
    err = OverloadedError("full", reason="queue_full", retry_after_s=1, lane="calls")
    assert err.data == {"reason": "queue_full", "retryAfter": 1, "lane": "calls"}
    assert err.limit is None
