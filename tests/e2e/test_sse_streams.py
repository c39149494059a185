"""Handshake-era SSE streams (issue 3): the session's standalone GET stream, event ids and
the 2025-11-25 priming event, a POST stream dropped and resumed with ``Last-Event-ID`` on
another front without losing events, server-to-client pings, and each refusal's status."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import redis
from mcp import Client
from mcp_types import TextContent

from proto import APPEND_EVENT, Keyspace
from tests.fixtures.fleet import RunningFleet, start_pair, stop_pair
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sse import events
from tests.fixtures.switching_proxy import open_switching_proxy

ACCEPT = "application/json, text/event-stream"


def open_session(http: httpx.Client, url: str, version: str = "2025-11-25") -> dict[str, str]:
    params = {"protocolVersion": version, "capabilities": {},
              "clientInfo": {"name": "t", "version": "1"}}  # fmt: skip
    init = http.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params},
        headers={"accept": ACCEPT},
    )
    return {"mcp-session-id": init.headers["mcp-session-id"], "accept": ACCEPT}


def progress_call(rid: int, *, seconds: float, steps: int) -> dict[str, object]:
    """A ``sleep_progress`` call that asks for progress (so it is answered over SSE)."""
    arguments = {"seconds": seconds, "steps": steps}
    params = {"name": "sleep_progress", "arguments": arguments, "_meta": {"progressToken": "p"}}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


def store_event(fleet: RunningFleet, session_id: str, message: dict[str, object]) -> str:
    """Store a message on the session's standalone stream, as any fleet process would."""
    keys = Keyspace(fleet.fleet)
    client = redis.Redis.from_url(fleet.redis_url)
    entry = client.eval(
        APPEND_EVENT.source, 1, keys.session_events(session_id, "g"),
        keys.session_event_channel(session_id), "g", json.dumps(message), "0", 1000, 60_000,
    )  # fmt: skip
    return entry.decode()


@pytest.fixture(scope="module")
def pair(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningFleet, RunningFleet]]:
    """Two fronts of one deployment, sending session pings every 0.3 s."""
    env = {"MCPFLEET_FRONT__SESSION_PING_INTERVAL_S": "0.3"}
    one, two = start_pair(redis_server, tmp_path_factory, env=env)
    yield one, two
    stop_pair(one, two)


def test_the_get_stream_primes_then_delivers_stored_events(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    one, two = pair
    with httpx.Client(timeout=30) as http:
        session = open_session(http, one.url)
        with http.stream("GET", two.url, headers=session) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream"
            stream = events(response.iter_lines())
            priming = next(stream)
            assert priming["data"] == "" and priming["id"].startswith("g/")
            assert priming["retry"] == "1000"
            note = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
            entry = store_event(one, session["mcp-session-id"], note)
            event = next(e for e in stream if "ping" not in e.get("data", ""))
            assert json.loads(event["data"]) == note
            assert event["id"] == f"g/{entry}"
            # A second GET of the same session, not resuming, is refused while this lives.
            second = http.get(one.url, headers=session)
            assert second.status_code == 409
            assert second.json()["error"]["code"] == -32600


def test_the_get_stream_sends_pings_the_client_answers(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    one, _ = pair
    with httpx.Client(timeout=30) as http:
        session = open_session(http, one.url)
        with http.stream("GET", one.url, headers=session) as response:
            stream = events(response.iter_lines())
            ping = json.loads(next(e for e in stream if e.get("data"))["data"])
        assert ping["method"] == "ping"
        answer = {"jsonrpc": "2.0", "id": ping["id"], "result": {}}
        assert http.post(one.url, json=answer, headers=session).status_code == 202


def test_a_dropped_post_stream_resumes_on_another_front_without_loss(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    one, two = pair
    with httpx.Client(timeout=30) as http:
        session = open_session(http, one.url)
        call = progress_call(5, seconds=1.5, steps=3)
        seen: list[dict[str, str]] = []
        with http.stream("POST", one.url, json=call, headers=session) as response:
            assert response.headers["content-type"] == "text/event-stream"
            stream = events(response.iter_lines())
            seen.append(next(stream))  # priming
            seen.append(next(stream))  # first progress; then the client drops the stream
        assert seen[0]["data"] == "" and "retry" in seen[0]
        resume = {**session, "last-event-id": seen[1]["id"]}
        with http.stream("GET", two.url, headers=resume) as response:
            assert response.status_code == 200
            rest = list(events(response.iter_lines()))  # ends after the final response
    messages = [json.loads(e["data"]) for e in [seen[1], *rest]]
    progress = [m["params"]["progress"] for m in messages if m.get("method")]
    assert progress == [1, 2, 3]
    assert messages[-1]["id"] == 5
    assert messages[-1]["result"]["content"][0]["text"] == "slept 1.5 s in 3 steps"
    ids = [e["id"] for e in [seen[1], *rest]]
    assert len(set(ids)) == len(ids)
    assert all(i.split("/")[0] == ids[0].split("/")[0] for i in ids)  # one stream


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"accept": "application/json"}, 406),
        ({"last-event-id": "not an id"}, 400),
        ({"last-event-id": "abc/1-0"}, 400),  # a stream that never existed
    ],
)
def test_get_refusals(
    pair: tuple[RunningFleet, RunningFleet], headers: dict[str, str], status: int
) -> None:
    one, _ = pair
    with httpx.Client(timeout=30) as http:
        session = open_session(http, one.url)
        response = http.get(one.url, headers={**session, **headers})
    assert response.status_code == status
    assert response.json()["error"]["code"] == -32600


def test_get_needs_a_live_session(pair: tuple[RunningFleet, RunningFleet]) -> None:
    one, _ = pair
    with httpx.Client(timeout=30) as http:
        missing = http.get(one.url, headers={"accept": ACCEPT})
        unknown = http.get(one.url, headers={"accept": ACCEPT, "mcp-session-id": "nope"})
    assert missing.status_code == 400
    assert unknown.status_code == 404


def test_older_sessions_get_ids_but_no_priming_event(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    one, _ = pair
    with httpx.Client(timeout=30) as http:
        session = open_session(http, one.url, version="2025-06-18")
        call = progress_call(5, seconds=0.2, steps=2)
        with http.stream("POST", one.url, json=call, headers=session) as response:
            received = list(events(response.iter_lines()))
    assert all(e["data"] for e in received)
    assert all("/" in e["id"] for e in received)
    assert json.loads(received[-1]["data"])["id"] == 5


async def test_the_official_client_resumes_a_dropped_stream_on_another_front(
    pair: tuple[RunningFleet, RunningFleet],
) -> None:
    """The mcp client opens its session through front one; the connection carrying its call
    breaks after the first progress event and every later connection reaches front two, as
    behind a load balancer that lost a front. The client resumes with Last-Event-ID by itself
    and receives every progress report and the result."""
    one, two = pair
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with (
        open_switching_proxy(one.url, two.url, cut_after=b"notifications/progress") as proxy,
        Client(proxy.url, mode="legacy", read_timeout_seconds=30) as client,
    ):
        result = await client.call_tool(
            "sleep_progress", {"seconds": 1.5, "steps": 3}, progress_callback=on_progress
        )
    assert proxy.cut.is_set()
    assert one.url.endswith(f":{proxy.upstreams[0]}/mcp")  # the session began on front one
    assert two.url.endswith(f":{proxy.upstreams[-1]}/mcp")  # and the rest came from two
    assert isinstance(result.content[0], TextContent)
    assert result.content[0].text == "slept 1.5 s in 3 steps"
    assert progress == [1, 2, 3]
