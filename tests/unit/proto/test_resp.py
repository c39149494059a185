"""RESP helpers: command encoding and reading stream entries out of XREAD replies."""

from __future__ import annotations

import pytest

from proto import encode_command, stream_entries


def test_commands_are_resp_arrays_of_bulk_strings() -> None:
    assert encode_command(["XADD", b"k", 7, 1.5]) == (
        b"*4\r\n$4\r\nXADD\r\n$1\r\nk\r\n$1\r\n7\r\n$3\r\n1.5\r\n"
    )


def test_entries_of_an_xread_reply() -> None:
    reply = [
        [b"stream", [[b"1-0", [b"m", b"one"]], [b"2-0", [b"other", b"x", b"m", b"two"]]]],
    ]
    assert stream_entries(reply, b"m") == [(b"1-0", b"one"), (b"2-0", b"two")]


def test_a_timed_out_block_has_no_entries() -> None:
    assert stream_entries(None, b"m") == []


@pytest.mark.parametrize(
    "reply",
    [
        [b"garbage"],
        [[b"stream"]],
        [[b"stream", b"not a list"]],
        [[b"stream", [[b"1-0"]]]],
        [[b"stream", [[7, [b"m", b"x"]]]]],
        42,
    ],
)
def test_malformed_parts_are_skipped(reply: object) -> None:
    assert stream_entries(reply, b"m") == []


def test_an_entry_without_the_field_has_an_empty_value() -> None:
    assert stream_entries([[b"s", [[b"1-0", [b"x", b"y"]]]]], b"m") == [(b"1-0", b"")]
