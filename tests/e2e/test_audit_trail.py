"""The audit trail and log redaction against a real fleet (ADR-0018, docs/security.md "Audit
trail and redaction"): a handler that logs a password and a token every careless way, and a
client that sends an Authorization header, leave no secret in any process's stderr; each
task cancellation, by a client in either era or by an operator, leaves one audit line with
who, what, how it ended, the request id and the client's address."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE, MODERN, modern_headers
from tests.e2e.test_tasks_front import Session, modern
from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env, module_fleet
from tests.fixtures.stdio_process import call as stdio_call
from tests.fixtures.stdio_process import initialize as stdio_initialize
from tests.fixtures.stdio_process import request as stdio_request
from tests.fixtures.stdio_process import stdio_front
from tests.fixtures.tokens import AUDIENCE, ISSUER, SECRET, hs256

APP = "tests.fixtures.hardening_tools:app"
CANCEL = "task.cancel_requested"

# The worker runs no tasks: a task stays working until it is cancelled.
audit_fleet = module_fleet(APP, env={"MCPFLEET_WORKER__TASK_SLOTS": "0"}, quiet=True)


@pytest.fixture
def http(audit_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with audit_fleet.http() as client:
        yield client


def a_jwt(subject: str) -> str:
    claims = {"sub": subject, "exp": int(time.time()) + 600, "jti": secrets.token_hex(8)}
    return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256")


def audit_lines(fleet: RunningFleet, **fields: object) -> list[dict[str, object]]:
    return [line for line in fleet.find(CANCEL, **fields) if line.get("audit") is True]


# --- redaction ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
def test_no_secret_reaches_any_log(
    http: httpx.Client, audit_fleet: RunningFleet, version: str
) -> None:
    password = "pw-" + secrets.token_hex(12)
    token = a_jwt("alice")
    header_token = a_jwt("bob")
    arguments = {"user": "alice", "password": password, "token": token}
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "login", "arguments": arguments},
    }
    headers = {"accept": ACCEPT, "authorization": f"Bearer {header_token}"}
    if version == MODERN:
        body["params"]["_meta"] = ENVELOPE  # type: ignore[index]
        headers.update(modern_headers("tools/call", "login"))
    else:
        headers["mcp-session-id"] = Session(http, version).id
        headers["mcp-protocol-version"] = version
    library_line = "token for alice is [redacted]"  # a stdlib logger's, formatted
    before = len(audit_fleet.find(library_line))
    response = http.post("/mcp", json=body, headers=headers)
    assert response.json()["result"]["content"][0]["text"] == "welcome alice"
    # Every line the handler wrote has been logged: the library's warning comes last.
    audit_fleet.wait_for(library_line, count=before + 1)
    attempt = audit_fleet.find("login.attempted")[-1]
    assert attempt["password"] == "[redacted]"
    assert attempt["request"] == {
        "headers": {"Authorization": "[redacted]"},
        "form": [{"passwd": "[redacted]"}],
    }
    assert attempt["note"] == "user alice sent [redacted]"
    logged = [e for e in audit_fleet.find("tool.log") if e.get("message") == "logging in"][-1]
    assert logged["data"] == {"user": "alice", "credentials": "[redacted]"}
    everything = "".join(audit_fleet.lines)
    for secret in (password, token, header_token):
        assert secret not in everything
        assert secret.split(".")[-1] not in everything  # not even a JWT's signature


def test_no_secret_reaches_the_stdio_fronts_log(audit_fleet: RunningFleet) -> None:
    password = "pw-" + secrets.token_hex(12)
    token = a_jwt("carol")
    front = stdio_front(audit_fleet, "--app", APP)
    try:
        arguments = {"user": "carol", "password": password, "token": token}
        front.send(stdio_call("in", "login", arguments, modern=True))
        assert front.result("in")["content"][0]["text"] == "welcome carol"
        front.close_stdin()
        assert front.wait_exit(deadline_s=20) == 0
        log = front.log()
        assert password not in log and token not in log
    finally:
        front.kill()
    audit_fleet.wait_for("login.attempted", user="carol")
    assert password not in "".join(audit_fleet.lines)


# --- the audit trail: task cancellations ------------------------------------------------------


def test_a_legacy_cancel_is_audited_with_its_outcome(
    http: httpx.Client, audit_fleet: RunningFleet
) -> None:
    session = Session(http)
    created = session.result(
        "tools/call", {"name": "wait_to_be_cancelled", "arguments": {}, "task": {}}
    )
    task_id = created["task"]["taskId"]  # type: ignore[index]
    assert session.result("tasks/cancel", {"taskId": task_id})["status"] == "cancelled"
    audit_fleet.wait_for(CANCEL, task_id=task_id)
    (line,) = audit_lines(audit_fleet, task_id=task_id)
    assert line["outcome"] == "cancelled"
    assert line["principal"] == "anonymous"
    assert "issuer" not in line
    assert line["session_id"] == session.id
    assert line["client"] == "127.0.0.1"
    assert line["tool"] == "wait_to_be_cancelled"
    assert line["role"] == "front"
    assert line["level"] == "info"
    assert str(line["request_id"]).startswith("f")
    assert {"timestamp", "pid"} <= set(line)
    # Again: it has ended; a foreign session's try reads as an unknown id, audited alike.
    session.error("tasks/cancel", {"taskId": task_id}, -32602)
    Session(http).error("tasks/cancel", {"taskId": task_id}, -32602)
    audit_fleet.wait_for(CANCEL, task_id=task_id, count=3)
    lines = audit_lines(audit_fleet, task_id=task_id)
    assert [line["outcome"] for line in lines] == ["cancelled", "already_ended", "not_found"]
    # The probe of a task that is not the caller's learns nothing, nor does the trail.
    assert [line.get("tool") for line in lines] == ["wait_to_be_cancelled"] * 2 + [None]


def test_a_modern_cancel_is_audited(http: httpx.Client, audit_fleet: RunningFleet) -> None:
    response = modern(
        http, "tools/call", {"name": "wait_to_be_cancelled", "arguments": {}},
        name="wait_to_be_cancelled",
    )  # fmt: skip
    assert response.status_code == 200, response.text
    task_id = response.json()["result"]["taskId"]
    cancelled = modern(http, "tasks/cancel", {"taskId": task_id}, name=task_id)
    assert cancelled.status_code == 200, cancelled.text
    audit_fleet.wait_for(CANCEL, task_id=task_id)
    (line,) = audit_lines(audit_fleet, task_id=task_id)
    assert line["outcome"] == "cancelled"
    assert line["principal"] == "anonymous"
    assert "session_id" not in line
    assert line["client"] == "127.0.0.1"
    assert line["tool"] == "wait_to_be_cancelled"
    assert line["request_id"]


def test_a_cancel_over_stdio_is_audited(audit_fleet: RunningFleet) -> None:
    front = stdio_front(audit_fleet, "--app", APP)
    try:
        front.send(stdio_initialize())
        front.result(0)
        params = {"name": "wait_to_be_cancelled", "arguments": {}, "task": {}}
        front.send(stdio_request("create", "tools/call", params))
        task_id = front.result("create")["task"]["taskId"]
        front.send(stdio_request("cancel", "tasks/cancel", {"taskId": task_id}))
        assert front.result("cancel")["status"] == "cancelled"
        front.close_stdin()
        assert front.wait_exit(deadline_s=20) == 0
        (line,) = [e for e in front.find(CANCEL, task_id=task_id) if e.get("audit") is True]
    finally:
        front.kill()
    assert line["outcome"] == "cancelled"
    assert line["client"] == "stdio"
    assert line["tool"] == "wait_to_be_cancelled"
    assert str(line["principal"]).startswith("local:")
    assert line["request_id"]


def test_an_operators_cancel_is_audited(http: httpx.Client, audit_fleet: RunningFleet) -> None:
    session = Session(http)
    created = session.result(
        "tools/call", {"name": "wait_to_be_cancelled", "arguments": {}, "task": {}}
    )
    task_id = str(created["task"]["taskId"])  # type: ignore[index]
    done = subprocess.run(
        [*MCPFLEET, "tasks", "cancel", task_id,
         "--redis", audit_fleet.redis_url, "--fleet", audit_fleet.fleet],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"task {task_id} cancelled\n"
    # The command logs at warning; its audit line is written all the same.
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if line.get("event") == CANCEL]
    assert line["audit"] is True
    assert line["task_id"] == task_id
    assert line["outcome"] == "cancelled"
    assert line["tool"] == "wait_to_be_cancelled"
    assert str(line["principal"]).startswith("operator:")
    assert "client" not in line  # an operator's command has no peer
    assert line["role"] == "cli"
    assert session.result("tasks/get", {"taskId": task_id})["status"] == "cancelled"


# --- the audit trail: every event names its requester alike ----------------------------------

# [auth] with a scoped tool, and [limits] with a burst of one call that does not refill
# during the test: a bearer caller meets each event of the trail.
guarded_fleet = module_fleet(
    APP,
    env={
        "MCPFLEET_WORKER__TASK_SLOTS": "0",
        "MCPFLEET_AUTH_JWT_SECRET": SECRET,
        "MCPFLEET_AUTH_ISSUER": ISSUER,
        "MCPFLEET_AUTH_AUDIENCE": AUDIENCE,
        "MCPFLEET_AUTH__TOOL_SCOPES": json.dumps({"login": ["admin"]}),
        "MCPFLEET_RATE_LIMIT_RATE": "0.01",
        "MCPFLEET_RATE_LIMIT_BURST": "1",
    },
    quiet=True,
)
REQUESTER = ("principal", "issuer", "session_id", "client")


def test_every_event_of_a_bearer_request_names_the_same_facts(guarded_fleet: RunningFleet) -> None:
    subject = "dave-" + secrets.token_hex(4)
    token = hs256(subject)
    with guarded_fleet.http() as http:
        http.headers["authorization"] = f"Bearer {token}"
        session = Session(http)
        created = session.result(
            "tools/call", {"name": "wait_to_be_cancelled", "arguments": {}, "task": {}}
        )  # the caller's burst of one
        task_id = created["task"]["taskId"]  # type: ignore[index]
        denied = session.post("tools/call", {"name": "login", "arguments": {}})
        assert denied.status_code == 403, denied.text  # refused before admission: free
        limited = session.post("tools/call", {"name": "keep", "arguments": {}})
        assert limited.status_code == 429, limited.text
        assert session.result("tasks/cancel", {"taskId": task_id})["status"] == "cancelled"
        del http.headers["authorization"]
        assert session.post("tools/list", {}).status_code == 401
    principal = f"bearer:{subject}"
    guarded_fleet.wait_for(CANCEL, principal=principal)
    (authz,) = guarded_fleet.find("authz.denied", principal=principal)
    (limit,) = guarded_fleet.find("limit.rejected", principal=principal)
    (cancel,) = guarded_fleet.find(CANCEL, principal=principal)
    expected = (principal, ISSUER, session.id, "127.0.0.1")
    for line, tool, outcome in [
        (authz, "login", "denied"),
        (limit, "keep", "rejected"),
        (cancel, "wait_to_be_cancelled", "cancelled"),
    ]:
        assert line["audit"] is True
        assert tuple(line[field] for field in REQUESTER) == expected, line
        assert (line["tool"], line["outcome"]) == (tool, outcome)
        assert str(line["request_id"]).startswith("f")
    assert len({authz["request_id"], limit["request_id"], cancel["request_id"]}) == 3
    assert limit["reason"] == "rate_limited"
    # Without a token there is nobody to name: the rest is written alike.
    guarded_fleet.wait_for("auth.failed", reason="missing")
    failed = guarded_fleet.find("auth.failed", reason="missing")[-1]
    assert "principal" not in failed and "issuer" not in failed
    assert failed["client"] == "127.0.0.1"
    assert failed["request_id"] and failed["outcome"] == "refused"
    assert token not in "".join(guarded_fleet.lines)
