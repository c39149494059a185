"""Sessions live in Redis: a session opened through one front is served by another, and
ended through either (issue 3: no state in any front process)."""

from __future__ import annotations

from pathlib import Path

import httpx
import redis

from proto import Keyspace
from tests.e2e.test_sse_streams import open_session
from tests.fixtures.fleet import start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until

ACCEPT = "application/json, text/event-stream"


def test_a_session_opened_on_one_front_continues_on_another(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    one = start_fleet(redis_server, fleet_name, tmp_path / "one", workers=1)
    two = start_fleet(redis_server, fleet_name, tmp_path / "two", workers=1)
    try:
        assert one.url != two.url
        with httpx.Client(timeout=30) as http:
            params = {"protocolVersion": "2025-11-25", "capabilities": {},
                      "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
            init = http.post(
                one.url,
                json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params},
                headers={"accept": ACCEPT},
            )
            session = {"mcp-session-id": init.headers["mcp-session-id"], "accept": ACCEPT}
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            assert http.post(two.url, json=initialized, headers=session).status_code == 202
            body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": "via two"}}}  # fmt: skip
            answer = http.post(two.url, json=body, headers=session)
            assert answer.json()["result"]["content"][0]["text"] == "via two"
            assert http.delete(two.url, headers=session).status_code == 200
            assert http.post(one.url, json=body, headers=session).status_code == 404
    finally:
        assert one.stop() == 0
        assert two.stop() == 0


def test_an_idle_sse_stream_gets_keepalive_comments(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = start_fleet(
        redis_server, fleet_name, tmp_path, workers=1,
        env={"MCPFLEET_FRONT__SSE_KEEPALIVE_S": "0.1"},
    )  # fmt: skip
    try:
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "progressToken": 7,
        }
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "sleep_progress", "arguments": {"seconds": 1.0, "steps": 2},
                           "_meta": meta}}  # fmt: skip
        headers = {"accept": ACCEPT, "mcp-protocol-version": "2026-07-28",
                   "mcp-method": "tools/call", "mcp-name": "sleep_progress"}  # fmt: skip
        with httpx.Client(timeout=30) as http:
            response = http.post(fleet.url, json=body, headers=headers)
        assert response.headers["content-type"] == "text/event-stream"
        frames = response.text.split("\r\n\r\n")
        # Half a second passes between the two progress events: several pings fill it.
        assert frames.count(": ping") >= 2
        assert '"slept 1 s in 2 steps"' in frames[-2]
    finally:
        assert fleet.stop() == 0


def test_an_idle_session_expires_and_is_then_unknown(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    fleet = start_fleet(
        redis_server, fleet_name, tmp_path, workers=1,
        env={"MCPFLEET_FRONT__SESSION_IDLE_TTL_S": "1"},
    )  # fmt: skip
    try:
        with httpx.Client(timeout=30) as http:
            session = open_session(http, fleet.url)
            session_id = session["mcp-session-id"]
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            assert http.post(fleet.url, json=ping, headers=session).status_code == 200
            # Watch Redis, not the front: asking the front would keep the session alive.
            key = Keyspace(fleet_name).session(session_id)
            store = redis.Redis.from_url(redis_server.url)
            assert 0 < store.pttl(key) <= 1000
            wait_until(lambda: not store.exists(key), deadline_s=10, what="the session to expire")
            expired = http.post(fleet.url, json=ping, headers=session)
            assert expired.status_code == 404
            assert expired.json()["error"]["code"] == -32600
            assert http.delete(fleet.url, headers=session).status_code == 404
    finally:
        assert fleet.stop() == 0
