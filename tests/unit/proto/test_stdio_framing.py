"""stdio line framing: lines out of arbitrary chunks, bounded memory, resync after a line
that is too long, and the end of input."""

from __future__ import annotations

import pytest

from proto import (
    END_OF_INPUT,
    NEED_DATA,
    FramingEvent,
    Line,
    LineFramer,
    LineTooLong,
    LocalProtocolError,
)


def drain(framer: LineFramer) -> list[FramingEvent]:
    """Every event available now, ending with NEED_DATA or END_OF_INPUT."""
    events: list[FramingEvent] = []
    while True:
        event = framer.next_event()
        events.append(event)
        if event is NEED_DATA or event is END_OF_INPUT:
            return events


def feed(framer: LineFramer, *chunks: bytes) -> list[FramingEvent]:
    events: list[FramingEvent] = []
    for chunk in chunks:
        framer.receive_data(chunk)
        events += [e for e in drain(framer) if e is not NEED_DATA]
    return events


def test_lines_come_out_whatever_the_chunking() -> None:
    data = b'{"a":1}\n{"b":2}\n{"c":3}\n'
    for size in range(1, len(data) + 1):
        framer = LineFramer(100)
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert feed(framer, *chunks, b"") == [
            Line(b'{"a":1}'),
            Line(b'{"b":2}'),
            Line(b'{"c":3}'),
            END_OF_INPUT,
        ]


def test_crlf_blank_lines_and_an_unterminated_last_line() -> None:
    framer = LineFramer(100)
    assert feed(framer, b"one\r\n\n  \r\n\ttwo\nthree", b"") == [
        Line(b"one"),
        Line(b"\ttwo"),
        Line(b"three"),
        END_OF_INPUT,
    ]


def test_need_data_until_a_newline() -> None:
    framer = LineFramer(100)
    framer.receive_data(b'{"partial"')
    assert framer.next_event() is NEED_DATA
    framer.receive_data(b":1}\n")
    assert framer.next_event() == Line(b'{"partial":1}')
    assert framer.next_event() is NEED_DATA


def test_a_line_at_the_limit_passes_and_one_byte_more_does_not() -> None:
    framer = LineFramer(5)
    assert feed(framer, b"12345\n123456\nok\n") == [Line(b"12345"), LineTooLong(5), Line(b"ok")]


def test_a_long_line_is_reported_before_its_end_and_skipped_to_its_newline() -> None:
    framer = LineFramer(10)
    framer.receive_data(b"x" * 8)
    assert framer.next_event() is NEED_DATA
    framer.receive_data(b"x" * 8)
    # Known too long before any newline: reported once, right away.
    assert drain(framer) == [LineTooLong(10), NEED_DATA]
    for _ in range(100):  # a huge line keeps streaming in: nothing accumulates
        framer.receive_data(b"y" * 1000)
        assert drain(framer) == [NEED_DATA]
        assert len(framer._buffer) == 0
    assert feed(framer, b"yyy\nnext\n") == [Line(b"next")]


def test_memory_is_bounded_by_the_limit_plus_one_chunk() -> None:
    framer = LineFramer(1024)
    for _ in range(50):
        framer.receive_data(b"z" * 700)
        drain(framer)
        assert len(framer._buffer) <= 1024 + 700


def test_end_of_input_inside_a_skipped_line() -> None:
    framer = LineFramer(4)
    assert feed(framer, b"toolongline", b"") == [LineTooLong(4), END_OF_INPUT]


def test_end_of_input_with_nothing_pending() -> None:
    framer = LineFramer(4)
    assert feed(framer, b"") == [END_OF_INPUT]
    assert framer.next_event() is END_OF_INPUT


def test_data_after_the_end_is_a_local_error() -> None:
    framer = LineFramer(4)
    framer.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        framer.receive_data(b"late\n")


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LineFramer(0)
