"""``Mcp-Name``/``Mcp-Param-*`` value decoding, including the ``=?base64?…?=`` sentinel."""

from __future__ import annotations

import base64

import pytest

from proto import decode_header_value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("echo", "echo"),
        ("get_weather.v2", "get_weather.v2"),
        ("", ""),
        ("  echo", "echo"),
        ("echo\t ", "echo"),
        ("\t echo \t", "echo"),
        ("two words", "two words"),
        ("=?base64?SGVsbG8", "=?base64?SGVsbG8"),  # no closing sentinel: a plain value
        ("SGVsbG8?=", "SGVsbG8?="),  # no opening sentinel: a plain value
    ],
)
def test_plain_values(raw: str, expected: str) -> None:
    assert decode_header_value(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, 世界"),
        ("=?base64?IHBhZGRlZCA=?=", " padded "),
        ("  =?base64?IHBhZGRlZCA=?=\t", " padded "),
        ("=?base64??=", ""),
    ],
)
def test_base64_sentinel_examples(raw: str, expected: str) -> None:
    assert decode_header_value(raw) == expected


@pytest.mark.parametrize("text", ["Hello, 世界", " padded ", "line\nbreak", "ünïcödé", "a"])
def test_base64_sentinel_round_trip(text: str) -> None:
    encoded = "=?base64?" + base64.b64encode(text.encode()).decode() + "?="
    assert decode_header_value(encoded) == text


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("=?base64?!!!!?=", id="not-base64"),
        pytest.param("=?base64?SGVsbG8?=", id="bad-padding"),
        pytest.param("=?base64?SGVsbG8===?=", id="extra-padding"),
        pytest.param("=?base64?SGVs bG8=?=", id="inner-space"),
        pytest.param("=?base64?/w==?=", id="not-utf8"),
        pytest.param("=?base64?wyg=?=", id="bad-utf8-sequence"),
        pytest.param("=?base64?é?=", id="non-ascii-payload"),
        pytest.param("=?base64?SGVsbG8=\xff?=", id="latin1-byte-in-payload"),
    ],
)
def test_malformed_sentinel_is_none(raw: str) -> None:
    assert decode_header_value(raw) is None


def test_overlapping_sentinel_is_not_an_empty_value() -> None:
    """``=?base64?=`` has no separate closing ``?=``; it must not decode to ``""``."""
    assert decode_header_value("=?base64?=") in (None, "=?base64?=")
