"""The security headers on every HTTP response of the front (ADR-0018, docs/security.md
"Response headers"), built once: JSON answers (``server/http_app.py``) and event streams
(``server.sse_response.SSE_HEADERS``) append the same tuples, so adding them costs no
work of ours per response; h11 validates each header it sends, about 0.4 µs apiece.

HSTS is only meaningful over TLS, which a TLS-terminating proxy in front of the fleet
provides: it is off unless ``front.hsts_max_age_s`` is set, and then added by wrapping the
ASGI ``send`` once per request (``server/http_app.py``), so a front without it pays
nothing.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NO_STORE", "RENDERING_HEADERS", "SECURITY_HEADERS", "hsts_header"]

NO_STORE: Final = (b"cache-control", b"no-store")
"""Neither a browser nor a proxy keeps an MCP answer (results may be a principal's data)."""

RENDERING_HEADERS: Final = [
    (b"x-content-type-options", b"nosniff"),
    # Nothing the front answers is a page: no script, style, frame or fetch may come from
    # it, and nobody may frame it. X-Frame-Options for browsers without frame-ancestors.
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
"""Every response: never sniffed into HTML, never framed, never a referrer."""

SECURITY_HEADERS: Final = [*RENDERING_HEADERS, NO_STORE]
"""What a JSON answer carries (an event stream has its own ``cache-control``)."""


def hsts_header(max_age_s: int) -> tuple[bytes, bytes] | None:
    """``Strict-Transport-Security`` for ``max_age_s`` (with subdomains); None when 0."""
    if max_age_s <= 0:
        return None
    return (b"strict-transport-security", b"max-age=%d; includeSubDomains" % max_age_s)
