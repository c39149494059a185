"""``CallLog``: every entry to the worker's log, the client's level filter, the rate and
size bounds, the dropped-entries report, thread safety."""

from __future__ import annotations

import json
import threading

import pytest
from structlog.testing import capture_logs

from proto import LOG_LEVELS
from workers.call_log import MAX_CLIENT_DATA_BYTES, CallLog

Sent = list[tuple[str, str | None, object]]


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _log(
    sent: Sent | None = None,
    *,
    minimum: str | None = "debug",
    per_second: int = 50,
    clock: Clock | None = None,
) -> CallLog:
    def sink(level: str, logger: str | None, data: bytes) -> None:
        assert sent is not None
        sent.append((level, logger, json.loads(data)))

    return CallLog(
        tool="t",
        request_id="req-1",
        call_id=7,
        principal="local:alice",
        minimum=minimum,
        sink=None if sent is None else sink,
        per_second=per_second,
        clock=clock or Clock(),
    )


def test_an_entry_goes_to_the_client_with_the_tool_as_logger() -> None:
    sent: Sent = []
    _log(sent).write("info", "hello")
    assert sent == [("info", "t", "hello")]


def test_data_goes_beside_the_message() -> None:
    sent: Sent = []
    _log(sent).write("notice", "step", {"n": 1, "items": [1, 2]})
    assert sent == [("notice", "t", {"message": "step", "data": {"n": 1, "items": [1, 2]}})]


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def test_data_json_has_no_type_for_is_sent_as_its_repr() -> None:
    sent: Sent = []
    _log(sent).write("info", "odd", {"thing": Opaque(), "tags": {"a"}})
    assert sent == [("info", "t", {"message": "odd", "data": {"thing": "<opaque>", "tags": ["a"]}})]


def test_data_that_cannot_be_encoded_at_all_is_left_out() -> None:
    sent: Sent = []
    cycle: list[object] = []
    cycle.append(cycle)
    _log(sent, minimum="info").write("info", "a cycle", cycle)
    assert len(sent) == 1
    text = sent[0][2]
    assert isinstance(text, str) and text.startswith("a cycle [log data not sent:")


def test_entries_below_the_clients_level_stay_in_the_worker() -> None:
    sent: Sent = []
    log = _log(sent, minimum="warning")
    for level in LOG_LEVELS:
        log.write(level, level)
    assert [level for level, _, _ in sent] == list(LOG_LEVELS[3:])


def test_a_client_that_takes_none_gets_none() -> None:
    sent: Sent = []
    log = _log(sent, minimum=None)
    for level in LOG_LEVELS:
        log.write(level, level)
    assert sent == []


def test_every_entry_reaches_the_worker_log_whatever_the_client_takes() -> None:
    with capture_logs() as captured:
        log = _log(None, minimum=None)
        log.write("debug", "quiet", {"k": 1})
        log.write("emergency", "loud")
    entries = [e for e in captured if e["event"] == "tool.log"]
    assert [(e["mcp_level"], e["message"]) for e in entries] == [
        ("debug", "quiet"), ("emergency", "loud"),
    ]  # fmt: skip
    assert entries[0]["data"] == {"k": 1}
    assert {e["request_id"] for e in entries} == {"req-1"}
    assert {e["principal"] for e in entries} == {"local:alice"}
    # The worker's error level is kept for the fleet's own faults.
    assert [e["log_level"] for e in entries] == ["debug", "warning"]


def test_an_unknown_level_is_the_handlers_bug() -> None:
    with pytest.raises(ValueError, match="unknown log level 'verbose'"):
        _log([]).write("verbose", "x")  # type: ignore[arg-type]


def test_a_burst_beyond_the_rate_is_dropped_and_reported_when_the_call_ends() -> None:
    sent: Sent = []
    clock = Clock()
    log = _log(sent, per_second=5, clock=clock)
    with capture_logs() as captured:
        for n in range(12):
            log.write("info", f"m{n}")
        assert [data for _, _, data in sent] == ["m0", "m1", "m2", "m3", "m4"]
        assert log.dropped == 7
        log.finish()
    assert sent[-1] == ("warning", "mcpfleet", "7 log messages dropped: more than 5 per second")
    assert log.dropped == 0
    dropped = [e for e in captured if e["event"] == "tool.log_dropped"]
    assert [(e["dropped"], e["request_id"]) for e in dropped] == [(7, "req-1")]


def test_the_rate_refills_and_drops_are_reported_at_most_once_a_second() -> None:
    sent: Sent = []
    clock = Clock()
    log = _log(sent, per_second=2, clock=clock)
    for n in range(4):  # two pass, two dropped
        log.write("info", f"a{n}")
    clock.now += 0.5  # one token back, but the last report (at the start) is too recent
    log.write("info", "b")
    log.write("info", "c")  # dropped
    assert [d for _, _, d in sent] == ["a0", "a1", "b"]
    clock.now += 1.0  # two tokens back and a second since: the count comes first
    log.write("info", "d")
    assert sent[-2:] == [
        ("warning", "mcpfleet", "3 log messages dropped: more than 2 per second"),
        ("info", "t", "d"),
    ]
    log.finish()
    assert len(sent) == 5  # nothing left to report


def test_a_report_the_client_would_filter_out_stays_in_the_worker() -> None:
    sent: Sent = []
    log = _log(sent, minimum="error", per_second=1)
    log.write("error", "one")
    log.write("error", "two")
    with capture_logs() as captured:
        log.finish()
    assert sent == [("error", "t", "one")]
    assert [e["dropped"] for e in captured if e["event"] == "tool.log_dropped"] == [1]


def test_nothing_goes_to_the_client_after_the_call_ends() -> None:
    sent: Sent = []
    log = _log(sent)
    log.finish()
    with capture_logs() as captured:
        log.write("info", "late, from a thread that overran")
    assert sent == []
    assert [e["message"] for e in captured] == ["late, from a thread that overran"]


def test_oversized_data_is_replaced_by_a_note() -> None:
    sent: Sent = []
    big = "x" * MAX_CLIENT_DATA_BYTES
    _log(sent).write("info", "m" * 5000, {"blob": big})
    level, logger, data = sent[0]
    assert (level, logger) == ("info", "t")
    assert isinstance(data, str)
    assert data.startswith("m" * 1024 + " [log data of ")
    assert f"over the {MAX_CLIENT_DATA_BYTES}-byte bound]" in data
    assert len(data) < 2000


def test_data_just_under_the_bound_is_sent_whole() -> None:
    sent: Sent = []
    blob = "y" * (MAX_CLIENT_DATA_BYTES - 100)
    _log(sent).write("info", "m", {"blob": blob})
    assert sent[0][2] == {"message": "m", "data": {"blob": blob}}


def test_threads_writing_at_once_are_counted_exactly() -> None:
    sent: Sent = []
    log = _log(sent, per_second=100)
    barrier = threading.Barrier(8)

    def write() -> None:
        barrier.wait()
        for n in range(250):
            log.write("info", f"{n}")

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    passed = len(sent)
    dropped = log.dropped
    log.finish()
    assert passed >= 100
    assert passed + dropped == 2000
