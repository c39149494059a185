"""Input limits against a real fleet (ADR-0018, docs/security.md "Input limits"): an
oversized body (declared or chunked) gets 413, a deeply nested one 400, over-long arguments
-32602 naming the argument, over HTTP in both eras and over stdio; nothing refused reaches a
worker, and the front keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import redis

from proto import Keyspace
from tests.e2e.test_http_bad_input import (
    ACCEPT,
    ENVELOPE,
    MODERN,
    assert_error,
    call,
    modern_headers,
    open_session,
)
from tests.fixtures.fleet import RunningFleet, module_fleet
from tests.fixtures.stdio_process import StdioProcess, stdio_front
from tests.fixtures.stdio_process import call as stdio_call
from tests.fixtures.stdio_process import initialize as stdio_initialize

APP = "tests.fixtures.hardening_tools:app"
LIMITS = {
    "MCPFLEET_FRONT__MAX_BODY_BYTES": str(512 * 1024),
    "MCPFLEET_FRONT__MAX_ARGUMENTS_BYTES": str(64 * 1024),
    "MCPFLEET_FRONT__MAX_ARGUMENT_STRING_CHARS": "1000",
    "MCPFLEET_FRONT__MAX_ARGUMENT_ITEMS": "100",
}
VERSIONS = ("2025-06-18", "2025-11-25", MODERN)
OVER_LONG = (
    ({"text": "x" * 1001}, "$.text", "a string of 1001 characters"),
    ({"rows": list(range(101))}, "$.rows", "an array of 101 items"),
    ({"text": "y" * 70_000}, "$", "bytes of arguments, over the limit of 65536 bytes"),
)

limits_fleet = module_fleet(APP, env=LIMITS, quiet=True)


@pytest.fixture
def http(limits_fleet: RunningFleet) -> Iterator[httpx.Client]:
    with limits_fleet.http() as client:
        yield client
        # Whatever the test sent, the front still serves a call from the same client.
        after = answer(client, call("keep", {"text": "after"}), "2025-06-18")
        assert after == "5 characters, 0 rows"


def post(
    client: httpx.Client,
    body: object | bytes,
    version: str,
    *,
    chunks: Iterator[bytes] | None = None,
) -> httpx.Response:
    """POST ``body`` (or ``chunks``, sent chunked) at ``version`` (a fresh session in the
    handshake era)."""
    headers = {"content-type": "application/json", "accept": ACCEPT}
    if version == MODERN:
        headers.update(modern_headers("tools/call", "keep"))
    else:
        headers["mcp-protocol-version"] = version
        headers["mcp-session-id"] = open_session(client, version)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/mcp", content=content if chunks is None else chunks, headers=headers)


def keep_call(arguments: object, version: str, rid: object = 1) -> dict[str, object]:
    return call("keep", arguments, rid=rid, meta=ENVELOPE if version == MODERN else None)


def answer(client: httpx.Client, body: dict[str, object], version: str) -> object:
    response = post(client, body, version)
    assert response.status_code == 200, response.text
    return response.json()["result"]["content"][0]["text"]


def last_enqueued(fleet: RunningFleet) -> bytes:
    """The id of the last call ever added to the call stream (deleted entries count)."""
    info = redis.Redis.from_url(fleet.redis_url).xinfo_stream(Keyspace(fleet.fleet).call_stream())
    last: bytes = info["last-generated-id"]
    return last


@pytest.mark.parametrize("version", ["2025-06-18", MODERN])
def test_a_declared_body_over_the_limit_is_413(http: httpx.Client, version: str) -> None:
    huge = json.dumps(keep_call({"text": "x" * (600 * 1024)}, version)).encode()
    assert_error(post(http, huge, version), 413, -32600, None)


def test_a_chunked_body_over_the_limit_is_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"keep",'
        yield b'"arguments":{"text":"'
        for _ in range(80):
            yield b"x" * 8192
        yield b'"}}}'

    response = post(http, b"", "2025-06-18", chunks=chunks())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    error = assert_error(response, 413, -32600, None)
    assert f"limit of {512 * 1024} bytes" in str(error["message"])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("levels", [65, 100_000])
def test_a_deeply_nested_body_is_a_clear_400(
    http: httpx.Client, limits_fleet: RunningFleet, version: str, levels: int
) -> None:
    before = last_enqueued(limits_fleet)
    nested = "[" * levels + "]" * levels
    body = json.dumps(keep_call({"rows": "NESTED"}, version, rid=5))
    response = post(http, body.replace('"NESTED"', nested).encode(), version)
    error = assert_error(response, 400, -32600, 5 if levels == 65 else None)
    assert "nested deeper than 64 levels" in str(error["message"])
    assert last_enqueued(limits_fleet) == before


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", OVER_LONG)
def test_over_long_arguments_are_invalid_params_naming_the_argument(
    http: httpx.Client,
    limits_fleet: RunningFleet,
    version: str,
    case: tuple[dict[str, object], str, str],
) -> None:
    arguments, path, what = case
    before = last_enqueued(limits_fleet)
    marker = f"refused-{version}-{path}"
    response = post(http, keep_call({**arguments, "marker": marker}, version, rid=3), version)
    error = assert_error(response, 400 if version == MODERN else 200, -32602, 3)
    assert f"argument {path} is" in str(error["message"])
    assert what in str(error["message"])
    data = error["data"]
    assert isinstance(data, dict) and data["argument"] == path
    # Never enqueued, never run: the next call is, and the refused one is not.
    assert last_enqueued(limits_fleet) == before
    assert answer(http, keep_call({"marker": "next"}, version), version) == "0 characters, 0 rows"
    assert limits_fleet.find("hardening_tool.ran", marker=marker) == []


def test_arguments_at_the_bounds_are_served(http: httpx.Client) -> None:
    arguments = {"text": "x" * 1000, "rows": list(range(100))}
    assert answer(http, keep_call(arguments, MODERN), MODERN) == "1000 characters, 100 rows"


@pytest.fixture
def stdio(limits_fleet: RunningFleet) -> Iterator[StdioProcess]:
    front = stdio_front(limits_fleet, "--app", APP, env=LIMITS)
    try:
        yield front
        front.close_stdin()
        assert front.wait_exit(deadline_s=20) == 0
        front.assert_stdout_was_protocol_only()
        assert front.errors() == []
    finally:
        front.kill()


@pytest.mark.parametrize("modern", [False, True])
def test_stdio_applies_the_same_bounds(
    stdio: StdioProcess, limits_fleet: RunningFleet, modern: bool
) -> None:
    if not modern:
        stdio.send(stdio_initialize())
        stdio.result(0)
    nested = {"rows": json.loads("[" * 65 + "]" * 65)}
    stdio.send(
        *(
            stdio_call(f"over-{i}", "keep", {**arguments, "marker": f"stdio-{i}"}, modern=modern)
            for i, (arguments, _, _) in enumerate(OVER_LONG)
        ),
        stdio_call("deep", "keep", nested, modern=modern),
        stdio_call("ok", "keep", {"text": "fine"}, modern=modern),
    )
    assert stdio.result("ok")["content"][0]["text"] == "4 characters, 0 rows"
    for i, (_, path, what) in enumerate(OVER_LONG):
        error = stdio.error(f"over-{i}")
        assert error["code"] == -32602
        assert f"argument {path} is" in error["message"]
        assert what in error["message"]
        assert limits_fleet.find("hardening_tool.ran", marker=f"stdio-{i}") == []
    deep = stdio.error("deep")
    assert deep["code"] == -32600
    assert "nested deeper than 64 levels" in deep["message"]
