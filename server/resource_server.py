"""The MCP endpoint as an OAuth 2.1 resource server (mcp-protocol.md 11, checklist 54-55;
ADR-0016): with ``[auth]`` on, every request to the MCP endpoint (POST, GET and DELETE, both
eras) carries ``Authorization: Bearer <JWT>``, checked before anything else of the
request's era; the protected-resource metadata (RFC 9728) is served at
``/.well-known/oauth-protected-resource`` and at that path followed by the endpoint's path.

A refusal is the spec's: 401 with ``WWW-Authenticate: Bearer resource_metadata="…",
scope="…"`` (plus ``error="invalid_token"`` and a description only when a token was
presented, RFC 6750 3.1) and a JSON-RPC error body (-31401, id null: the body is not read);
400 ``invalid_request`` for several ``Authorization`` headers. Each one is one
``auth.failed`` audit line (the reason, the client's address, the front's request id: never
the token) and counts in ``mcpfleet_auth_failures_total``.

The token is only ever read from the header (never the query string) and never leaves the
front: workers get the verified :class:`~proto.Principal`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final
from urllib.parse import urlsplit

import msgspec

from proto import (
    WELL_KNOWN_RESOURCE_PATH,
    WWW_AUTHENTICATE,
    AuthFailure,
    ForbiddenError,
    InvalidRequestError,
    Principal,
    ProtectedResourceMetadata,
    UnauthorizedError,
    bearer_challenge,
    resource_metadata_url,
)
from server.audit_log import Requester
from server.auth_config import AuthConfig
from server.http_request import HttpError, RequestHeaders
from server.jwt_auth import TokenVerifier
from server.metrics import FrontMetrics

__all__ = ["ResourceServer"]

_BEARER: Final = "bearer "
_CLOSE: Final = (b"connection", b"close")
_encoder: Final = msgspec.json.Encoder()


class ResourceServer:
    """Authenticates the requests of one front and describes it as a protected resource.

    Args:
        config: the ``[auth]`` settings (enabled).
        verifier: checks the tokens.
        mcp_path: the MCP endpoint's path (``front.path``).
        scopes: the scopes a 401 challenge asks for when ``scopes_supported`` is not set
            (every scope a tool requires).
        metrics: counts the refusals.

    Attributes:
        metadata_paths: where the metadata document is served.
    """

    def __init__(
        self,
        config: AuthConfig,
        verifier: TokenVerifier,
        *,
        mcp_path: str,
        scopes: Sequence[str],
        metrics: FrontMetrics,
    ) -> None:
        self._verifier = verifier
        self._metrics = metrics
        self._mcp_path = mcp_path
        self._resource = config.resource
        self._servers = list(config.metadata_servers)
        self._scopes = tuple(config.scopes_supported) or tuple(scopes)
        self._name = config.resource_name
        paths = {WELL_KNOWN_RESOURCE_PATH, WELL_KNOWN_RESOURCE_PATH + mcp_path.rstrip("/")}
        if config.resource is not None:
            # Behind a proxy that serves the endpoint under another path, clients ask for
            # the metadata at the public path's well-known URL.
            paths.add(WELL_KNOWN_RESOURCE_PATH + urlsplit(config.resource).path.rstrip("/"))
        self.metadata_paths = frozenset(paths)

    async def authenticate(
        self, headers: RequestHeaders, *, new_request_id: Callable[[], str]
    ) -> Principal:
        """The principal the request's bearer token vouches for.

        Raises:
            HttpError: 401 (no valid token) or 400 (several ``Authorization`` headers),
                with the challenge; audited and counted.
        """
        values = headers.authorization
        if len(values) > 1:
            raise self._refused(
                headers,
                UnauthorizedError(
                    AuthFailure.INVALID_REQUEST, "more than one Authorization header"
                ),
                request_id=new_request_id(),
            )
        token = _bearer_token(values[0]) if values else None
        try:
            if token is None:
                raise UnauthorizedError(
                    AuthFailure.MISSING,
                    "this server needs an Authorization: Bearer token",
                    token_presented=False,
                )
            return await self._verifier.verify(token)
        except UnauthorizedError as exc:
            raise self._refused(headers, exc, request_id=new_request_id()) from None

    def _refused(
        self, headers: RequestHeaders, error: UnauthorizedError, *, request_id: str
    ) -> HttpError:
        reason = AuthFailure(error.reason)
        # Nobody to name: the token that would have said who is missing or refused.
        Requester(request_id=request_id, client=headers.client).audit(
            "auth.failed", reason=reason.value, http_method=headers.http_method, outcome="refused"
        )
        self._metrics.auth_failed(reason)
        metadata_url = resource_metadata_url(self.resource_for(headers))
        # A POST's body is not read for a caller we refuse: the server closes the
        # connection after the answer, and says so, or the client would reuse it.
        closing = [_CLOSE] if headers.http_method == "POST" else []
        if reason is AuthFailure.INVALID_REQUEST:
            challenge = bearer_challenge(metadata_url=metadata_url, error="invalid_request")
            refusal = InvalidRequestError(f"Bad Request: {error.description}")
            return HttpError(400, refusal, headers=[(WWW_AUTHENTICATE, challenge), *closing])
        challenge = bearer_challenge(
            metadata_url=metadata_url,
            scopes=self._scopes,
            error="invalid_token" if error.token_presented else None,
            description=error.description if error.token_presented else None,
        )
        return HttpError(401, error, headers=[(WWW_AUTHENTICATE, challenge), *closing])

    def forbidden_challenge(self, headers: RequestHeaders, error: ForbiddenError) -> bytes:
        """The ``WWW-Authenticate`` of a 403: ``insufficient_scope`` with every scope the
        tool needs (a client stepping up asks for them all, keeping those it has)."""
        return bearer_challenge(
            metadata_url=resource_metadata_url(self.resource_for(headers)),
            scopes=error.required,
            error="insufficient_scope",
        )

    def resource_for(self, headers: RequestHeaders) -> str:
        """This endpoint's canonical URL: ``auth.resource``, or the request's scheme,
        ``Host`` and the front's path."""
        if self._resource is not None:
            return self._resource
        host = (headers.host or "localhost").strip().lower()
        return f"{headers.scheme}://{host}{self._mcp_path}"

    def metadata(self, headers: RequestHeaders) -> bytes:
        """The RFC 9728 document (``application/json``)."""
        return _encoder.encode(
            ProtectedResourceMetadata(
                resource=self.resource_for(headers),
                authorization_servers=self._servers,
                scopes_supported=list(self._scopes),
                resource_name=self._name,
            )
        )


def _bearer_token(value: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (the scheme is
    case-insensitive, RFC 9110 11.1); None for another scheme or no token."""
    if value[: len(_BEARER)].lower() != _BEARER:
        return None
    token = value[len(_BEARER) :].strip()
    return token or None
