"""The one error tree of mcpfleet, rooted at :class:`FleetError`.

``RemoteProtocolError`` means the peer misbehaved and becomes a JSON-RPC error reply;
``LocalProtocolError`` means we did and becomes -32603/500. Each class names its JSON-RPC
``code`` and the ``http_status`` the 2026-07-28 status table prescribes (mcp-protocol.md 5.4);
one renderer per transport turns them into bytes.
"""

from __future__ import annotations

from proto.error_codes import ErrorCode

__all__ = [
    "BackendUnavailableError",
    "BodyTooLargeError",
    "FleetError",
    "ForbiddenError",
    "HeaderMismatchError",
    "InvalidParamsError",
    "InvalidRequestError",
    "LimitExceededError",
    "LocalProtocolError",
    "MethodNotFoundError",
    "MissingClientCapabilityError",
    "OverloadedError",
    "ParseError",
    "ProtocolError",
    "RateLimitedError",
    "RedisCommandError",
    "RemoteProtocolError",
    "ServiceUnavailableError",
    "ShuttingDownError",
    "TaskNotFoundError",
    "TaskOutcomeError",
    "TooManyTasksError",
    "UnauthorizedError",
    "UnsupportedVersionError",
    "http_status_for_code",
]


class FleetError(Exception):
    """Root of every error mcpfleet raises on purpose."""


class ProtocolError(FleetError):
    """An error that has a JSON-RPC rendering.

    Subclasses set ``code`` and ``http_status`` as class defaults; an error relayed from
    elsewhere (a worker's reply) passes its own ``code``, and its status follows the table.

    Args:
        message: human-readable text sent to the client.
        data: optional JSON-serialisable ``error.data``.
        code: overrides the class's JSON-RPC code.
    """

    code: int = ErrorCode.INTERNAL_ERROR
    http_status: int = 500

    def __init__(self, message: str, data: object = None, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        if code is not None:
            self.code = code
            self.http_status = http_status_for_code(code)


_STATUS_BY_CODE: dict[int, int] = {
    ErrorCode.PARSE_ERROR: 400,
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.METHOD_NOT_FOUND: 404,
    ErrorCode.INVALID_PARAMS: 400,
    ErrorCode.HEADER_MISMATCH: 400,
    ErrorCode.MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.OVERLOADED: 503,
}


def http_status_for_code(code: int) -> int:
    """The 2026-07-28 HTTP status of a JSON-RPC error code (mcp-protocol.md 5.4): client
    errors 400, unknown method 404, our auth's 401 and 403 (ADR-0016) and limits' 429 and
    503 (ADR-0017), anything else
    (internal errors) 500."""
    return _STATUS_BY_CODE.get(code, 500)


class TaskOutcomeError(ProtocolError):
    """The JSON-RPC error a task ended with, as 2025-11-25 ``tasks/result`` relays it
    (mcp-protocol.md 10.1). Whatever its code, the retrieval itself succeeded: HTTP
    answers 200 and the front logs nothing (the task's end was logged where it happened).
    """

    def __init__(self, message: str, data: object = None, *, code: int | None = None) -> None:
        super().__init__(message, data, code=code)
        self.http_status = 200


class RemoteProtocolError(ProtocolError):
    """The peer sent something we must refuse."""

    code: int = ErrorCode.INVALID_REQUEST
    http_status = 400


class LocalProtocolError(ProtocolError):
    """We broke an invariant: rendered as -32603 and logged with a traceback."""

    code = ErrorCode.INTERNAL_ERROR
    http_status = 500


class ParseError(RemoteProtocolError):
    """Not JSON (-32700)."""

    code = ErrorCode.PARSE_ERROR
    http_status = 400


class InvalidRequestError(RemoteProtocolError):
    """JSON, but not one valid JSON-RPC message (-32600)."""

    code = ErrorCode.INVALID_REQUEST
    http_status = 400


class BodyTooLargeError(RemoteProtocolError):
    """A message over the configured size limit (HTTP 413)."""

    code = ErrorCode.INVALID_REQUEST
    http_status = 413


class MethodNotFoundError(RemoteProtocolError):
    """Unknown method, or not defined at the request's version (-32601; 404 at 2026-07-28)."""

    code = ErrorCode.METHOD_NOT_FOUND
    http_status = 404


class InvalidParamsError(RemoteProtocolError):
    """Malformed params, unknown tool, bad cursor, missing 2026 envelope (-32602)."""

    code = ErrorCode.INVALID_PARAMS
    http_status = 400


class TaskNotFoundError(InvalidParamsError):
    """No such task for this caller (-32602): never created, expired, or another owner's;
    the three are answered alike so an id reveals nothing (ADR-0011)."""

    def __init__(self, message: str = "Task not found") -> None:
        super().__init__(message)


class HeaderMismatchError(RemoteProtocolError):
    """A 2026-07-28 routing header missing, duplicated or not matching the body (-32020)."""

    code = ErrorCode.HEADER_MISMATCH
    http_status = 400


class MissingClientCapabilityError(RemoteProtocolError):
    """The request needs a client capability it did not declare (-32021)."""

    code = ErrorCode.MISSING_REQUIRED_CLIENT_CAPABILITY
    http_status = 400


class UnsupportedVersionError(RemoteProtocolError):
    """A protocol version we do not serve (-32022; ``data`` lists the supported ones)."""

    code = ErrorCode.UNSUPPORTED_PROTOCOL_VERSION
    http_status = 400


class UnauthorizedError(RemoteProtocolError):
    """No valid bearer token (HTTP 401, -31401; ADR-0016). ``reason`` is one of a few fixed
    words (``missing``, ``expired``, ``signature``, ...): the audit field and metric label,
    never anything from the token. ``token_presented`` decides whether the challenge says
    ``error="invalid_token"`` (RFC 6750 3.1: not when no token was sent); ``description``
    (the message without its prefix) becomes its ``error_description``."""

    code = ErrorCode.UNAUTHORIZED
    http_status = 401

    def __init__(self, reason: str, message: str, *, token_presented: bool = True) -> None:
        data = (
            {"error": "invalid_token", "reason": reason} if token_presented else {"reason": reason}
        )
        super().__init__(f"Unauthorized: {message}", data)
        self.description = message
        self.reason = reason
        self.token_presented = token_presented


class ForbiddenError(RemoteProtocolError):
    """The caller's token lacks a scope the tool requires (HTTP 403, -31403,
    ``insufficient_scope``; ADR-0016). ``required`` are all the scopes the tool needs (a
    client stepping up asks for them all), ``missing`` those the token lacks."""

    code = ErrorCode.FORBIDDEN
    http_status = 403

    def __init__(self, tool: str, required: tuple[str, ...], missing: tuple[str, ...]) -> None:
        super().__init__(
            f"Forbidden: tool {tool!r} requires the scopes {' '.join(required)!r}; the token "
            f"lacks {' '.join(missing)!r}",
            {
                "error": "insufficient_scope",
                "tool": tool,
                "requiredScopes": list(required),
                "missingScopes": list(missing),
            },
        )
        self.tool = tool
        self.required = required
        self.missing = missing


class ServiceUnavailableError(ProtocolError):
    """We cannot serve right now (Redis unreachable): -32603, HTTP 503; retrying later may
    succeed."""

    code = ErrorCode.INTERNAL_ERROR
    http_status = 503


class ShuttingDownError(ServiceUnavailableError):
    """The front is shutting down and its grace period ended before this request did:
    -32603 "The server is shutting down", HTTP 503 with ``Retry-After``. The request may
    have run in part; another front, or this one once restarted, serves a retry."""

    def __init__(self) -> None:
        super().__init__("The server is shutting down", {"reason": "shutting_down"})


class LimitExceededError(ProtocolError):
    """A limit refused the request before anything was queued (ADR-0017). HTTP answers
    with its status and ``Retry-After`` (whole seconds), plus ``X-RateLimit-*`` for a
    token bucket; every transport sends the JSON-RPC error with the same facts in
    ``data``: ``reason``, ``retryAfter`` and, for a bucket, ``limit`` (its burst),
    ``remaining`` (whole tokens left) and ``reset`` (seconds until it is full again).
    A refusal is audited and counted where it is made, never logged as a failure.

    Args:
        message: human-readable text sent to the client.
        reason: which limit (``proto.RejectionReason``).
        retry_after_s: when a retry may succeed, in whole seconds (at least 1).
        limit: a bucket's burst (None: not a bucket).
        remaining: whole tokens left in it.
        reset_s: seconds until it is full again.
        detail: more facts for ``data`` (``tool``, ``lane``).
    """

    code = ErrorCode.RATE_LIMITED
    http_status = 429

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        retry_after_s: int,
        limit: int | None = None,
        remaining: int = 0,
        reset_s: int = 0,
        **detail: str | int,
    ) -> None:
        data: dict[str, str | int] = {"reason": reason, "retryAfter": retry_after_s}
        if limit is not None:
            data.update(limit=limit, remaining=remaining, reset=reset_s)
        data.update(detail)
        super().__init__(message, data)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.limit = limit
        self.remaining = remaining
        self.reset_s = reset_s


class RateLimitedError(LimitExceededError):
    """A token bucket the request needs is empty: the caller's, its tool's or the
    fleet's (``mcpfleet`` code -31429, HTTP 429)."""


class TooManyTasksError(LimitExceededError):
    """The caller has as many unfinished tasks as it may (-31429, HTTP 429)."""


class OverloadedError(LimitExceededError):
    """The lane the request needs holds as much waiting work as it may (``mcpfleet``
    code -31503, HTTP 503): nothing was queued."""

    code = ErrorCode.OVERLOADED
    http_status = 503


class BackendUnavailableError(FleetError):
    """Redis (or another backing service) could not be reached or answered wrongly."""


class RedisCommandError(FleetError):
    """Redis answered a command with an error reply (``NOGROUP``, ``NOSCRIPT``, ``LOADING``…);
    the message is Redis's own."""

    @property
    def is_transient(self) -> bool:
        """Redis is up but not serving yet (replaying its AOF, failing over, busy with a
        script): retry later, as for an unreachable Redis."""
        return str(self).split(" ", 1)[0] in _TRANSIENT_REPLIES


_TRANSIENT_REPLIES = frozenset({"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY"})
