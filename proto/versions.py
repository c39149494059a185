"""Protocol revisions mcpfleet serves, and how a revision is chosen.

Two eras (mcp-protocol.md section 1): the handshake era negotiates a version once in
``initialize``; the modern era (2026-07-28) names it on every request. Every version string
the code compares against is defined here and nowhere else.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "ALL_VERSIONS",
    "DEFAULT_HEADERLESS_VERSION",
    "HANDSHAKE_VERSIONS",
    "LATEST_HANDSHAKE_VERSION",
    "MODERN_VERSIONS",
    "Era",
    "allows_batches",
    "era_of",
    "negotiate_handshake_version",
    "sends_priming_events",
    "structured_content_is_object",
    "supports_icons",
    "supports_implementation_details",
    "supports_last_modified",
    "supports_resource_links",
    "supports_structured_content",
    "supports_tasks",
    "supports_titles",
    "validation_failure_is_tool_error",
]

V2025_03_26: Final = "2025-03-26"
V2025_06_18: Final = "2025-06-18"
V2025_11_25: Final = "2025-11-25"
V2026_07_28: Final = "2026-07-28"

HANDSHAKE_VERSIONS: Final[tuple[str, ...]] = (V2025_03_26, V2025_06_18, V2025_11_25)
"""Handshake-era revisions we serve, oldest first."""

MODERN_VERSIONS: Final[tuple[str, ...]] = (V2026_07_28,)
"""Modern-era (stateless) revisions we serve, oldest first."""

ALL_VERSIONS: Final[tuple[str, ...]] = HANDSHAKE_VERSIONS + MODERN_VERSIONS
"""Every revision served; what ``-32022`` and ``server/discover`` list (checklist 25)."""

LATEST_HANDSHAKE_VERSION: Final = V2025_11_25

DEFAULT_HEADERLESS_VERSION: Final = V2025_03_26
"""Assumed when an HTTP request has no MCP-Protocol-Version header (2025-06-18, transports)."""

# Every handshake-era revision, served or not: their requests take the handshake path, where
# an unserved one in a header is refused (we never negotiate it) and ``initialize`` (sent
# without the header) gets a counter-offer.
_LEGACY_KNOWN: Final = frozenset({"2024-11-05", *HANDSHAKE_VERSIONS})


class Era(enum.Enum):
    """Which protocol family a request belongs to."""

    HANDSHAKE = "handshake"
    MODERN = "modern"


def era_of(header_version: str | None) -> Era:
    """Route an HTTP request by its ``MCP-Protocol-Version`` header (checklist 41).

    Absent or any handshake-era value → handshake; anything else (including unknown
    strings, which the modern path then rejects with -32022) → modern.
    """
    if header_version is None or header_version in _LEGACY_KNOWN:
        return Era.HANDSHAKE
    return Era.MODERN


def negotiate_handshake_version(requested: str) -> str:
    """Answer an ``initialize``: echo a served version, else offer our latest (lifecycle 6.2)."""
    if requested in HANDSHAKE_VERSIONS:
        return requested
    return LATEST_HANDSHAKE_VERSION


def supports_structured_content(version: str) -> bool:
    """``structuredContent``/``outputSchema`` exist from 2025-06-18 on."""
    return version != V2025_03_26


def structured_content_is_object(version: str) -> bool:
    """2025-06-18 and 2025-11-25 require ``structuredContent`` to be a JSON object and an
    ``outputSchema`` rooted at ``type: object``; 2026-07-28 allows any JSON value (8.1, 8.2)."""
    return version in (V2025_06_18, V2025_11_25)


def supports_titles(version: str) -> bool:
    """``title`` on tools, resources, prompts and ``Implementation`` exists from 2025-06-18 on."""
    return version != V2025_03_26


def supports_last_modified(version: str) -> bool:
    """``lastModified`` in ``Annotations`` exists from 2025-06-18 on (``audience`` and
    ``priority`` since 2025-03-26)."""
    return version != V2025_03_26


def supports_implementation_details(version: str) -> bool:
    """``description``, ``icons`` and ``websiteUrl`` on ``Implementation`` (serverInfo)
    exist from 2025-11-25 on."""
    return version in (V2025_11_25, V2026_07_28)


def supports_icons(version: str) -> bool:
    """``icons`` on tools, resources and links exist from 2025-11-25 on."""
    return version in (V2025_11_25, V2026_07_28)


def supports_resource_links(version: str) -> bool:
    """``resource_link`` content blocks exist from 2025-06-18 on."""
    return version != V2025_03_26


def validation_failure_is_tool_error(version: str) -> bool:
    """SEP-1303 (2025-11-25 and later): schema-invalid arguments are a tool execution error."""
    return version in (V2025_11_25, V2026_07_28)


def sends_priming_events(version: str) -> bool:
    """2025-11-25 SSE streams open with a priming event (an id, empty data); older clients
    cannot parse empty data (mcp-protocol.md 4.2)."""
    return version == V2025_11_25


def supports_tasks(version: str) -> bool:
    """The experimental core tasks (``task`` param, ``tasks/*``, ``execution.taskSupport``)
    exist only in 2025-11-25 (mcp-protocol.md 10.1); 2026-07-28 has the tasks extension."""
    return version == V2025_11_25


def allows_batches(version: str) -> bool:
    """JSON-RPC batches exist only in 2025-03-26 (mcp-protocol.md 2.2)."""
    return version == V2025_03_26
