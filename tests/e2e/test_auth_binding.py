"""Sessions, tasks and ``requestState`` belong to the principal that made them (ADR-0016,
checklist 55), against a real fleet: another principal presenting their ids gets exactly
the answer an unknown id gets (status, headers and body compared whole), in both eras,
and cannot end, cancel or continue them; the owner keeps them whatever token it presents
next (same issuer and subject), across sessions and eras."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trio

from tests.fixtures.bearer_http import (
    ACCEPT,
    LegacySession,
    bearer,
    modern,
    modern_call,
    post,
    result,
)
from tests.fixtures.fleet import RunningFleet, module_fleet
from tests.fixtures.tokens import AUDIENCE, ISSUER, SECRET, hs256
from tests.fixtures.waiting import wait_until_async

APP = "tests.fixtures.scoped_tools:app"
bound_fleet = module_fleet(
    APP,
    env={
        "MCPFLEET_AUTH_JWT_SECRET": SECRET,
        "MCPFLEET_AUTH_ISSUER": ISSUER,
        "MCPFLEET_AUTH_AUDIENCE": AUDIENCE,
    },
    quiet=True,
)

ALICE = hs256("alice", scope="jobs:run")
BOB = hs256("bob", scope="jobs:run")


@pytest.fixture
def http(bound_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with bound_fleet.http() as client:
        yield client


def _whole(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Everything a client sees of a response but the date."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in ("date",)]
    return response.status_code, headers, response.content


def _unknown_session() -> str:
    return secrets.token_hex(16)


def _unknown_task() -> str:
    return secrets.token_urlsafe(32)


# --- sessions -----------------------------------------------------------------------------


def test_another_principals_session_is_an_unknown_session(http: httpx.Client) -> None:
    alice = LegacySession(http, ALICE)
    unknown = _unknown_session()
    for method, params in (("tools/call", {"name": "echo", "arguments": {"text": "x"}}),
                           ("tools/list", {}), ("ping", None)):  # fmt: skip
        foreign = alice.request(method, params, token=BOB, rid=5)
        missing = alice.request(method, params, token=BOB, session_id=unknown, rid=5)
        assert foreign.status_code == 404
        assert _whole(foreign) == _whole(missing)

    # GET (the session's stream) and DELETE alike.
    def get(session_id: str) -> httpx.Response:
        headers = {**alice.headers(session_id), **bearer(BOB), "accept": ACCEPT}
        return http.get("/mcp", headers=headers)

    def delete(session_id: str) -> httpx.Response:
        return http.delete("/mcp", headers={**alice.headers(session_id), **bearer(BOB)})

    assert _whole(get(alice.session_id)) == _whole(get(unknown))
    assert _whole(delete(alice.session_id)) == _whole(delete(unknown))
    assert delete(alice.session_id).status_code == 404

    # Bob's DELETE ended nothing: the session is still alice's, with a fresh token too.
    fresh = hs256("alice", scope="files:read")
    echoed = alice.call("echo", {"text": "mine"}, token=fresh)
    assert result(echoed)["content"][0]["text"] == "mine"
    ended = http.delete("/mcp", headers={**alice.headers(), **bearer(fresh)})
    assert ended.status_code == 200
    assert alice.call("echo", {"text": "x"}).status_code == 404


def test_a_foreign_session_in_a_batch_is_an_unknown_session(http: httpx.Client) -> None:
    alice = LegacySession(http, ALICE, version="2025-03-26")
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}]
    foreign = post(http, batch, BOB, alice.headers())
    missing = post(http, batch, BOB, alice.headers(_unknown_session()))
    assert foreign.status_code == 404
    assert _whole(foreign) == _whole(missing)


# --- tasks ----------------------------------------------------------------------------------


def _legacy_task(session: LegacySession, ms: int = 60_000) -> str:
    params = {"name": "run_job", "arguments": {"ms": ms}, "task": {}}
    return str(result(session.request("tools/call", params))["task"]["taskId"])


def test_another_principals_task_is_an_unknown_task_2025_11_25(http: httpx.Client) -> None:
    task_id = _legacy_task(LegacySession(http, ALICE))
    bob = LegacySession(http, BOB)
    unknown = _unknown_task()
    for method in ("tasks/get", "tasks/result", "tasks/cancel"):
        foreign = bob.request(method, {"taskId": task_id}, rid=9)
        missing = bob.request(method, {"taskId": unknown}, rid=9)
        assert foreign.json()["error"]["code"] == -32602
        assert _whole(foreign) == _whole(missing)
    # Bob's list has none of alice's; his cancel cancelled nothing.
    assert result(bob.request("tasks/list", {}))["tasks"] == []
    other_session = LegacySession(http, hs256("alice", scope="jobs:run"))  # a new token too
    task = result(other_session.request("tasks/get", {"taskId": task_id}))
    assert task["status"] == "working"
    listed = result(other_session.request("tasks/list", {}))["tasks"]
    assert task_id in [t["taskId"] for t in listed]
    cancelled = result(other_session.request("tasks/cancel", {"taskId": task_id}))
    assert cancelled["status"] == "cancelled"


def test_another_principals_task_is_an_unknown_task_2026_07_28(http: httpx.Client) -> None:
    created = result(modern_call(http, ALICE, "run_job", {"ms": 60_000}, tasks=True))
    task_id = created["taskId"]
    unknown = _unknown_task()
    for method, params in (("tasks/get", {}), ("tasks/cancel", {}),
                           ("tasks/update", {"inputResponses": {}})):  # fmt: skip
        foreign = modern(http, BOB, method, {"taskId": task_id, **params}, name=task_id,
                         tasks=True, rid=3)  # fmt: skip
        missing = modern(http, BOB, method, {"taskId": unknown, **params}, name=unknown,
                         tasks=True, rid=3)  # fmt: skip
        assert foreign.status_code == 400
        assert foreign.json()["error"]["code"] == -32602
        # The bodies differ only by the id each request named in its header... which
        # neither body repeats: they are identical.
        assert _whole(foreign) == _whole(missing)
    mine = modern(http, ALICE, "tasks/get", {"taskId": task_id}, name=task_id, tasks=True)
    assert result(mine)["status"] == "working"
    # A task belongs to its principal across eras: alice's handshake-era session sees it.
    assert (
        result(LegacySession(http, ALICE).request("tasks/get", {"taskId": task_id}))["status"]
        == "working"
    )
    modern(http, ALICE, "tasks/cancel", {"taskId": task_id}, name=task_id, tasks=True)


# --- requestState ---------------------------------------------------------------------------


def test_a_request_state_is_bound_to_its_principal(http: httpx.Client) -> None:
    first = result(modern_call(http, ALICE, "ask_name", {}, elicitation=True))
    assert first["resultType"] == "input_required"
    retry = {
        "name": "ask_name",
        "arguments": {},
        "inputResponses": {"elicitation-1": {"action": "accept", "content": {"name": "Al"}}},
        "requestState": first["requestState"],
    }
    stolen = modern(http, BOB, "tools/call", retry, name="ask_name", elicitation=True)
    assert stolen.status_code == 400
    assert stolen.json()["error"]["code"] == -32602
    assert "issued to another client" in stolen.json()["error"]["message"]
    # Alice finishes her round, with a fresh token of hers.
    again = hs256("alice")
    done = modern(http, again, "tools/call", retry, name="ask_name", elicitation=True)
    assert result(done)["content"][0]["text"] == "hello Al"


async def _statuses_on_get_stream(
    url: str, session: LegacySession, token: str, heard: list[dict[str, Any]], primed: list[bool]
) -> None:
    """Read the session's GET stream (with ``token``) until cancelled, keeping every
    ``notifications/tasks/status``."""
    headers = {**session.headers(), **bearer(token), "accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=60) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            data = line.removeprefix("data:").strip() if line.startswith("data:") else None
            if data == "":
                primed.append(True)
            elif data:
                message = json.loads(data)
                if message.get("method") == "notifications/tasks/status":
                    heard.append(message["params"])


async def test_the_owners_get_stream_hears_its_tasks_and_only_them(
    bound_fleet: RunningFleet,
) -> None:
    with bound_fleet.http() as http:
        alice, bob = LegacySession(http, ALICE), LegacySession(http, BOB)
        alice_heard: list[dict[str, Any]] = []
        bob_heard: list[dict[str, Any]] = []
        primed: list[bool] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                _statuses_on_get_stream, bound_fleet.url, alice, ALICE, alice_heard, primed
            )
            nursery.start_soon(
                _statuses_on_get_stream, bound_fleet.url, bob, BOB, bob_heard, primed
            )
            await wait_until_async(lambda: len(primed) == 2, deadline_s=10, what="GET streams")
            # Created in another session of alice's: hers all the same.
            other = LegacySession(http, hs256("alice", scope="jobs:run"))
            task_id = await trio.to_thread.run_sync(_legacy_task, other, 0)
            await wait_until_async(
                lambda: (
                    [p["status"] for p in alice_heard if p["taskId"] == task_id] == ["completed"]
                ),
                deadline_s=15,
                what="alice's task to complete on her stream",
            )
            bobs = await trio.to_thread.run_sync(_legacy_task, bob, 0)
            await wait_until_async(
                lambda: any(p["taskId"] == bobs for p in bob_heard),
                deadline_s=15,
                what="bob's own task on his stream",
            )
            nursery.cancel_scope.cancel()
    assert all(p["taskId"] != task_id for p in bob_heard)
    assert all(p["taskId"] != bobs for p in alice_heard)
