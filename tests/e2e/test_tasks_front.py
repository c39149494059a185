"""Durable tasks at the front, over raw HTTP JSON-RPC through a real fleet (ADR-0011,
mcp-protocol.md 10): both protocols create a task that an immediate read finds, cancel it,
refuse what each protocol refuses, and keep one caller's tasks from another. The worker here
runs no tasks (``task_slots = 0``), so a task stays ``working`` until cancelled or moved by
the test (as a worker would, through ``TASK_TRANSITION``); tests/e2e/test_tasks.py runs
them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from proto import TASK_TRANSITION, Keyspace
from tests.e2e.test_http_bad_input import (
    ACCEPT,
    ENVELOPE,
    assert_error,
    modern_headers,
    open_session,
)
from tests.fixtures.fleet import RunningFleet, module_fleet

LEGACY = "2025-11-25"
TASKS = "io.modelcontextprotocol/tasks"
WITH_TASKS = {
    **ENVELOPE,
    "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}},
}
REQUIRES_TASKS = {"requiredCapabilities": {"extensions": {TASKS: {}}}}


task_fleet = module_fleet(
    "tests.fixtures.task_front_tools:app", env={"MCPFLEET_WORKER__TASK_SLOTS": "0"}, quiet=True
)


@pytest.fixture
def http(task_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with task_fleet.http() as client:
        yield client


class Session:
    """A handshake-era session at ``version``."""

    def __init__(self, http: httpx.Client, version: str = LEGACY) -> None:
        self.http = http
        self.version = version
        self.id = open_session(http, version)

    def post(self, method: str, params: dict[str, object], rid: object = 1) -> httpx.Response:
        body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        headers = {
            "accept": ACCEPT,
            "mcp-protocol-version": self.version,
            "mcp-session-id": self.id,
        }
        return self.http.post("/mcp", json=body, headers=headers)

    def result(self, method: str, params: dict[str, object]) -> dict[str, object]:
        response = self.post(method, params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "result" in body, body
        result: dict[str, object] = body["result"]
        return result

    def error(self, method: str, params: dict[str, object], code: int) -> str:
        response = self.post(method, params)
        assert response.status_code == 200, response.text
        error = response.json()["error"]
        assert error["code"] == code, error
        message: str = error["message"]
        return message


def modern(
    http: httpx.Client,
    method: str,
    params: dict[str, object],
    *,
    name: str | None = None,
    meta: dict[str, object] = WITH_TASKS,
) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**params, "_meta": meta}}
    headers = {"accept": ACCEPT, **modern_headers(method, name)}
    return http.post("/mcp", json=body, headers=headers)


def modern_result(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()["result"]
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"]  # type: ignore[index]
    return result


def create_legacy(session: Session, ttl: int | None = 60_000) -> dict[str, object]:
    task_param = {} if ttl is None else {"ttl": ttl}
    params = {"name": "maybe_task", "arguments": {"text": "hi"}, "task": task_param}
    result = session.result("tools/call", params)
    assert list(result) == ["task"]
    task: dict[str, object] = result["task"]  # type: ignore[assignment]
    return task


def create_modern(http: httpx.Client, tool: str = "maybe_task") -> dict[str, object]:
    response = modern(http, "tools/call", {"name": tool, "arguments": {"text": "hi"}}, name=tool)
    return modern_result(response)


# --- 2025-11-25 ------------------------------------------------------------------------------


def test_tasks_are_advertised_at_2025_11_25_only(http: httpx.Client) -> None:
    new = Session(http).result("tools/list", {})
    old = Session(http, "2025-06-18").result("tools/list", {})
    execution = {t["name"]: t.get("execution") for t in new["tools"]}  # type: ignore[union-attr]
    assert execution == {
        "maybe_task": {"taskSupport": "optional"},
        "only_task": {"taskSupport": "required"},
        "never_task": None,
    }
    assert all("execution" not in t for t in old["tools"])  # type: ignore[union-attr]
    params = {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
    capabilities = http.post("/mcp", json=init, headers={"accept": ACCEPT}).json()["result"][
        "capabilities"
    ]
    assert capabilities["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
    params["protocolVersion"] = "2025-06-18"
    older = http.post("/mcp", json=init, headers={"accept": ACCEPT}).json()["result"]
    assert "tasks" not in older["capabilities"]


def test_a_created_task_is_found_at_once_listed_and_cancelled(http: httpx.Client) -> None:
    session = Session(http)
    task = create_legacy(session)
    assert task["status"] == "working"
    assert (task["ttl"], task["pollInterval"]) == (60_000, 1000)
    assert str(task["createdAt"]).endswith("Z") and task["createdAt"] == task["lastUpdatedAt"]
    task_id = task["taskId"]
    got = session.result("tasks/get", {"taskId": task_id})
    assert got == task
    listed = session.result("tasks/list", {})
    assert listed == {"tasks": [task]}
    cancelled = session.result("tasks/cancel", {"taskId": task_id})
    assert (cancelled["taskId"], cancelled["status"]) == (task_id, "cancelled")
    assert session.result("tasks/get", {"taskId": task_id})["status"] == "cancelled"
    message = session.error("tasks/cancel", {"taskId": task_id}, -32602)
    assert message == "Cannot cancel task: already in terminal status 'cancelled'"
    message = session.error("tasks/result", {"taskId": task_id}, -32602)
    assert "cancelled" in message


def test_ttl_defaults_and_is_clamped(http: httpx.Client) -> None:
    session = Session(http)
    assert create_legacy(session, ttl=None)["ttl"] == 3_600_000
    assert create_legacy(session, ttl=10**12)["ttl"] == 86_400_000


def test_another_session_sees_no_task(http: httpx.Client) -> None:
    task_id = create_legacy(Session(http))["taskId"]
    other = Session(http)
    for method in ("tasks/get", "tasks/cancel", "tasks/result"):
        assert other.error(method, {"taskId": task_id}, -32602) == "Task not found"
    assert other.result("tasks/list", {}) == {"tasks": []}
    assert Session(http).error("tasks/get", {"taskId": "nope"}, -32602) == "Task not found"


def test_task_support_is_enforced(http: httpx.Client) -> None:
    session = Session(http)
    task = {"ttl": 1000}
    session.error(
        "tools/call", {"name": "never_task", "arguments": {"text": "x"}, "task": task}, -32601
    )
    session.error("tools/call", {"name": "only_task", "arguments": {"text": "x"}}, -32601)
    plain = session.result("tools/call", {"name": "maybe_task", "arguments": {"text": "x"}})
    assert plain["content"] == [{"type": "text", "text": "x"}]


def test_earlier_revisions_have_no_tasks(http: httpx.Client) -> None:
    session = Session(http, "2025-06-18")
    for method in ("tasks/get", "tasks/list", "tasks/result", "tasks/cancel"):
        session.error(method, {"taskId": "x"}, -32601)
    # A task param means nothing there: the call runs plainly.
    params = {"name": "maybe_task", "arguments": {"text": "y"}, "task": {}}
    assert session.result("tools/call", params)["content"] == [{"type": "text", "text": "y"}]


def test_result_of_a_task_the_worker_finished(http: httpx.Client, task_fleet: RunningFleet) -> None:
    session = Session(http)
    task_id = str(create_legacy(session)["taskId"])
    keys = Keyspace(task_fleet.fleet)
    outcome = b'{"result":{"content":[{"type":"text","text":"done"}],"isError":false}}'
    conn = redis.Redis.from_url(task_fleet.redis_url)
    conn.register_script(TASK_TRANSITION.source)(
        keys=[keys.task(task_id)],
        args=[keys.task_events(), task_id, "completed", 1, "1", "outcome", outcome],
    )
    result = session.result("tasks/result", {"taskId": task_id})
    assert result == {
        "content": [{"type": "text", "text": "done"}],
        "isError": False,
        "_meta": {"io.modelcontextprotocol/related-task": {"taskId": task_id}},
    }
    message = session.error("tasks/cancel", {"taskId": task_id}, -32602)
    assert message == "Cannot cancel task: already in terminal status 'completed'"


# --- 2026-07-28 ------------------------------------------------------------------------------


def test_discover_advertises_the_extension(http: httpx.Client) -> None:
    result = modern_result(modern(http, "server/discover", {}))
    assert result["capabilities"]["extensions"] == {TASKS: {}}  # type: ignore[index]


def test_a_modern_task_is_found_at_once_and_cancelled(http: httpx.Client) -> None:
    created = create_modern(http)
    assert (created["resultType"], created["status"]) == ("task", "working")
    assert (created["ttlMs"], created["pollIntervalMs"]) == (3_600_000, 1000)
    assert "task" not in created and "ttl" not in created
    task_id = str(created["taskId"])
    got = modern_result(modern(http, "tasks/get", {"taskId": task_id}, name=task_id))
    assert (got["resultType"], got["status"], got["taskId"]) == ("complete", "working", task_id)
    ack = modern_result(
        modern(http, "tasks/update", {"taskId": task_id, "inputResponses": {}}, name=task_id)
    )
    assert ack["resultType"] == "complete" and set(ack) == {"resultType", "_meta"}
    for _ in range(2):  # idempotent
        ack = modern_result(modern(http, "tasks/cancel", {"taskId": task_id}, name=task_id))
        assert set(ack) == {"resultType", "_meta"}
    got = modern_result(modern(http, "tasks/get", {"taskId": task_id}, name=task_id))
    assert got["status"] == "cancelled"


def test_modern_unknown_task(http: httpx.Client) -> None:
    for method in ("tasks/get", "tasks/cancel", "tasks/update"):
        response = modern(http, method, {"taskId": "nope"}, name="nope")
        assert_error(response, 400, -32602, 7)


def test_the_extension_decides(http: httpx.Client) -> None:
    # Not declared: optional runs plainly, required is -32021.
    plain = modern(
        http, "tools/call", {"name": "maybe_task", "arguments": {"text": "z"}},
        name="maybe_task", meta=ENVELOPE,
    )  # fmt: skip
    assert modern_result(plain)["content"] == [{"type": "text", "text": "z"}]
    refused = modern(
        http, "tools/call", {"name": "only_task", "arguments": {"text": "z"}},
        name="only_task", meta=ENVELOPE,
    )  # fmt: skip
    assert assert_error(refused, 400, -32021, 7)["data"] == REQUIRES_TASKS
    # Declared: a forbidden tool still runs plainly, a required one is a task.
    assert create_modern(http, "never_task")["content"] == [{"type": "text", "text": "hi"}]
    assert create_modern(http, "only_task")["resultType"] == "task"


def test_task_methods_need_the_extension_on_the_request(http: httpx.Client) -> None:
    task_id = str(create_modern(http)["taskId"])
    for method in ("tasks/get", "tasks/update", "tasks/cancel"):
        response = modern(http, method, {"taskId": task_id}, name=task_id, meta=ENVELOPE)
        assert assert_error(response, 400, -32021, 7)["data"] == REQUIRES_TASKS


@pytest.mark.parametrize("method", ["tasks/result", "tasks/list"])
def test_legacy_only_methods_are_404(http: httpx.Client, method: str) -> None:
    assert_error(modern(http, method, {"taskId": "x"}), 404, -32601, 7)


def test_mcp_name_must_be_the_task_id(http: httpx.Client) -> None:
    task_id = str(create_modern(http)["taskId"])
    assert_error(modern(http, "tasks/get", {"taskId": task_id}, name="other"), 400, -32020, 7)
    assert_error(modern(http, "tasks/cancel", {"taskId": task_id}), 400, -32020, 7)
