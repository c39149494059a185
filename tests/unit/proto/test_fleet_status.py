"""The status records (ADR-0013): a front's load record round-trips with its documented
field names, and documents written before fields were added still decode, with defaults."""

from __future__ import annotations

import json

import msgspec
import pytest

from proto import (
    FrontLoad,
    ProcessStatus,
    SupervisorStatus,
    decode_front_load,
    decode_supervisor_status,
    encode_status_record,
)


def test_a_front_load_record_round_trips_with_its_field_names() -> None:
    record = FrontLoad(pid=4242, requests_served=17, requests_inflight=2, streams_open=1)
    data = encode_status_record(record)
    assert json.loads(data) == {
        "pid": 4242,
        "requests_served": 17,
        "requests_inflight": 2,
        "streams_open": 1,
    }
    assert decode_front_load(data) == record


def test_a_front_load_record_without_streams_decodes_with_none_open() -> None:
    record = decode_front_load(b'{"pid":1,"requests_served":3,"requests_inflight":0}')
    assert record == FrontLoad(pid=1, requests_served=3, requests_inflight=0, streams_open=0)


@pytest.mark.parametrize(
    "data", [b"", b"[]", b'{"pid":1}', b'{"pid":"x","requests_served":1,"requests_inflight":0}']
)
def test_what_is_not_a_front_load_record_is_refused(data: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_front_load(data)


_OLD_PROCESS = {
    "id": "worker-0-abc123",
    "role": "worker",
    "pid": 11,
    "state": "ready",
    "started_ms": 1_700_000_000_000,
    "uptime_s": 5.0,
    "restarts": 1,
    "inflight": 0,
    "calls_served": 9,
    "waiting": 0,
    "tasks_running": 0,
}


def _document(*processes: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "supervisor_id": "supervisor-abc123",
            "host": "vm",
            "pid": 10,
            "state": "running",
            "updated_ms": 1_700_000_005_000,
            "workers_min": 1,
            "workers_max": 1,
            "workers": 1,
            "processes": list(processes),
        }
    ).encode()


def test_a_document_written_before_the_front_load_and_crash_loop_fields_decodes() -> None:
    front = {**_OLD_PROCESS, "id": "front-0-def456", "role": "front", "pid": 12}
    for key in ("inflight", "calls_served", "waiting", "tasks_running"):
        front[key] = None
    status = decode_supervisor_status(_document(front, _OLD_PROCESS))
    front_row, worker_row = status.processes
    assert (front_row.requests_served, front_row.requests_inflight) == (None, None)
    assert front_row.streams_open is None
    assert not front_row.crash_looping and not worker_row.crash_looping
    assert worker_row.calls_served == 9


def test_a_document_carries_a_fronts_load_and_every_crash_loop_flag() -> None:
    front = ProcessStatus(
        id="front-0-def456", role="front", pid=12, state="ready", started_ms=1, uptime_s=2.0,
        requests_served=40, requests_inflight=3, streams_open=2,
    )  # fmt: skip
    looping = ProcessStatus(
        id="worker-1-aaa111", role="worker", pid=None, state="backoff", started_ms=0,
        uptime_s=0.0, restarts=6, crash_looping=True,
    )  # fmt: skip
    document = SupervisorStatus(
        supervisor_id="supervisor-abc123", host="vm", pid=10, state="running", updated_ms=3,
        workers_min=1, workers_max=1, workers=1, processes=(front, looping),
    )  # fmt: skip
    data = encode_status_record(document)
    rows = json.loads(data)["processes"]
    assert rows[0]["requests_served"] == 40
    assert (rows[0]["requests_inflight"], rows[0]["streams_open"]) == (3, 2)
    assert rows[0]["crash_looping"] is False and rows[1]["crash_looping"] is True
    assert rows[1]["requests_served"] is None
    assert decode_supervisor_status(data) == document
