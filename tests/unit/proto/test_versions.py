"""Protocol revisions: era routing, handshake negotiation and per-revision features."""

from __future__ import annotations

import pytest

from proto import (
    ALL_VERSIONS,
    DEFAULT_HEADERLESS_VERSION,
    HANDSHAKE_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_VERSIONS,
    Era,
    era_of,
    negotiate_handshake_version,
    structured_content_is_object,
    supports_icons,
    supports_resource_links,
    supports_structured_content,
    validation_failure_is_tool_error,
)


def test_version_tables() -> None:
    assert HANDSHAKE_VERSIONS == ("2025-03-26", "2025-06-18", "2025-11-25")
    assert MODERN_VERSIONS == ("2026-07-28",)
    assert ALL_VERSIONS == HANDSHAKE_VERSIONS + MODERN_VERSIONS
    assert LATEST_HANDSHAKE_VERSION == "2025-11-25"
    assert DEFAULT_HEADERLESS_VERSION == "2025-03-26"


@pytest.mark.parametrize(
    ("header", "era"),
    [
        (None, Era.HANDSHAKE),
        ("2024-11-05", Era.HANDSHAKE),
        ("2025-03-26", Era.HANDSHAKE),
        ("2025-06-18", Era.HANDSHAKE),
        ("2025-11-25", Era.HANDSHAKE),
        ("2026-07-28", Era.MODERN),
        ("2099-01-01", Era.MODERN),
        ("garbage", Era.MODERN),
        ("", Era.MODERN),
        ("2025-06-18 ", Era.MODERN),
        ("2024-10-07", Era.MODERN),
    ],
)
def test_era_of(header: str | None, era: Era) -> None:
    assert era_of(header) is era


@pytest.mark.parametrize("version", HANDSHAKE_VERSIONS)
def test_negotiation_echoes_a_served_handshake_version(version: str) -> None:
    assert negotiate_handshake_version(version) == version


@pytest.mark.parametrize("requested", ["2024-11-05", "2026-07-28", "2099-01-01", "", "latest"])
def test_negotiation_counter_offers_the_latest_handshake_version(requested: str) -> None:
    assert negotiate_handshake_version(requested) == "2025-11-25"


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2025-03-26", False), ("2025-06-18", True), ("2025-11-25", True), ("2026-07-28", True)],
)
def test_supports_structured_content(version: str, expected: bool) -> None:
    assert supports_structured_content(version) is expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2025-03-26", False), ("2025-06-18", False), ("2025-11-25", True), ("2026-07-28", True)],
)
def test_validation_failure_is_tool_error(version: str, expected: bool) -> None:
    assert validation_failure_is_tool_error(version) is expected


@pytest.mark.parametrize(
    ("version", "links", "icons", "object_only"),
    [
        ("2025-03-26", False, False, False),
        ("2025-06-18", True, False, True),
        ("2025-11-25", True, True, True),
        ("2026-07-28", True, True, False),
    ],
)
def test_content_and_listing_features_per_version(
    version: str, links: bool, icons: bool, object_only: bool
) -> None:
    assert supports_resource_links(version) is links
    assert supports_icons(version) is icons
    assert structured_content_is_object(version) is object_only
