"""OAuth protected-resource metadata (RFC 9728) and the ``WWW-Authenticate: Bearer``
challenges of an MCP server acting as an OAuth resource server (mcp-protocol.md 11,
checklist 54; ADR-0016).

- The metadata document lives at ``/.well-known/oauth-protected-resource`` followed by the
  resource's path (RFC 9728 3.1: ``https://host/mcp`` → ``https://host/.well-known/
  oauth-protected-resource/mcp``); servers serve it at the root well-known URL too.
- A 401 challenge names the metadata (``resource_metadata``) and the scopes to ask for
  (``scope``), and says ``error="invalid_token"`` only when a token was presented (RFC 6750
  3.1); a 403 challenge says ``error="insufficient_scope"`` with the scopes needed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

import msgspec

__all__ = [
    "WELL_KNOWN_RESOURCE_PATH",
    "WWW_AUTHENTICATE",
    "ProtectedResourceMetadata",
    "bearer_challenge",
    "is_scope_token",
    "resource_metadata_url",
]

WELL_KNOWN_RESOURCE_PATH: Final = "/.well-known/oauth-protected-resource"
"""Where RFC 9728 puts the metadata (the resource's path, if any, follows it)."""

WWW_AUTHENTICATE: Final = b"www-authenticate"

_UNQUOTABLE: Final = re.compile(r'[\x00-\x1f\x7f"\\]')
_SCOPE_TOKEN: Final = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
"""RFC 6749 3.3 ``scope-token``: visible ASCII but space, ``"`` and ``\\``."""


def is_scope_token(scope: str) -> bool:
    """Whether ``scope`` is one OAuth scope (RFC 6749 3.3: visible ASCII, no space, quote or
    backslash), as a ``scope="…"`` challenge can carry it."""
    return bool(_SCOPE_TOKEN.match(scope))


class ProtectedResourceMetadata(msgspec.Struct, frozen=True, omit_defaults=True):
    """The RFC 9728 document (``application/json``). MCP requires at least one
    ``authorization_servers`` entry (mcp-protocol.md 11)."""

    resource: str
    authorization_servers: list[str]
    bearer_methods_supported: list[str] = msgspec.field(default_factory=lambda: ["header"])
    """Tokens only ever come in the ``Authorization`` header (never the query string)."""
    scopes_supported: list[str] = msgspec.field(default_factory=list)
    resource_name: str | None = None


def resource_metadata_url(resource: str) -> str:
    """The path-suffixed well-known URL of ``resource``'s metadata (RFC 9728 3.1)."""
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_RESOURCE_PATH}{path}"


def _quoted(value: str) -> str:
    """A ``quoted-string`` (RFC 9110 5.6.4) of ``value``, control characters dropped."""
    return '"' + _UNQUOTABLE.sub(lambda m: _escape(m.group()), value) + '"'


def _escape(char: str) -> str:
    return "\\" + char if char in '"\\' else ""


def bearer_challenge(
    *,
    metadata_url: str,
    scopes: Sequence[str] = (),
    error: str | None = None,
    description: str | None = None,
) -> bytes:
    """A ``WWW-Authenticate`` value: ``Bearer error="…", scope="…", resource_metadata="…"``
    (the error and scope parameters only when given)."""
    params: list[str] = []
    if error is not None:
        params.append(f"error={_quoted(error)}")
    if scopes:
        params.append(f"scope={_quoted(' '.join(scopes))}")
    params.append(f"resource_metadata={_quoted(metadata_url)}")
    if description is not None:
        params.append(f"error_description={_quoted(description)}")
    return ("Bearer " + ", ".join(params)).encode("latin-1", "replace")
