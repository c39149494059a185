"""Rate limits through real fleets (ADR-0017): token buckets in Redis that every front
shares, so two fronts serving one fleet admit a caller's burst once between them; 429 with
``Retry-After`` and ``X-RateLimit-*`` (and the same facts in the JSON-RPC error) in both
eras, then admission again once the bucket refilled; per-tool buckets beside the caller's;
tasks counted like calls; the JSON-RPC error on stdio; an audit line and a count for each
refusal."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
import redis
from mcp import Client, MCPError
from mcp_types import TextContent

from proto import Keyspace
from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE, call, modern_headers
from tests.fixtures.fleet import (
    MCPFLEET,
    ROOT,
    RunningFleet,
    clean_env,
    module_fleet,
    start_pair,
    stop_pair,
)
from tests.fixtures.metrics import scrape, total
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.stdio_process import call as stdio_call
from tests.fixtures.stdio_process import initialize, stdio_front
from tests.fixtures.waiting import wait_until

TASKS = "io.modelcontextprotocol/tasks"
WITH_TASKS = {**ENVELOPE, "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}}}
REJECTIONS = "mcpfleet_rejections_total"


def post_echo(http: httpx.Client, url: str, text: str = "hi") -> httpx.Response:
    """A 2026-07-28 ``tools/call`` of ``echo`` (no session: any front takes it)."""
    body = call("echo", {"text": text}, meta=ENVELOPE)
    headers = {"accept": ACCEPT, **modern_headers("tools/call", "echo")}
    return http.post(url, json=body, headers=headers)


def assert_rate_limited(response: httpx.Response, *, burst: int, reason: str) -> dict[str, object]:
    """A 429 whose headers and JSON-RPC error tell the same story; the error's data."""
    assert response.status_code == 429, response.text
    retry = int(response.headers["retry-after"])
    assert retry >= 1
    assert response.headers["x-ratelimit-limit"] == str(burst)
    assert response.headers["x-ratelimit-remaining"] == "0"
    reset = int(response.headers["x-ratelimit-reset"])
    error = response.json()["error"]
    assert error["code"] == -31429
    data: dict[str, object] = error["data"]
    assert data["reason"] == reason
    assert (data["retryAfter"], data["limit"], data["remaining"], data["reset"]) == (
        retry,
        burst,
        0,
        reset,
    )
    return data


def test_two_fronts_share_one_bucket_that_refills(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Two fleets on one Redis and fleet name: two fronts of one deployment, on two ports.
    one, two = start_pair(
        redis_server,
        tmp_path_factory,
        env={"MCPFLEET_RATE_LIMIT_RATE": "0.5", "MCPFLEET_RATE_LIMIT_BURST": "3"},
    )
    try:
        assert one.url != two.url
        with httpx.Client(timeout=30) as http:
            # The burst of 3, spread over both fronts, is admitted once between them.
            answered = [
                post_echo(http, url, str(n)) for n, url in enumerate([one.url, two.url, one.url])
            ]
            assert [r.status_code for r in answered] == [200, 200, 200]
            assert [r.json()["result"]["content"][0]["text"] for r in answered] == ["0", "1", "2"]
            refused = post_echo(http, two.url)
            data = assert_rate_limited(refused, burst=3, reason="rate_limited")
            assert data["retryAfter"] in (1, 2)  # the next token is under 2 s away (0.5/s)
            # Front two refused it, and wrote the audit line; front one refused nothing.
            two.wait_for("limit.rejected", reason="rate_limited", tool="echo", outcome="rejected")
            audit = two.find("limit.rejected")[0]
            assert audit["audit"] is True
            assert audit["client"] == "127.0.0.1"
            assert audit["principal"] == "anonymous"
            assert "issuer" not in audit and "session_id" not in audit  # 2026-07-28, no token
            assert audit["tool"] == "echo" and audit["retry_after_s"] == data["retryAfter"]
            assert isinstance(audit["request_id"], str) and audit["request_id"]
            assert one.find("limit.rejected") == []
            # Once the bucket refilled, a call is admitted again (refusals charge nothing).
            refusals = {one.url: 0, two.url: 0}

            def admitted(url: str) -> bool:
                status = post_echo(http, url).status_code
                refusals[url] += status == 429
                return status == 200

            wait_until(
                lambda: admitted(one.url),
                deadline_s=int(data["retryAfter"]) + 10,  # type: ignore[call-overload]
                what="a call admitted once the bucket refilled",
            )
        # Every refusal was counted by the front that made it.
        assert total(scrape(two.url), REJECTIONS, reason="rate_limited") == 1
        assert total(scrape(one.url), REJECTIONS, reason="rate_limited") == refusals[one.url]
    finally:
        stop_pair(one, two)


limited_fleet = module_fleet(
    "examples.demo:app",
    env={
        "MCPFLEET_LIMITS__TOOL_RATES": json.dumps(
            {"add": {"rate": 0.01, "burst": 1}, "sleep_progress": {"rate": 0.01, "burst": 1}}
        )
    },
    quiet=True,
    doc="A fleet whose tools add and sleep_progress admit one call per caller (per 100 s).",
)


def text_of(result: object) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]  # type: ignore[attr-defined]
    return blocks[0].text


async def test_a_tool_limit_trips_while_other_tools_still_serve(
    limited_fleet: RunningFleet,
) -> None:
    async with Client(limited_fleet.url, mode="legacy", read_timeout_seconds=30) as client:
        assert text_of(await client.call_tool("add", {"a": 1, "b": 2})) == "3.0"
        with pytest.raises(MCPError) as refused:
            await client.call_tool("add", {"a": 1, "b": 2})
        assert text_of(await client.call_tool("echo", {"text": "still served"})) == "still served"
    error = refused.value.error
    assert error.code == -31429
    assert "'add'" in error.message
    assert isinstance(error.data, dict)
    assert error.data["reason"] == "tool_rate_limited"
    assert error.data["tool"] == "add"
    assert error.data["limit"] == 1
    assert error.data["retryAfter"] >= 90  # one token per 100 s
    # A handshake-era refusal is an HTTP 429 too, not a 200 with an error.
    with limited_fleet.http() as http:
        params = {"protocolVersion": "2025-11-25", "capabilities": {},
                  "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
        init = http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params},
            headers={"accept": ACCEPT},
        )
        session = {"accept": ACCEPT, "mcp-session-id": init.headers["mcp-session-id"]}
        again = http.post("/mcp", json=call("add", {"a": 1, "b": 1}, rid=7), headers=session)
    data = assert_rate_limited(again, burst=1, reason="tool_rate_limited")
    assert again.json()["id"] == 7
    assert data["tool"] == "add"


def test_a_task_is_counted_like_a_call_and_a_refused_one_is_never_created(
    limited_fleet: RunningFleet,
) -> None:
    keys = Keyspace(limited_fleet.fleet)
    queued = redis.Redis.from_url(limited_fleet.redis_url)
    body = call("sleep_progress", {"seconds": 0.01, "steps": 1}, meta=WITH_TASKS)
    headers = {"accept": ACCEPT, **modern_headers("tools/call", "sleep_progress")}
    with limited_fleet.http() as http:
        created = http.post("/mcp", json=body, headers=headers)
        assert created.status_code == 200, created.text
        assert created.json()["result"]["resultType"] == "task"
        tasks_before = len(queued.keys(keys.task("*")))
        refused = http.post("/mcp", json=body, headers=headers)
    data = assert_rate_limited(refused, burst=1, reason="tool_rate_limited")
    assert data["tool"] == "sleep_progress"
    assert len(queued.keys(keys.task("*"))) == tasks_before


def test_stdio_gets_the_json_rpc_error_for_its_local_user(shared_fleet: RunningFleet) -> None:
    env = {"MCPFLEET_RATE_LIMIT_RATE": "0.01", "MCPFLEET_RATE_LIMIT_BURST": "1"}
    front = stdio_front(shared_fleet, env=env)
    try:
        front.send(initialize(), stdio_call(1, "echo", {"text": "first"}))  # burst: 1
        assert front.result(1)["content"][0]["text"] == "first"
        front.send(stdio_call(2, "echo", {"text": "second"}))
        error = front.error(2)
        assert error["code"] == -31429
        assert error["data"]["reason"] == "rate_limited"
        assert error["data"]["limit"] == 1
        assert error["data"]["retryAfter"] >= 90
        (audit,) = front.find("limit.rejected", principal=f"local:{_local_user()}")
        assert (audit["client"], audit["tool"], audit["outcome"]) == ("stdio", "echo", "rejected")
        assert audit["request_id"]
        front.assert_stdout_was_protocol_only()
    finally:
        front.terminate()
        front.wait_exit(deadline_s=20)
    # Another stdio process of the same user, at 2026-07-28: the same user's bucket.
    other = stdio_front(shared_fleet, env=env)
    try:
        other.send(stdio_call(1, "echo", {"text": "modern"}, modern=True))
        error = other.error(1)
        assert error["code"] == -31429
        assert error["data"]["reason"] == "rate_limited"
    finally:
        other.terminate()
        other.wait_exit(deadline_s=20)


def _local_user() -> str:
    import getpass

    return getpass.getuser()


def test_a_tool_rate_for_a_tool_the_app_lacks_stops_up(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # A misspelt tool name would leave the tool it meant unlimited: refused at start, like
    # an unknown name in auth.tool_scopes.
    done = subprocess.run(
        [*MCPFLEET, "up", "--app", "examples.demo:app", "--redis", redis_server.url,
         "--http", "127.0.0.1:0", "--data-dir", str(tmp_path / "data")],
        env={
            **clean_env(),
            "MCPFLEET_LIMITS__TOOL_RATES": '{"echo": {"rate": 1}, "ehco": {"rate": 1}}',
        },
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "[limits] tool_rates names tools the app does not register: ehco" in done.stderr
    assert not (tmp_path / "data").exists()
