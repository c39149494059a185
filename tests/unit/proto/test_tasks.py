"""The task record and its two protocols' views (ADR-0011, mcp-protocol.md 10)."""

from __future__ import annotations

import datetime
import json
import random

import msgspec
import pytest

from proto import (
    ALL_VERSIONS,
    RELATED_TASK_KEY,
    TASK_ASK_ID_PREFIX,
    TASKS_EXTENSION,
    Implementation,
    ModernMeta,
    ModernParams,
    Principal,
    ResultMeta,
    TaskAcknowledgement,
    TaskError,
    TaskField,
    TaskJobSerializer,
    TaskOutcomeError,
    TaskSpec,
    TaskStatus,
    declares_tasks_extension,
    decode_task_record,
    decode_task_spec,
    encode_task_spec,
    iso_time,
    legacy_task,
    legacy_task_input_request,
    legacy_task_result,
    mirrored_field,
    mirrored_name,
    modern_task,
    parse_task_ask_id,
    retention_slide_due,
    supports_tasks,
    task_answer,
    task_ask_id,
)

CREATED = 1_800_000_000_000


def fields(**values: str) -> dict[bytes, bytes]:
    base = {TaskField.STATUS: "working", TaskField.CREATED_MS: str(CREATED),
            TaskField.UPDATED_MS: str(CREATED + 1500), TaskField.TTL_MS: "60000",
            TaskField.POLL_MS: "1000", TaskField.OWNER: "anonymous|s1|"}  # fmt: skip
    merged = {**{k.value: v for k, v in base.items()}, **values}
    return {k.encode(): v.encode() for k, v in merged.items()}


def test_iso_time_matches_the_calendar() -> None:
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    samples = [0, 951_782_400_000, 1_709_164_800_000, 4_102_444_799_999]
    samples += [random.randint(0, 4_102_444_800_000) for _ in range(2000)]
    for ms in samples:
        expected = (epoch + datetime.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
        assert iso_time(ms) == expected.replace("+00:00", "Z"), ms


def test_a_record_decodes_and_a_foreign_hash_does_not() -> None:
    record = decode_task_record("t1", fields(attempts="2", message="halfway"))
    assert record is not None
    assert (record.status, record.attempts, record.message) == (TaskStatus.WORKING, 2, "halfway")
    assert not record.terminal
    assert decode_task_record("t1", {}) is None
    assert decode_task_record("t1", fields(status="sleeping")) is None


def test_a_read_slides_the_retention_once_an_eighth_of_it_passed() -> None:
    record = decode_task_record("t1", fields(slid=str(CREATED)))  # ttl 60 000 ms
    assert record is not None and record.slid_ms == CREATED
    assert not retention_slide_due(record, CREATED)
    assert not retention_slide_due(record, CREATED + 7_499)
    assert retention_slide_due(record, CREATED + 7_500)
    older = decode_task_record("t1", fields())  # written before the field: slide at once
    assert older is not None and older.slid_ms == 0
    assert retention_slide_due(older, CREATED)


def test_a_record_names_its_specs_tool_and_survives_an_unreadable_spec() -> None:
    spec = TaskSpec(
        tool="report",
        arguments=msgspec.Raw(b'{"rows":[1,2]}'),
        protocol_version="2025-11-25",
        principal=Principal.anonymous("s1"),
        owner="anonymous|s1|",
        request_id="front-0-1",
    )
    record = decode_task_record("t1", fields(spec=encode_task_spec(spec).decode()))
    assert record is not None and record.tool == "report"
    for unreadable in ({}, {"spec": "not json"}, {"spec": "{}"}):
        record = decode_task_record("t1", fields(**unreadable))
        assert record is not None and record.tool == ""


def test_a_tool_error_is_failed_in_2025_and_completed_in_2026() -> None:
    outcome = b'{"result":{"content":[{"type":"text","text":"no"}],"isError":true}}'
    record = decode_task_record(
        "t1", fields(status="completed", outcome=outcome.decode(), is_error="1")
    )
    assert record is not None
    legacy = msgspec.to_builtins(legacy_task(record))
    assert legacy["status"] == "failed"
    assert legacy["ttl"] == 60000 and legacy["pollInterval"] == 1000
    assert legacy["createdAt"] == iso_time(CREATED)
    modern = msgspec.json.decode(msgspec.json.encode(modern_task(record, result_type="complete")))
    assert modern["status"] == "completed"
    assert modern["resultType"] == "complete"
    assert modern["result"]["isError"] is True
    assert "ttl" not in modern and modern["ttlMs"] == 60000


def test_a_failed_task_inlines_its_error_and_creation_inlines_nothing() -> None:
    outcome = b'{"error":{"code":-32603,"message":"worker lost"}}'
    record = decode_task_record("t1", fields(status="failed", outcome=outcome.decode()))
    assert record is not None
    got = msgspec.json.decode(msgspec.json.encode(modern_task(record, result_type="complete")))
    assert got["error"] == {"code": -32603, "message": "worker lost"}
    assert "result" not in got
    created = msgspec.json.decode(msgspec.json.encode(modern_task(record, result_type="task")))
    assert created["resultType"] == "task"
    assert "error" not in created and "result" not in created


def test_a_task_waiting_for_input_lists_its_outstanding_requests_only() -> None:
    request = '{"method":"elicitation/create","params":{"message":"?"}}'
    waiting = fields(
        status="input_required", **{"request:b": request, "request:a": request, "answer:c": "{}"}
    )
    record = decode_task_record("t1", waiting)
    assert record is not None
    assert set(record.input_requests) == {"a", "b"}
    got = msgspec.json.decode(msgspec.json.encode(modern_task(record, result_type="complete")))
    assert got["inputRequests"] == {"a": json.loads(request), "b": json.loads(request)}
    created = msgspec.json.decode(msgspec.json.encode(modern_task(record, result_type="task")))
    assert "inputRequests" not in created
    # Requests left behind on a task that went on (or ended) are not shown.
    working = decode_task_record("t1", fields(**{"request:a": request}))
    assert working is not None
    shown = msgspec.json.decode(msgspec.json.encode(modern_task(working, result_type="complete")))
    assert "inputRequests" not in shown


def test_a_spec_without_client_capabilities_decodes_with_none() -> None:
    spec = TaskSpec(
        tool="t", arguments=msgspec.Raw(b"{}"), protocol_version="2026-07-28",
        principal=Principal.anonymous(), owner="o", request_id="r1",
    )  # fmt: skip
    old = msgspec.json.encode(msgspec.structs.astuple(spec)[:-1])  # written before the field
    assert decode_task_spec(old).client_capabilities == 0
    with_flags = msgspec.structs.replace(spec, client_capabilities=5)
    assert decode_task_spec(encode_task_spec(with_flags)).client_capabilities == 5


def test_unlimited_retention_is_null_not_absent() -> None:
    record = decode_task_record("t1", fields(ttl="0"))
    assert record is not None
    no_ttl = msgspec.structs.replace(legacy_task(record), ttl=None)
    assert b'"ttl":null' in msgspec.json.encode(no_ttl)


@pytest.mark.parametrize("principal", [Principal.anonymous("s1"), Principal.local("ada")])
def test_a_spec_round_trips_and_owners_differ_by_scope(principal: Principal) -> None:
    owner = TaskSpec.owner_of(principal, "conn-1")
    spec = TaskSpec("slow", msgspec.Raw(b'{"n":1}'), "2025-11-25", principal, owner, "r-1")
    decoded = decode_task_spec(encode_task_spec(spec))
    assert (decoded.tool, bytes(decoded.arguments), decoded.owner) == ("slow", b'{"n":1}', owner)
    assert TaskSpec.owner_of(principal, "conn-2") != owner
    assert TaskSpec.owner_of(Principal.anonymous("s2")) != TaskSpec.owner_of(
        Principal.anonymous("s1")
    )


def test_rq_job_data_is_json_not_pickle() -> None:
    data = TaskJobSerializer.dumps(["workers.task_lane.run_task", None, ["t1"], {}])
    assert data.startswith(b"[")
    assert TaskJobSerializer.loads(data) == ["workers.task_lane.run_task", None, ["t1"], {}]


def test_legacy_result_carries_the_related_task_and_keeps_other_meta() -> None:
    outcome = b'{"result":{"content":[],"isError":true,"_meta":{"k":1}}}'
    record = decode_task_record(
        "t1", fields(status="completed", outcome=outcome.decode(), is_error="1")
    )
    assert record is not None
    result = legacy_task_result(record)
    assert isinstance(result, bytes)
    assert msgspec.json.decode(result) == {
        "content": [],
        "isError": True,
        "_meta": {"k": 1, RELATED_TASK_KEY: {"taskId": "t1"}},
    }


def test_legacy_result_of_a_failed_task_is_its_error_and_a_cancelled_one_has_none() -> None:
    outcome = b'{"error":{"code":-32603,"message":"worker lost","data":{"n":1}}}'
    failed = decode_task_record("t1", fields(status="failed", outcome=outcome.decode()))
    assert failed is not None
    error = legacy_task_result(failed)
    assert isinstance(error, TaskError)
    assert (error.code, error.message, bytes(error.data)) == (-32603, "worker lost", b'{"n":1}')  # type: ignore[arg-type]
    cancelled = decode_task_record("t1", fields(status="cancelled", cancel="1"))
    assert cancelled is not None and legacy_task_result(cancelled) is None


@pytest.mark.parametrize(
    ("capabilities", "declared"),
    [
        ({"extensions": {TASKS_EXTENSION: {}}}, True),
        ({"extensions": {"other/ext": {}}}, False),
        ({"extensions": []}, False),
        ({}, False),
    ],
)
def test_the_extension_is_declared_per_request(
    capabilities: dict[str, object], declared: bool
) -> None:
    assert declares_tasks_extension(ModernMeta(client_capabilities=capabilities)) is declared
    assert declares_tasks_extension(msgspec.UNSET) is False


def test_the_2026_acknowledgement_is_empty_but_stamped() -> None:
    meta = ResultMeta(server_info=Implementation(name="s", version="1"))
    ack = msgspec.json.decode(
        msgspec.json.encode(TaskAcknowledgement(result_type="complete", meta=meta))
    )
    assert ack == {
        "resultType": "complete",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "s", "version": "1"}},
    }


def test_tasks_exist_at_2025_11_25_only() -> None:
    assert [v for v in ALL_VERSIONS if supports_tasks(v)] == ["2025-11-25"]


@pytest.mark.parametrize("method", ["tasks/get", "tasks/update", "tasks/cancel"])
def test_mcp_name_mirrors_the_task_id(method: str) -> None:
    params = msgspec.json.decode(b'{"taskId":"abc","name":"n"}', type=ModernParams)
    assert mirrored_name(method, params) == "abc"
    assert mirrored_field(method) == "params.taskId"
    assert mirrored_name("tasks/result", params) is None


# --- 2025-11-25 input requests on the tasks/result stream ------------------------------------


@pytest.mark.parametrize("key", ["confirm", "a:b", "elicitation-2"])
def test_a_task_ask_id_names_the_task_and_the_key(key: str) -> None:
    rid = task_ask_id("Tq3_-x", key)
    assert rid.startswith(TASK_ASK_ID_PREFIX)
    assert parse_task_ask_id(rid) == ("Tq3_-x", key)


@pytest.mark.parametrize(
    "rid", [7, None, "mcpfleet-ask-1", "mcpfleet-task-", "mcpfleet-task-abc", "mcpfleet-task-:k",
            "mcpfleet-task-abc:"],
)  # fmt: skip
def test_other_ids_name_no_task(rid: object) -> None:
    assert parse_task_ask_id(rid) is None


def test_a_stored_request_goes_out_with_the_related_task_meta() -> None:
    stored = b'{"method":"elicitation/create","params":{"message":"Go?","_meta":{"x":1}}}'
    message = json.loads(legacy_task_input_request("T1", "go", stored))
    assert message == {
        "jsonrpc": "2.0",
        "id": "mcpfleet-task-T1:go",
        "method": "elicitation/create",
        "params": {
            "message": "Go?",
            "_meta": {"x": 1, "io.modelcontextprotocol/related-task": {"taskId": "T1"}},
        },
    }


def test_an_answer_is_kept_as_a_response_outcome() -> None:
    assert json.loads(task_answer(b'{"action":"accept"}')) == {"result": {"action": "accept"}}


def test_a_relayed_task_error_is_a_successful_retrieval() -> None:
    error = TaskOutcomeError("Worker lost", {"reason": "worker_lost"}, code=-32603)
    assert (error.code, error.http_status) == (-32603, 200)
