"""The address an HTTP request comes from, as the limits key an anonymous caller by it
(ADR-0017): the TCP peer's, or, behind trusted proxies, the one the outermost of them saw.
"""

from __future__ import annotations

from typing import Final

from server.sse_response import Scope

__all__ = ["client_address"]

_FORWARDED_FOR: Final = b"x-forwarded-for"


def client_address(scope: Scope, trusted_proxy_hops: int = 0) -> str:
    """The caller's address: the TCP peer's host ("" when the server knows none); with
    ``trusted_proxy_hops`` N > 0, the Nth ``X-Forwarded-For`` entry from the right, the
    one the outermost trusted proxy appended (entries left of it are the client's to
    forge). A request with fewer entries did not come through the proxies: its peer."""
    peer = scope.get("client")
    host = str(peer[0]) if peer else ""
    if not trusted_proxy_hops:
        return host
    entries: list[str] = []
    for name, value in scope["headers"]:
        if name == _FORWARDED_FOR:
            entries += [part.strip() for part in value.decode("latin-1").split(",")]
    if len(entries) < trusted_proxy_hops:
        return host
    return entries[-trusted_proxy_hops] or host
