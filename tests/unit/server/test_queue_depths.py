"""The queue depths' arithmetic on Redis's own replies (server/queue_depths.py): the call
stream's backlog and calls taken from XLEN and XINFO GROUPS (Redis 6.2 and 7 shapes, and
the odd ones: no group, no stream, a non-list), stream ids, TIME, and an rq job's age from
its ``enqueued_at``."""

from __future__ import annotations

import datetime

import hiredis
from rq.utils import utcformat

from server.queue_depths import (
    CallBacklog,
    call_backlog,
    job_age_s,
    oldest_entry_age_s,
    redis_time_s,
    stream_id_after,
    stream_id_ms,
)


def group(name: bytes, pending: int, last: bytes, *, lag: int | None = None) -> list[object]:
    fields: list[object] = [b"name", name, b"consumers", 2, b"pending", pending,
                            b"last-delivered-id", last]  # fmt: skip
    if lag is not None:  # Redis 7 adds entries-read and lag
        fields += [b"entries-read", 10, b"lag", lag]
    return fields


def test_the_backlog_is_what_the_stream_holds_beyond_the_calls_taken() -> None:
    groups = [group(b"other", 0, b"0-0"), group(b"workers", 3, b"1700000000123-4")]
    assert call_backlog(5, groups) == CallBacklog(2, 3, b"1700000000123-4")
    assert call_backlog(3, [group(b"workers", 3, b"17-0", lag=0)]) == (0, 3, b"17-0")


def test_without_the_workers_group_every_entry_waits() -> None:
    assert call_backlog(4, []) == (4, 0, b"0-0")
    assert call_backlog(4, [b"not a group", group(b"other", 1, b"5-0")]) == (4, 0, b"0-0")
    assert call_backlog(None, None) == (0, 0, b"0-0")


def test_a_stream_that_is_gone_has_no_backlog() -> None:
    # XINFO GROUPS of a missing key fails; inside EXEC the error comes back as a value.
    assert call_backlog(0, hiredis.ReplyError("ERR no such key")) == (0, 0, b"0-0")


def test_a_backlog_never_goes_negative() -> None:
    # An entry deleted but not yet acknowledged (the two commands of one pipeline).
    assert call_backlog(2, [group(b"workers", 3, b"9-9")]) == (0, 3, b"9-9")


def test_odd_group_fields_read_as_nothing_taken() -> None:
    odd = [b"name", b"workers", b"pending", None, b"last-delivered-id", b"garbage"]
    assert call_backlog(2, [odd]) == (2, 0, b"0-0")


def test_stream_ids() -> None:
    assert stream_id_after(b"1700000000123-4") == b"1700000000123-5"
    assert stream_id_after(b"0-0") == b"0-1"
    assert stream_id_after(b"17") == b"17-1"
    assert stream_id_after(b"17-18446744073709551615") == b"18-0"  # the sequence is full
    assert stream_id_after(b"garbage") == b"0-1"
    assert stream_id_ms(b"1700000000123-4") == 1700000000123
    assert stream_id_ms(b"garbage") is None


def test_time_and_the_oldest_entry_age() -> None:
    now = redis_time_s([b"1700000001", b"500000"])
    assert now == 1700000001.5
    entries = [[b"1700000000000-0", [b"c", b"payload"]]]
    assert oldest_entry_age_s(entries, 1700000001.5) == 1.5
    assert oldest_entry_age_s(entries, 1699999999.0) == 0.0  # never negative
    assert oldest_entry_age_s([], 1700000001.5) == 0.0  # taken meanwhile
    assert oldest_entry_age_s(None, 1700000001.5) == 0.0
    assert oldest_entry_age_s([[b"garbage", []]], 1700000001.5) == 0.0
    assert redis_time_s(b"nonsense") is None
    assert redis_time_s([b"17", None]) is None
    assert redis_time_s([b"17", b"x"]) is None


def test_an_rq_jobs_age_from_its_enqueued_at() -> None:
    enqueued = datetime.datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=datetime.UTC)
    stamp = utcformat(enqueued).encode()  # rq's own format
    assert job_age_s(stamp, enqueued.timestamp() + 2) == 2.0
    assert job_age_s(b"2026-01-02T03:04:05Z", enqueued.timestamp() + 2) == 2.25  # rq's older one
    assert job_age_s(None, 1e9) == 0.0  # the job is gone
    assert job_age_s(b"", 1e9) == 0.0
    assert job_age_s(b"not a date", 1e9) == 0.0
    assert job_age_s(b"\xff\xfe", 1e9) == 0.0
    assert job_age_s(stamp, enqueued.timestamp() - 5) == 0.0  # clocks apart: never negative
