"""The stdio transport on the raw wire: ``mcpfleet stdio`` serving with the workers of a
running fleet, driven line by line. Every test also checks that stdout carried nothing but
JSON-RPC lines (each one parsed) and that the process exits 0 at the end of input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proto import ALL_VERSIONS
from tests.fixtures.fleet import RunningFleet
from tests.fixtures.stdio_process import (
    ENVELOPE,
    MCPFLEET,
    MODERN,
    StdioProcess,
    call,
    initialize,
    notification,
    request,
    stdio_front,
)

EXIT_DEADLINE_S = 15.0
VERSION_KEY = "io.modelcontextprotocol/protocolVersion"


@pytest.fixture
def front(shared_fleet: RunningFleet) -> Iterator[StdioProcess]:
    process = stdio_front(shared_fleet)
    try:
        yield process
        process.close_stdin()
        assert process.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0, process.log()
        process.assert_stdout_was_protocol_only()
        assert process.errors() == [], process.errors()
    finally:
        process.kill()


def legacy(front: StdioProcess) -> None:
    front.send(initialize(0), notification("notifications/initialized"))
    assert front.result(0)["protocolVersion"] == "2025-11-25"


def test_malformed_json_is_a_parse_error_and_serving_goes_on(front: StdioProcess) -> None:
    front.send(b'{"jsonrpc": "2.0", "id": 1,', b"\xff\xfe not utf-8", b"[1, 2")
    legacy(front)
    errors = [m for m in front.snapshot() if "error" in m]
    assert [(m["id"], m["error"]["code"]) for m in errors] == [(None, -32700)] * 3
    front.send(call(1, "echo", {"text": "still serving"}))
    assert front.result(1)["content"] == [{"type": "text", "text": "still serving"}]


def test_invalid_messages_are_invalid_requests(front: StdioProcess) -> None:
    lines = [
        ({"foo": 1}, None),
        ({"jsonrpc": "1.0", "id": 7, "method": "ping"}, 7),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, None),
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], None),  # a batch
        ("a string", None),
    ]
    front.send(*(line for line, _ in lines), request("after", "ping"))
    assert front.result("after") == {}
    errors = [m for m in front.snapshot() if "error" in m]
    assert [(m["id"], m["error"]["code"]) for m in errors] == [(r, -32600) for _, r in lines]


def test_requests_before_initialize_are_refused_but_ping_is_answered(
    front: StdioProcess,
) -> None:
    front.send(request(1, "ping"), request(2, "tools/list"), call(3, "echo", {"text": "x"}))
    assert front.response(1) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    for rid in (2, 3):
        error = front.error(rid)
        assert error["code"] == -32602
        assert "initialize" in error["message"]
    legacy(front)
    front.send(request(4, "tools/list"))
    assert [t["name"] for t in front.result(4)["tools"]][:2] == ["echo", "add"]


def test_handshake_session_serves_at_the_negotiated_version(front: StdioProcess) -> None:
    front.send(initialize("i", version="2025-03-26"))
    assert front.result("i")["protocolVersion"] == "2025-03-26"
    # SEP-1303 starts at 2025-11-25: before it, invalid arguments are a protocol error.
    front.send(call("bad", "add", {"a": 1}), request("again", "initialize", {}))
    assert front.error("bad")["code"] == -32602
    assert front.error("again")["code"] == -32600  # the session is open already


def test_an_envelope_on_a_handshake_connection_is_invalid(front: StdioProcess) -> None:
    legacy(front)
    front.send(request(1, "tools/list", modern=True), request(2, "server/discover", modern=True))
    assert front.error(1)["code"] == -32600
    assert front.error(2)["code"] == -32600
    front.send(request(3, "ping"))
    assert front.result(3) == {}


def test_initialize_on_a_modern_connection_names_the_modern_versions(
    front: StdioProcess,
) -> None:
    front.send(request("d", "server/discover", modern=True), initialize("i"))
    discover = front.result("d")
    assert discover["resultType"] == "complete"
    assert discover["supportedVersions"] == list(ALL_VERSIONS)
    error = front.error("i")
    assert error["code"] == -32022
    assert error["data"] == {"supported": [MODERN], "requested": "2025-11-25"}
    front.send(call("c", "echo", {"text": "modern"}, modern=True))
    result = front.result("c")
    assert result["resultType"] == "complete"
    assert result["content"] == [{"type": "text", "text": "modern"}]


def test_an_unserved_version_first_is_refused_without_locking_the_era(
    front: StdioProcess,
) -> None:
    meta = {**ENVELOPE, VERSION_KEY: "2099-01-01"}
    front.send(request(1, "server/discover", {"_meta": meta}))
    error = front.error(1)
    assert error["code"] == -32022
    assert error["data"] == {"supported": list(ALL_VERSIONS), "requested": "2099-01-01"}
    legacy(front)  # the fallback that answer invites works


def test_the_modern_ladder_without_headers(front: StdioProcess) -> None:
    front.send(request("d", "server/discover", modern=True))
    front.result("d")
    no_envelope = request(1, "tools/list")
    version_only = {VERSION_KEY: MODERN}
    no_capabilities = request(2, "tools/list", {"_meta": version_only})
    old_version = request(3, "tools/list", {"_meta": {**ENVELOPE, VERSION_KEY: "2025-11-25"}})
    front.send(no_envelope, no_capabilities, old_version)
    assert front.error(1)["code"] == -32602
    assert front.error(2)["code"] == -32602
    error = front.error(3)
    assert error["code"] == -32022
    assert error["data"]["supported"] == list(ALL_VERSIONS)


@pytest.mark.parametrize("modern", [False, True])
def test_unknown_and_removed_methods_are_not_found(front: StdioProcess, modern: bool) -> None:
    if modern:
        front.send(request("d", "server/discover", modern=True))
        front.result("d")
    else:
        legacy(front)
    front.send(request(1, "no/such/method", modern=modern))
    assert front.error(1)["code"] == -32601
    if modern:  # ping does not exist at 2026-07-28
        front.send(request(2, "ping", modern=True))
        assert front.error(2)["code"] == -32601


def test_notifications_are_never_answered(front: StdioProcess) -> None:
    legacy(front)
    front.send(
        notification("notifications/unknown", {"x": 1}),
        notification("notifications/cancelled", {"requestId": "nobody"}),
        notification("notifications/cancelled", {"no": "id"}),
        {"jsonrpc": "2.0", "id": 99, "result": {}},  # a response: we never asked anything
        request("last", "ping"),
    )
    assert front.result("last") == {}
    assert [m.get("id") for m in front.snapshot()] == [0, "last"]


def test_responses_are_written_as_they_complete(front: StdioProcess) -> None:
    legacy(front)
    front.send(call("slow", "wait", {"ms": 600}), call("fast", "echo", {"text": "first"}))
    front.response("slow")
    order = [m["id"] for m in front.snapshot() if m.get("id") in ("slow", "fast")]
    assert order == ["fast", "slow"]


@pytest.mark.parametrize("modern", [False, True])
def test_progress_is_interleaved_before_its_response(front: StdioProcess, modern: bool) -> None:
    if not modern:
        legacy(front)
    front.send(
        call("p", "sleep_progress", {"seconds": 0.3, "steps": 3}, modern=modern, token="tok"),
        call("q", "echo", {"text": "meanwhile"}, modern=modern),
    )
    front.response("p")
    front.response("q")
    lines = front.snapshot()
    progress = [m["params"] for m in lines if m.get("method") == "notifications/progress"]
    assert [(p["progressToken"], p["progress"], p["total"]) for p in progress] == [
        ("tok", 1, 3),
        ("tok", 2, 3),
        ("tok", 3, 3),
    ]
    last_progress = max(i for i, m in enumerate(lines) if m.get("method"))
    assert lines.index(front.response("p")) > last_progress


@pytest.mark.parametrize("modern", [False, True])
def test_no_progress_token_means_no_progress_lines(front: StdioProcess, modern: bool) -> None:
    if not modern:
        legacy(front)
    # The same tool reports progress to a caller with a token (the test above), always
    # written before the response.
    front.send(call("p", "sleep_progress", {"seconds": 0.2, "steps": 2}, modern=modern))
    assert front.result("p")["content"] == [{"type": "text", "text": "slept 0.2 s in 2 steps"}]
    assert [m for m in front.snapshot() if m.get("method") == "notifications/progress"] == []


def test_a_2025_03_26_batch_is_answered_with_one_array(front: StdioProcess) -> None:
    front.send(initialize(0, version="2025-03-26"))
    assert front.result(0)["protocolVersion"] == "2025-03-26"
    front.send(
        [notification("notifications/initialized")],  # only notifications: no answer
        [],  # empty: one error
        [
            call("slow", "wait", {"ms": 300}),
            request("p", "ping"),
            call("e", "echo", {"text": "in a batch"}),
            notification("notifications/unknown"),
            {"jsonrpc": "2.0", "id": "bad"},
            initialize("init"),  # initialize must not be in a batch
        ],
    )
    answered = front.batch_responses()
    assert [r["id"] for r in answered] == ["slow", "p", "e", "bad", "init"]  # member order
    replies = {r["id"]: r for r in answered}
    assert replies["slow"]["result"]["content"][0]["text"] == "waited 300 ms"
    assert replies["p"]["result"] == {}
    assert replies["e"]["result"]["content"][0]["text"] == "in a batch"
    assert replies["bad"]["error"]["code"] == -32600
    assert replies["init"]["error"]["code"] == -32600
    assert "initialize" in replies["init"]["error"]["message"]
    (empty,) = [m for m in front.snapshot() if "error" in m]
    assert (empty["id"], empty["error"]["code"]) == (None, -32600)
    assert len(front.batches) == 1


def test_a_batch_over_the_member_limit_is_refused_whole(front: StdioProcess) -> None:
    front.send(initialize(0, version="2025-03-26"))
    assert front.result(0)["protocolVersion"] == "2025-03-26"
    front.send([request(i, "ping") for i in range(1, 66)], request("after", "ping"))
    assert front.result("after") == {}
    (refused,) = [m for m in front.snapshot() if "error" in m]
    assert (refused["id"], refused["error"]["code"]) == (None, -32600)
    assert "limit of 64" in refused["error"]["message"]
    assert front.batches == []


def test_batches_after_2025_03_26_are_invalid(front: StdioProcess) -> None:
    legacy(front)
    front.send([request(1, "ping"), request(2, "ping")], request(3, "ping"))
    assert front.result(3) == {}
    (error,) = [m for m in front.snapshot() if "error" in m]
    assert (error["id"], error["error"]["code"]) == (None, -32600)
    assert front.batches == []


def test_a_request_id_already_in_flight_is_refused(front: StdioProcess) -> None:
    legacy(front)
    front.send(call(5, "wait", {"ms": 500}), call(5, "echo", {"text": "twin"}))
    responses = front.responses(5, count=2)
    assert responses[0]["error"]["code"] == -32600  # the twin, refused at once
    assert responses[1]["result"]["content"][0]["text"] == "waited 500 ms"


@pytest.mark.parametrize("modern", [False, True])
def test_a_cancelled_request_is_never_answered(front: StdioProcess, modern: bool) -> None:
    if not modern:
        legacy(front)
    # "wait" finishes 400 ms after it starts unless it is cancelled; "later" is sent after
    # the cancel and takes longer, so an answer to the cancelled call would come first.
    front.send(call("gone", "wait", {"ms": 400}, modern=modern))
    front.send(notification("notifications/cancelled", {"requestId": "gone", "reason": "x"}))
    front.send(call("later", "wait", {"ms": 800}, modern=modern))
    assert front.result("later")["content"][0]["text"] == "waited 800 ms"
    assert front.responses_to("gone") == []
    front.close_stdin()
    assert front.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0
    assert front.responses_to("gone") == []


def test_end_of_input_answers_what_finishes_within_the_grace(front: StdioProcess) -> None:
    legacy(front)
    front.send(call("quick", "wait", {"ms": 200}), call("long", "wait", {"ms": 30_000}))
    front.close_stdin()
    assert front.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0
    assert front.result("quick")["content"][0]["text"] == "waited 200 ms"
    assert front.responses_to("long") == []  # cut at the end of the grace, never answered
    (closed,) = front.find("stdio.closed")
    assert closed["requests_cut"] == 1


def test_a_line_over_the_limit_is_refused_and_skipped(shared_fleet: RunningFleet) -> None:
    front = stdio_front(shared_fleet, env={"MCPFLEET_FRONT__MAX_BODY_BYTES": "4096"})
    try:
        legacy(front)
        huge = call("huge", "echo", {"text": "x" * 100_000})
        front.send(huge, call("next", "echo", {"text": "small"}))
        assert front.result("next")["content"][0]["text"] == "small"
        (error,) = [m for m in front.snapshot() if "error" in m]
        assert error["id"] is None
        assert error["error"]["code"] == -32600
        assert "4096 bytes" in error["error"]["message"]
        front.close_stdin()
        assert front.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0
        front.assert_stdout_was_protocol_only()
    finally:
        front.kill()


def test_sigterm_stops_the_front_cleanly(shared_fleet: RunningFleet) -> None:
    front = stdio_front(shared_fleet)
    try:
        legacy(front)
        front.terminate()
        assert front.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0
        assert front.find("front.stopped")
    finally:
        front.kill()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "mcpfleet stdio serves with the workers of a running fleet"),
        (["--redis", "redis://127.0.0.1:1/0"], "cannot connect to Redis"),
    ],
)
def test_no_usable_redis_is_one_clear_error(args: list[str], message: str) -> None:
    process = StdioProcess([*MCPFLEET, "stdio", "--app", "examples.demo:app", *args])
    process.close_stdin()
    assert process.wait_exit(deadline_s=EXIT_DEADLINE_S) == 2
    assert process.snapshot() == []
    assert f"mcpfleet: error: {message}" in process.log()
    assert "Traceback" not in process.log()


def test_tasks_on_stdio_belong_to_their_connection(
    front: StdioProcess, shared_fleet: RunningFleet
) -> None:
    legacy(front)
    assert "tasks" in front.snapshot()[0]["result"]["capabilities"]
    arguments = {"seconds": 0.01, "steps": 1}
    params = {"name": "sleep_progress", "arguments": arguments, "task": {"ttl": 60_000}}
    front.send(request(1, "tools/call", params))
    task = front.result(1)["task"]
    assert task["status"] in ("working", "completed")  # a worker may already run tasks
    front.send(request(2, "tasks/get", {"taskId": task["taskId"]}), request(3, "tasks/list"))
    assert front.result(2)["taskId"] == task["taskId"]
    assert [t["taskId"] for t in front.result(3)["tasks"]] == [task["taskId"]]
    # The same user's other connection does not see it.
    other = stdio_front(shared_fleet)
    try:
        legacy(other)
        other.send(request(4, "tasks/get", {"taskId": task["taskId"]}), request(5, "tasks/list"))
        assert other.error(4) == {"code": -32602, "message": "Task not found"}
        assert other.result(5) == {"tasks": []}
        other.close_stdin()
        assert other.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0, other.log()
    finally:
        other.kill()
