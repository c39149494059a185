"""``Mcp-Param-*`` headers (2026-07-28 over HTTP) must mirror the arguments a tool marks with
``x-mcp-header`` (``workers.Header``): accepted when they agree after decoding, 400 + -32020
otherwise (mcp-protocol.md 5.3, 5.4 step 7), and the official client mirrors them itself."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from mcp import Client
from mcp_types import TextContent

from tests.e2e.test_http_bad_input import (
    ACCEPT,
    ENVELOPE,
    assert_error,
    call,
    modern_headers,
    post,
)
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer


@pytest.fixture(scope="module")
def tools_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server, "p" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fleet"),
        workers=1, app="tests.fixtures.tools:app",
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


@pytest.fixture
def http(tools_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with tools_fleet.http() as client:
        yield client


ROUTED_ARGS = {"region": "eu", "shard": 7, "dry_run": True}
ROUTED_HEADERS = {"mcp-param-region": "eu", "mcp-param-shard": "7", "mcp-param-dry-run": "true"}


def post_routed(
    http: httpx.Client,
    arguments: dict[str, object],
    params: dict[str, str] | list[tuple[str, str]],
) -> httpx.Response:
    body = json.dumps(call("routed", arguments, rid="r", meta=ENVELOPE)).encode()
    headers = [
        ("content-type", "application/json"),
        ("accept", ACCEPT),
        *modern_headers("tools/call", "routed").items(),
        *(params.items() if isinstance(params, dict) else params),
    ]
    return http.post("/mcp", content=body, headers=headers)


@pytest.mark.parametrize(
    ("arguments", "params", "text"),
    [
        (ROUTED_ARGS, ROUTED_HEADERS, "eu/7/True"),
        # Base64-wrapped values are decoded before comparing.
        (
            {"region": "Hello, 世界"},
            {"mcp-param-region": "=?base64?SGVsbG8sIOS4lueVjA==?="},
            "Hello, 世界/0/False",
        ),
        # Integers compare numerically; header names are case-insensitive.
        (
            {"region": "eu", "shard": 7},
            {"MCP-PARAM-REGION": "eu", "Mcp-Param-Shard": "7.0"},
            "eu/7/False",
        ),
        # An absent argument sends no header; unknown Mcp-Param-* headers are ignored.
        (
            {"region": "eu"},
            {"mcp-param-region": "eu", "mcp-param-other": "x"},
            "eu/0/False",
        ),
    ],
)
def test_mcp_param_headers_that_mirror_the_arguments_are_accepted(
    http: httpx.Client, arguments: dict[str, object], params: dict[str, str], text: str
) -> None:
    response = post_routed(http, arguments, params)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["content"][0]["text"] == text


@pytest.mark.parametrize(
    ("arguments", "params", "reason"),
    [
        ({"region": "eu"}, {}, "Mcp-Param-Region is missing"),
        ({"region": "eu"}, {"mcp-param-region": "us"}, "does not equal"),
        ({"region": "eu"}, {"mcp-param-region": "eu", "mcp-param-shard": "1"}, "is absent"),
        (
            {"region": "eu", "shard": 7},
            {"mcp-param-region": "eu", "mcp-param-shard": "07"},
            "does not equal",
        ),
        (
            {"region": "eu", "dry_run": True},
            {"mcp-param-region": "eu", "mcp-param-dry-run": "True"},
            "does not equal",
        ),
        ({"region": "Hello"}, {"mcp-param-region": "=?base64?SGVsbG8?="}, "malformed"),
        ({"region": "Hello"}, {"mcp-param-region": "=?base64?SGVs!!!bG8=?="}, "malformed"),
        ({"region": "eu"}, [("mcp-param-region", "eu"), ("mcp-param-region", "eu")], "once"),
    ],
)
def test_mcp_param_header_mismatch_is_32020(
    http: httpx.Client,
    arguments: dict[str, object],
    params: dict[str, str] | list[tuple[str, str]],
    reason: str,
) -> None:
    error = assert_error(post_routed(http, arguments, params), 400, -32020, "r")
    assert reason in str(error["message"])


def test_mcp_param_headers_are_not_checked_in_the_handshake_era(http: httpx.Client) -> None:
    response = post(http, body=call("routed", {"region": "eu"}), version="2025-11-25")
    assert response.status_code == 200, response.text
    assert response.json()["result"]["content"][0]["text"] == "eu/0/False"


async def test_the_official_client_mirrors_the_headers_itself(tools_fleet: RunningFleet) -> None:
    async with Client(tools_fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["routed"].input_schema["properties"]["region"]["x-mcp-header"] == "Region"
        result = await client.call_tool(
            "routed", {"region": "Zürich ", "shard": 3, "dry_run": False}
        )
    assert isinstance(result.content[0], TextContent)
    assert result.content[0].text == "Zürich /3/False"
