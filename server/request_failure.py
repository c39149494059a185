"""How a request that failed on our side is answered and logged, in every transport.

A refusal of the client's request (``RemoteProtocolError``), a limit's refusal
(``LimitExceededError``: audited and counted where it is made, ADR-0017), a task's own
error relayed by ``tasks/result`` (``TaskOutcomeError``) and the answer of a request the
front's shutdown ended (``ShuttingDownError``) are answered as they are and not logged one
by one.
Anything else is logged once, here, at the boundary of the request: a failure we relay (no
worker answered, a worker was lost) as a warning; Redis unreachable as a warning and
"Service unavailable" (HTTP 503); an unexpected exception as an error with its traceback,
answered with a bare -32603 "Internal error" (no internals leak to the client).
"""

from __future__ import annotations

import structlog

from proto import (
    BackendUnavailableError,
    LimitExceededError,
    LocalProtocolError,
    ProtocolError,
    RedisCommandError,
    RemoteProtocolError,
    ServiceUnavailableError,
    ShuttingDownError,
    TaskOutcomeError,
)

__all__ = ["failure_error", "unavailable_error"]

log = structlog.get_logger()


def failure_error(exc: Exception) -> ProtocolError:
    """The JSON-RPC error to answer a failed request with; logs it once (module docstring).

    Its ``http_status`` is what an HTTP transport answers with.
    """
    if isinstance(
        exc, RemoteProtocolError | LimitExceededError | TaskOutcomeError | ShuttingDownError
    ):
        return exc  # a shutdown's answers are counted once, by the front's drain
    if isinstance(exc, ProtocolError):
        log.warning("request.failed", error=exc.message, code=exc.code)
        return exc
    if isinstance(exc, BackendUnavailableError | RedisCommandError):
        log.warning("request.backend_unavailable", error=str(exc))
        return unavailable_error(exc)
    log.error("request.crashed", error_type=type(exc).__name__, exc_info=exc)
    return LocalProtocolError("Internal error")


def unavailable_error(exc: BackendUnavailableError | RedisCommandError) -> ServiceUnavailableError:
    """Redis could not serve this request: -32603 "Service unavailable", HTTP 503."""
    return ServiceUnavailableError("Service unavailable: " + str(exc))
