"""Sessions live in Redis: a session opened through one front is served by another, and
ended through either (issue 3: no state in any front process)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.fleet import start_fleet
from tests.fixtures.redis_server import RedisServer

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
