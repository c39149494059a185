"""Per-tool scopes (ADR-0016) against a real fleet: a bearer caller sees in ``tools/list``
only the tools whose scopes it holds (all of them), and a call of another — plain or as a
task — and ``tasks/*`` about a task of one are refused with 403 ``insufficient_scope``
before a worker runs anything, in both eras and through the official client. The fleet's
``[auth] tool_scopes`` replaces what the decorator declares. stdio's local user is not
restricted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import MCPError

from tests.fixtures.bearer_http import (
    LegacySession,
    challenge,
    modern,
    modern_call,
    official_client,
    post,
    result,
)
from tests.fixtures.fleet import RunningFleet, module_fleet
from tests.fixtures.stdio_process import call as stdio_call
from tests.fixtures.stdio_process import initialize, request, stdio_front
from tests.fixtures.tokens import AUDIENCE, ISSUER, SECRET, hs256

APP = "tests.fixtures.scoped_tools:app"
AUTH_ENV = {
    "MCPFLEET_AUTH_JWT_SECRET": SECRET,
    "MCPFLEET_AUTH_ISSUER": ISSUER,
    "MCPFLEET_AUTH_AUDIENCE": AUDIENCE,
    "MCPFLEET_AUTH__TOOL_SCOPES": json.dumps({"deploy": ["ops:deploy"], "locked": []}),
}
scoped_fleet = module_fleet(APP, env=AUTH_ENV, quiet=True)

OPEN_TOOLS = ["echo", "open_job", "locked", "ask_name", "whoami"]
ALL_TOOLS = [
    "echo", "read_file", "write_file", "run_job", "open_job", "deploy", "locked", "ask_name",
    "whoami",
]  # fmt: skip
EVERY_SCOPE = "files:read files:write jobs:run ops:deploy"


@pytest.fixture
def http(scoped_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with scoped_fleet.http() as client:
        yield client


def _names(listing: dict[str, Any]) -> list[str]:
    return [tool["name"] for tool in listing["tools"]]


def _assert_403(
    response: httpx.Response, rid: object, required: list[str], missing: list[str]
) -> None:
    assert response.status_code == 403, response.text
    params = challenge(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == " ".join(required)
    assert params["resource_metadata"].endswith("/.well-known/oauth-protected-resource/mcp")
    body = response.json()
    assert body["id"] == rid
    assert body["error"]["code"] == -31403
    assert body["error"]["data"]["requiredScopes"] == required
    assert body["error"]["data"]["missingScopes"] == missing


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, OPEN_TOOLS),
        ("files:read", ["echo", "read_file", "open_job", "locked", "ask_name", "whoami"]),
        ("files:write", OPEN_TOOLS),  # write_file needs both scopes
        (EVERY_SCOPE, ALL_TOOLS),
    ],
)
def test_tools_list_leaves_out_what_the_token_may_not_call(
    http: httpx.Client, scope: str | None, expected: list[str]
) -> None:
    token = hs256(scope=scope)
    listed = result(modern(http, token, "tools/list"))
    assert _names(listed) == expected
    # What a listing holds depends on who asks: never cached for someone else.
    assert listed["cacheScope"] == "private"
    assert _names(result(LegacySession(http, token).request("tools/list"))) == expected


def test_a_call_without_the_scope_is_403_in_both_eras_and_reaches_no_worker(
    scoped_fleet: RunningFleet, http: httpx.Client
) -> None:
    token = hs256(scope="files:write")
    _assert_403(
        modern_call(http, token, "read_file", {"path": "/etc/x"}, rid=7),
        7,
        ["files:read"],
        ["files:read"],
    )
    session = LegacySession(http, token)
    _assert_403(
        session.call("write_file", {"path": "p", "text": "t"}, rid=8),
        8,
        ["files:read", "files:write"],
        ["files:read"],
    )
    _assert_403(
        session.call("deploy", {"target": "prod"}, rid=9), 9, ["ops:deploy"], ["ops:deploy"]
    )
    # The refused calls ran nowhere; the session goes on.
    assert result(session.call("echo", {"text": "still"}))["content"][0]["text"] == "still"
    assert scoped_fleet.find("scoped_tool.ran") == []


def test_with_the_scopes_the_calls_run(http: httpx.Client) -> None:
    token = hs256(scope=EVERY_SCOPE)
    assert result(modern_call(http, token, "read_file", {"path": "a"}))["content"][0]["text"] == (
        "contents of a"
    )
    session = LegacySession(http, token)
    written = result(session.call("write_file", {"path": "a", "text": "abc"}))
    assert written["content"][0]["text"] == "wrote 3 characters to a"
    assert result(session.call("deploy", {"target": "prod"}))["content"][0]["text"] == (
        "deployed prod"
    )
    # tool_scopes = [] opened what the decorator locked, even for a token without scopes.
    assert result(modern_call(http, hs256(), "locked", {}))["content"][0]["text"] == "unlocked"


def test_each_denial_is_audited_and_counted(scoped_fleet: RunningFleet, http: httpx.Client) -> None:
    token = hs256("carol", scope="files:read")
    response = modern_call(http, token, "write_file", {"path": "p", "text": "t"})
    assert response.status_code == 403
    scoped_fleet.wait_for("authz.denied", principal="bearer:carol")
    line = scoped_fleet.find("authz.denied", principal="bearer:carol")[-1]
    assert line["audit"] is True
    assert line["issuer"] == ISSUER
    assert line["tool"] == "write_file"
    assert line["required"] == ["files:read", "files:write"]
    assert line["missing"] == ["files:write"]
    assert line["request_id"] and line["method"] == "tools/call"
    assert line["client"] == "127.0.0.1" and line["outcome"] == "denied"
    assert not [entry for entry in scoped_fleet.lines if token in entry]
    metrics = http.get("/metrics").text
    assert 'mcpfleet_authz_denials_total{tool="write_file"}' in metrics


def test_the_401_challenge_asks_for_every_scope_a_tool_requires(http: httpx.Client) -> None:
    response = modern(http, None, "tools/list")
    assert response.status_code == 401
    # "admin" is not among them: tool_scopes opened the tool that declared it.
    assert challenge(response)["scope"] == EVERY_SCOPE


def test_a_task_of_a_scoped_tool_needs_the_scope_to_start_and_to_reach(
    http: httpx.Client,
) -> None:
    allowed = hs256("dave", scope="jobs:run")
    narrowed = hs256("dave", scope="files:read")  # dave again, without jobs:run

    # 2025-11-25: the task param, then tasks/get, tasks/result, tasks/cancel.
    session = LegacySession(http, allowed)
    created = result(
        session.request("tools/call", {"name": "run_job", "arguments": {}, "task": {}})
    )
    task_id = created["task"]["taskId"]
    _assert_403(
        session.request(
            "tools/call", {"name": "run_job", "arguments": {}, "task": {}}, token=narrowed, rid=2
        ),
        2,
        ["jobs:run"],
        ["jobs:run"],
    )
    for method in ("tasks/get", "tasks/result", "tasks/cancel"):
        response = session.request(method, {"taskId": task_id}, token=narrowed, rid=3)
        _assert_403(response, 3, ["jobs:run"], ["jobs:run"])
    assert result(session.request("tasks/result", {"taskId": task_id}))["content"][0]["text"] == (
        "job done"
    )

    # 2026-07-28 (the tasks extension): created, then tasks/get and tasks/cancel.
    made = result(modern_call(http, allowed, "run_job", {}, tasks=True))
    assert made["resultType"] == "task"
    modern_id = made["taskId"]
    _assert_403(
        modern_call(http, narrowed, "run_job", {}, tasks=True, rid=4), 4, ["jobs:run"], ["jobs:run"]
    )
    for method in ("tasks/get", "tasks/cancel"):
        response = modern(
            http, narrowed, method, {"taskId": modern_id}, name=modern_id, tasks=True, rid=5
        )
        _assert_403(response, 5, ["jobs:run"], ["jobs:run"])
    got = result(
        modern(http, allowed, "tasks/get", {"taskId": modern_id}, name=modern_id, tasks=True)
    )
    assert got["taskId"] == modern_id

    # A task of an open tool stays reachable with the narrowed token.
    opened = result(modern_call(http, narrowed, "open_job", {}, tasks=True))["taskId"]
    got = modern(http, narrowed, "tasks/get", {"taskId": opened}, name=opened, tasks=True)
    assert result(got)["taskId"] == opened


def test_handlers_see_the_bearer_principal(http: httpx.Client) -> None:
    token = hs256("erin", scope="files:read jobs:run")
    modern_who = result(modern_call(http, token, "whoami", {}))["structuredContent"]
    assert modern_who == {
        "kind": "bearer",
        "subject": "erin",
        "issuer": ISSUER,
        "session_id": "",
        "scopes": ["files:read", "jobs:run"],
    }
    session = LegacySession(http, token)
    legacy_who = result(session.call("whoami", {}))["structuredContent"]
    assert legacy_who == {**modern_who, "session_id": session.session_id}


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_official_client_sees_only_its_tools_and_gets_the_refusal(
    scoped_fleet: RunningFleet, mode: str
) -> None:
    async with official_client(scoped_fleet.url, hs256(scope="files:read"), mode) as client:
        listing = await client.list_tools()
        assert [tool.name for tool in listing.tools] == [
            "echo", "read_file", "open_job", "locked", "ask_name", "whoami",
        ]  # fmt: skip
        done = await client.call_tool("read_file", {"path": "x"})
        assert done.content[0].text == "contents of x"  # type: ignore[union-attr]
        with pytest.raises(MCPError) as info:
            await client.call_tool("write_file", {"path": "x", "text": "y"})
    assert info.value.code == -31403
    assert "files:write" in info.value.message


def test_stdio_is_the_local_user_and_not_restricted(scoped_fleet: RunningFleet) -> None:
    # The same [auth] settings: stdio has no token, its local user may call every tool.
    front = stdio_front(scoped_fleet, app=APP, env=AUTH_ENV)
    try:
        front.send(initialize(0))
        front.response(0)
        front.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        front.send(request(1, "tools/list"))
        assert _names(front.result(1)) == ALL_TOOLS
        front.send(stdio_call(2, "write_file", {"path": "p", "text": "t"}))
        assert front.result(2)["content"][0]["text"] == "wrote 1 characters to p"
        front.send(stdio_call(3, "whoami", {}))
        assert front.result(3)["structuredContent"]["kind"] == "local"
    finally:
        front.close_stdin()
        assert front.wait_exit(deadline_s=30) == 0


def test_in_a_2025_03_26_batch_a_denied_call_is_that_members_error(http: httpx.Client) -> None:
    token = hs256(scope="files:read")
    session = LegacySession(http, token, version="2025-03-26")
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
         "params": {"name": "read_file", "arguments": {"path": "a"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "write_file", "arguments": {"path": "a", "text": "b"}}},
    ]  # fmt: skip
    response = post(http, batch, token, session.headers())
    assert response.status_code == 200, response.text
    replies = {reply["id"]: reply for reply in response.json()}
    assert replies[1]["result"]["content"][0]["text"] == "contents of a"
    assert replies[2]["error"]["code"] == -31403
    assert replies[2]["error"]["data"]["missingScopes"] == ["files:write"]
