"""``subscriptions/listen`` (2026-07-28) on HTTP and stdio, and fleet-wide tools list
changes: the acknowledgement first with the listen id (same JSON type), only requested and
served kinds, a change announced by a front of another deployment reaching a stream held by
another front, handshake-era delivery (GET stream, stdio), the client ending a stream, and
a stopping front ending its streams with the complete result."""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import trio
from mcp import Client
from mcp.client.subscriptions import ToolsListChanged

from proto import ANNOUNCE_CATALOG, TOOLS_CHANGED, Keyspace, encode_announcement
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sse import events
from tests.fixtures.stdio_process import (
    ENVELOPE,
    MODERN,
    StdioProcess,
    initialize,
    notification,
    request,
    stdio_front,
)
from tests.fixtures.waiting import wait_until

ACCEPT = "application/json, text/event-stream"
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
LIST_CHANGED = "notifications/tools/list_changed"
ACKNOWLEDGED = "notifications/subscriptions/acknowledged"
OTHER_APP = "tests.fixtures.tools:app"
EXIT_DEADLINE_S = 15.0

Message = dict[str, Any]
DEMO_SERVER = {"name": "mcpfleet-demo", "version": "0.1.0", "title": "mcpfleet demo"}


# --- helpers ---------------------------------------------------------------------------------


def listen_request(rid: object, notifications: dict[str, object]) -> Message:
    params = {"notifications": notifications, "_meta": ENVELOPE}
    return {"jsonrpc": "2.0", "id": rid, "method": "subscriptions/listen", "params": params}


def modern_headers(method: str = "subscriptions/listen") -> dict[str, str]:
    return {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": method}


def messages(response: httpx.Response) -> Iterator[Message]:
    """The JSON-RPC messages of an SSE response (comments skipped)."""
    for event in events(response.iter_lines()):
        yield json.loads(event["data"])


def announce_change(fleet: RunningFleet) -> None:
    """Announce a tools change the way a front of another deployment does at start-up."""
    keys = Keyspace(fleet.fleet)
    client = redis.Redis.from_url(fleet.redis_url)
    client.eval(
        ANNOUNCE_CATALOG.source, 1, keys.catalog_digest(),
        secrets.token_hex(32), keys.change_channel(), encode_announcement(TOOLS_CHANGED),
    )  # fmt: skip


def tagged(message: Message) -> object:
    return message["params"]["_meta"][SUBSCRIPTION_ID]


def complete(rid: object) -> Message:
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "result": {
            "resultType": "complete",
            "_meta": {
                "io.modelcontextprotocol/serverInfo": DEMO_SERVER,
                SUBSCRIPTION_ID: rid,
            },
        },
    }


@pytest.fixture(scope="module")
def listen_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    """A fleet whose idle SSE streams get a keep-alive comment every 0.3 s."""
    env = {"MCPFLEET_FRONT__SSE_KEEPALIVE_S": "0.3"}
    name = "l" + secrets.token_hex(5)
    running = start_fleet(redis_server, name, tmp_path_factory.mktemp("listen"), env=env)
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


# --- HTTP --------------------------------------------------------------------------------------


@pytest.mark.parametrize("rid", [1, "1", "listen-a"])
def test_the_acknowledgement_comes_first_with_the_listen_id(
    listen_fleet: RunningFleet, rid: object
) -> None:
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST", listen_fleet.url, json=listen_request(rid, {"toolsListChanged": True}),
            headers=modern_headers(),
        ) as response,
    ):  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["x-accel-buffering"] == "no"
        ack = next(messages(response))
    assert ack == {
        "jsonrpc": "2.0",
        "method": ACKNOWLEDGED,
        "params": {"_meta": {SUBSCRIPTION_ID: rid}, "notifications": {"toolsListChanged": True}},
    }
    assert type(tagged(ack)) is type(rid)


@pytest.mark.parametrize(
    ("requested", "honoured"),
    [
        (
            {
                "toolsListChanged": True,
                "promptsListChanged": True,
                "resourcesListChanged": True,
                "resourceSubscriptions": ["file:///a"],
                "taskIds": ["t1"],
            },
            {"toolsListChanged": True},
        ),
        ({}, {}),
        ({"toolsListChanged": False, "promptsListChanged": True}, {}),
    ],
)
def test_only_requested_kinds_the_server_serves_are_acknowledged(
    listen_fleet: RunningFleet, requested: dict[str, object], honoured: dict[str, object]
) -> None:
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST", listen_fleet.url, json=listen_request(2, requested), headers=modern_headers()
        ) as response,
    ):
        ack = next(messages(response))
    assert ack["params"]["notifications"] == honoured


def test_a_change_from_a_front_of_another_deployment_reaches_a_stream_on_this_one(
    listen_fleet: RunningFleet,
) -> None:
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST", listen_fleet.url, json=listen_request(9, {"toolsListChanged": True}),
            headers=modern_headers(),
        ) as response,
    ):  # fmt: skip
        stream = messages(response)
        assert next(stream)["method"] == ACKNOWLEDGED
        # A front serving other tools joins the fleet (a rolling deploy): it announces.
        other = stdio_front(listen_fleet, app=OTHER_APP)
        try:
            change = next(stream)
            other.close_stdin()
            assert other.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0, other.log()
        finally:
            other.kill()
    assert change == {
        "jsonrpc": "2.0",
        "method": LIST_CHANGED,
        "params": {"_meta": {SUBSCRIPTION_ID: 9}},
    }
    [recorded] = other.find("catalog.recorded", kind="tools")
    assert recorded["announced"] is True


def test_closing_the_stream_ends_the_subscription_on_the_front(
    listen_fleet: RunningFleet,
) -> None:
    rid = "closed-" + secrets.token_hex(4)
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST", listen_fleet.url, json=listen_request(rid, {"toolsListChanged": True}),
            headers=modern_headers(),
        ) as response,
    ):  # fmt: skip
        assert next(messages(response))["method"] == ACKNOWLEDGED
    listen_fleet.wait_for("listen.ended", subscription_id=rid, ending="client_closed")


def test_an_idle_stream_gets_keepalive_comments(listen_fleet: RunningFleet) -> None:
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST", listen_fleet.url, json=listen_request(3, {}), headers=modern_headers()
        ) as response,
    ):
        lines = response.iter_lines()
        comment = next(line for line in lines if line.startswith(":"))
    assert comment == ": ping"


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        # notifications is required by the 2026-07-28 schema
        ({"_meta": ENVELOPE}, {}, 400, -32602),
        # the envelope is required, as for every request
        ({"notifications": {}}, {}, 400, -32602),
        ({"notifications": {}, "_meta": ENVELOPE}, {"mcp-protocol-version": "2099-01-01"}, 400,
         -32020),
        ({"notifications": {}, "_meta": {**ENVELOPE, "io.modelcontextprotocol/protocolVersion":
                                         "2099-01-01"}},
         {"mcp-protocol-version": "2099-01-01"}, 400, -32022),
        ({"notifications": {}, "_meta": ENVELOPE}, {"accept": "application/json"}, 406, -32600),
    ],
)  # fmt: skip
def test_listen_refusals_are_json_with_their_status(
    listen_fleet: RunningFleet,
    body: dict[str, object],
    headers: dict[str, str],
    status: int,
    code: int,
) -> None:
    message = {"jsonrpc": "2.0", "id": 4, "method": "subscriptions/listen", "params": body}
    response = httpx.post(
        listen_fleet.url, json=message, headers={**modern_headers(), **headers}, timeout=30
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code


def test_the_method_header_must_match_the_body(listen_fleet: RunningFleet) -> None:
    message = {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": ENVELOPE}}
    response = httpx.post(listen_fleet.url, json=message, headers=modern_headers(), timeout=30)
    assert response.status_code == 400
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 5,
        "error": {"code": -32020, "message": response.json()["error"]["message"]},
    }


def test_a_handshake_session_gets_list_changes_on_its_get_stream(
    listen_fleet: RunningFleet,
) -> None:
    with httpx.Client(timeout=30) as http:
        params = {"protocolVersion": "2025-11-25", "capabilities": {},
                  "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
        init = http.post(
            listen_fleet.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params},
            headers={"accept": ACCEPT},
        )
        assert init.json()["result"]["capabilities"]["tools"] == {"listChanged": True}
        session = {"mcp-session-id": init.headers["mcp-session-id"], "accept": ACCEPT}
        with http.stream("GET", listen_fleet.url, headers=session) as response:
            stream = events(response.iter_lines())
            assert next(stream)["data"] == ""  # priming
            announce_change(listen_fleet)
            change = json.loads(next(stream)["data"])
    assert change == {"jsonrpc": "2.0", "method": LIST_CHANGED}


def test_discover_declares_tools_list_changed(listen_fleet: RunningFleet) -> None:
    message = request(6, "server/discover", modern=True)
    response = httpx.post(
        listen_fleet.url, json=message, headers=modern_headers("server/discover"), timeout=30
    )
    assert response.json()["result"]["capabilities"]["tools"] == {"listChanged": True}


def test_a_stopping_front_ends_its_streams_with_the_complete_result_and_refuses_too_many(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    env = {"MCPFLEET_FRONT__MAX_LISTEN_STREAMS": "2"}
    fleet = start_fleet(redis_server, fleet_name, tmp_path, workers=1, env=env)
    try:
        with httpx.Client(timeout=30) as http:
            tools = http.stream(
                "POST", fleet.url, json=listen_request(1, {"toolsListChanged": True}),
                headers=modern_headers(),
            )  # fmt: skip
            prompts = http.stream(
                "POST", fleet.url, json=listen_request("b", {"promptsListChanged": True}),
                headers=modern_headers(),
            )  # fmt: skip
            with tools as tools_response, prompts as prompts_response:
                tools_stream = messages(tools_response)
                prompts_stream = messages(prompts_response)
                assert next(tools_stream)["method"] == ACKNOWLEDGED
                assert next(prompts_stream)["method"] == ACKNOWLEDGED
                third = http.post(
                    fleet.url, json=listen_request(3, {}), headers=modern_headers()
                )  # fmt: skip
                assert (third.status_code, third.json()["error"]["code"]) == (503, -32603)
                announce_change(fleet)
                assert next(tools_stream)["method"] == LIST_CHANGED
                fleet.process.send_signal(signal.SIGTERM)
                tools_rest = list(tools_stream)
                prompts_rest = list(prompts_stream)  # nothing but the end: no tools change
        assert tools_rest == [complete(1)]
        assert prompts_rest == [complete("b")]
        assert fleet.process.wait(timeout=30) == 0
        fleet.join_log()
        ended = fleet.find("listen.ended", ending="server_ended")
        assert sorted(str(e["subscription_id"]) for e in ended) == ["1", "b"]
        assert fleet.errors() == []
    finally:
        fleet.stop()


async def test_the_mcp_client_listens_and_sees_a_graceful_end(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = await trio.to_thread.run_sync(
        lambda: start_fleet(redis_server, fleet_name, tmp_path, workers=1)
    )
    try:
        async with Client(fleet.url, read_timeout_seconds=30) as client:
            assert client.protocol_version == MODERN
            async with client.listen(tools_list_changed=True, prompts_list_changed=True) as sub:
                assert sub.honored.tools_list_changed is True
                assert not sub.honored.prompts_list_changed
                await trio.to_thread.run_sync(announce_change, fleet)
                with trio.fail_after(30):
                    event = await anext(sub)
                assert isinstance(event, ToolsListChanged)
                fleet.process.send_signal(signal.SIGTERM)
                with trio.fail_after(30):
                    rest = [e async for e in sub]  # a graceful end: no SubscriptionLost
        assert rest == []
        assert await trio.to_thread.run_sync(lambda: fleet.process.wait(timeout=30)) == 0
    finally:
        await trio.to_thread.run_sync(fleet.stop)


# --- stdio ---------------------------------------------------------------------------------


@pytest.fixture
def front(listen_fleet: RunningFleet) -> Iterator[StdioProcess]:
    # A long end-of-input grace: open listens must not wait it out.
    process = stdio_front(listen_fleet, env={"MCPFLEET_FRONT__STDIO_EOF_GRACE_S": "60"})
    try:
        yield process
        assert process.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0, process.log()
        process.assert_stdout_was_protocol_only()
        assert process.errors() == [], process.errors()
    finally:
        process.kill()


def of(front: StdioProcess, rid: object) -> list[Message]:
    """Every message of subscription ``rid``: tagged frames, its response, cancellations."""

    def same(value: object) -> bool:
        return value == rid and type(value) is type(rid)

    def belongs(m: Message) -> bool:
        params = m.get("params", {})
        names = (m.get("id"), params.get("_meta", {}).get(SUBSCRIPTION_ID), params.get("requestId"))
        return any(same(name) for name in names)

    return [m for m in front.snapshot() if belongs(m)]


def wait_for_messages(front: StdioProcess, rid: object, count: int) -> list[Message]:
    wait_until(
        lambda: len(of(front, rid)) >= count or front.process.poll() is not None,
        deadline_s=30,
        what=f"{count} messages of subscription {rid!r}",
    )
    found = of(front, rid)
    assert len(found) >= count, front.log()
    return found


def ack(rid: object, notifications: dict[str, object]) -> Message:
    return {
        "jsonrpc": "2.0",
        "method": ACKNOWLEDGED,
        "params": {"_meta": {SUBSCRIPTION_ID: rid}, "notifications": notifications},
    }


def change(rid: object) -> Message:
    return {"jsonrpc": "2.0", "method": LIST_CHANGED, "params": {"_meta": {SUBSCRIPTION_ID: rid}}}


def ended(rid: object) -> list[Message]:
    cancelled = notification(
        "notifications/cancelled",
        {"requestId": rid, "reason": "The server ended the subscription"},
    )
    return [complete(rid), cancelled]


def test_stdio_listen_until_the_client_cancels_it(
    listen_fleet: RunningFleet, front: StdioProcess
) -> None:
    front.send(listen_request(7, {"toolsListChanged": True}))
    assert wait_for_messages(front, 7, 1) == [ack(7, {"toolsListChanged": True})]
    announce_change(listen_fleet)
    assert wait_for_messages(front, 7, 2)[1] == change(7)
    # The cancel is read before the discover behind it, so it has acted once that is answered.
    front.send(notification("notifications/cancelled", {"requestId": 7}))
    front.send(request("d", "server/discover", modern=True))
    front.result("d")
    # A second subscription sees the next change; the cancelled one gets nothing more.
    front.send(listen_request("probe", {"toolsListChanged": True}))
    wait_for_messages(front, "probe", 1)
    announce_change(listen_fleet)
    wait_for_messages(front, "probe", 2)
    front.close_stdin()
    assert front.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0
    assert of(front, 7) == [ack(7, {"toolsListChanged": True}), change(7)]  # no end at all
    assert of(front, "probe") == [
        ack("probe", {"toolsListChanged": True}),
        change("probe"),
        *ended("probe"),
    ]


@pytest.mark.parametrize("ending", ["end of input", "SIGTERM"])
def test_stdio_listens_end_with_the_complete_result_then_cancelled(
    front: StdioProcess, ending: str
) -> None:
    front.send(listen_request("s", {}), listen_request(8, {"toolsListChanged": True}))
    wait_for_messages(front, "s", 1)
    wait_for_messages(front, 8, 1)
    if ending == "SIGTERM":
        front.terminate()
    else:
        front.close_stdin()
    assert front.wait_exit(deadline_s=EXIT_DEADLINE_S) == 0  # well within the 60 s grace
    assert of(front, "s") == [ack("s", {}), *ended("s")]
    assert of(front, 8) == [ack(8, {"toolsListChanged": True}), *ended(8)]


def test_a_handshake_stdio_connection_gets_list_changes_once_initialized(
    listen_fleet: RunningFleet, front: StdioProcess
) -> None:
    front.send(initialize(0), notification("notifications/initialized"))
    assert front.result(0)["capabilities"]["tools"] == {"listChanged": True}
    announce_change(listen_fleet)
    wait_until(
        lambda: {"jsonrpc": "2.0", "method": LIST_CHANGED} in front.snapshot(),
        deadline_s=30,
        what="notifications/tools/list_changed",
    )
    front.close_stdin()


def test_listen_on_a_handshake_stdio_connection_is_an_unknown_method(front: StdioProcess) -> None:
    front.send(initialize(0), request(1, "subscriptions/listen", {"notifications": {}}))
    assert front.error(1)["code"] == -32601
    front.close_stdin()
