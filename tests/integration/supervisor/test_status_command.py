"""``mcpfleet status``: a running fleet's processes, load and queues, as a table and as
JSON — a front's requests served, in flight and streams open from its load record — exit 1
(said on stderr) when no supervisor runs for the fleet, 2 for usage errors."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import httpx
import msgspec
import redis
import trio
from mcp import Client

from proto import FrontLoad, Keyspace, decode_front_load
from supervisor.config import FleetConfig
from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.stdio_process import ENVELOPE, MODERN, request, stdio_front
from tests.fixtures.waiting import wait_until, wait_until_async

ACCEPT = "application/json, text/event-stream"


def _status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MCPFLEET, "status", *args],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=30, check=False,
    )  # fmt: skip


def _of(fleet: RunningFleet, *flags: str) -> subprocess.CompletedProcess[str]:
    return _status("--redis", fleet.redis_url, "--fleet", fleet.fleet, *flags)


def _json(fleet: RunningFleet) -> dict[str, object]:
    result = _of(fleet, "--json")
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


def _settled(fleet: RunningFleet) -> subprocess.CompletedProcess[str]:
    """``mcpfleet status`` once the document shows every process ready with its load: the
    supervisor writes it every second, so the first one may predate the front's ready
    report or its first load record."""
    last: list[subprocess.CompletedProcess[str]] = []

    def all_ready() -> bool:
        last[:] = [_of(fleet)]
        rows = [line.split() for line in last[0].stdout.splitlines()]
        children = [row for row in rows if row[1:2] in (["front"], ["worker"])]
        return (
            bool(children)
            and all(row[3] == "ready" for row in children)
            and all(row[6] != "-" for row in children)
        )

    wait_until(all_ready, deadline_s=15, what="every process ready in the status document")
    return last[0]


def _front_row(status: dict[str, object]) -> dict[str, object]:
    (supervisor,) = status["supervisors"]  # type: ignore[misc]
    (front,) = [p for p in supervisor["processes"] if p["role"] == "front"]
    assert isinstance(front, dict)
    return front


def _stored_front_row(fleet: RunningFleet) -> dict[str, object]:
    """The front's row as the supervisor stored it last (read from Redis directly: no
    process to start, so a wait can look often)."""
    keys = Keyspace(fleet.fleet)
    client = redis.Redis.from_url(fleet.redis_url)
    (supervisor_id,) = client.zrange(keys.supervisors(), 0, -1)
    document = client.get(keys.supervisor_status(supervisor_id.decode()))
    assert isinstance(document, bytes)
    return _front_row({"supervisors": [json.loads(document)]})


def _modern(method: str, name: str | None = None) -> dict[str, str]:
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": method}
    return headers if name is None else {**headers, "mcp-name": name}


def test_the_table_lists_every_process_of_a_running_fleet(shared_fleet: RunningFleet) -> None:
    result = _settled(shared_fleet)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"fleet '{shared_fleet.fleet}': 1 supervisor running"
    assert "2 workers (fixed at 2)" in result.stdout
    header = next(line for line in lines if line.strip().startswith("ID"))
    assert header.split() == [
        "ID", "ROLE", "PID", "STATE", "UPTIME", "RESTARTS", "SERVED", "INFLIGHT", "WAITING",
        "TASKS", "STREAMS",
    ]  # fmt: skip
    rows = {int(row[2]): row for row in (line.split() for line in lines) if row[1:2] in (
        ["supervisor"], ["front"], ["worker"])}  # fmt: skip
    assert {pid for pid, row in rows.items() if row[1] == "supervisor"} == {
        shared_fleet.process.pid
    }
    assert {pid for pid, row in rows.items() if row[1] == "front"} == set(shared_fleet.front_pids())
    assert {pid for pid, row in rows.items() if row[1] == "worker"} == set(
        shared_fleet.worker_pids()
    )
    assert all(row[3] in ("ready", "running") for row in rows.values())
    # A front's requests show under SERVED and INFLIGHT, its streams under STREAMS; a
    # worker's calls under the same two, and it has no streams.
    for row in rows.values():
        if row[1] == "front":
            assert row[6].isdigit() and row[7].isdigit() and row[10].isdigit(), row
            assert row[8:10] == ["-", "-"], row
        elif row[1] == "worker":
            assert row[6].isdigit() and row[10] == "-", row
    assert "  calls  0 queued" in result.stdout
    assert "scale events: none" in result.stdout


async def test_json_counts_the_calls_each_worker_served(shared_fleet: RunningFleet) -> None:
    async with Client(shared_fleet.url, mode="auto", read_timeout_seconds=30) as client:
        for _ in range(3):
            await client.call_tool("echo", {"text": "counted"})

    def served() -> int:
        status = _json(shared_fleet)
        (supervisor,) = status["supervisors"]  # type: ignore[misc]
        return sum(p["calls_served"] or 0 for p in supervisor["processes"] if p["role"] == "worker")

    last = -1

    def enough() -> bool:
        nonlocal last
        last = served()
        return last >= 3

    # Workers report what they served with each heartbeat (every 3 s by default).
    await wait_until_async(enough, deadline_s=15, what="the served calls in the status")
    status = await trio.to_thread.run_sync(_json, shared_fleet)
    assert status["fleet"] == shared_fleet.fleet
    (supervisor,) = status["supervisors"]  # type: ignore[misc]
    assert supervisor["state"] == "running"
    assert supervisor["pid"] == shared_fleet.process.pid
    assert (supervisor["workers_min"], supervisor["workers_max"], supervisor["workers"]) == (
        2, 2, 2,
    )  # fmt: skip
    for process in supervisor["processes"]:
        assert set(process) == {
            "id", "role", "pid", "state", "started_ms", "uptime_s", "restarts", "inflight",
            "calls_served", "waiting", "tasks_running", "requests_served", "requests_inflight",
            "streams_open", "crash_looping",
        }  # fmt: skip
        assert process["uptime_s"] > 0
        assert process["crash_looping"] is False
        if process["role"] != "front":
            assert process["requests_served"] is None and process["streams_open"] is None
    workers = [p for p in supervisor["processes"] if p["role"] == "worker"]
    assert all(p["inflight"] == 0 and p["waiting"] == 0 for p in workers)
    assert status["queues"] == {
        "calls_queued": 0,
        "calls_taken": 0,
        "oldest_call_wait_s": 0.0,
        "tasks_queued": 0,
        "oldest_task_wait_s": 0.0,
    }
    assert status["scale_events"] == []


async def test_a_fronts_row_counts_the_requests_it_served(shared_fleet: RunningFleet) -> None:
    fleet = shared_fleet
    # The front writes its load record every second; wait for the first in the document.
    await wait_until_async(
        lambda: _stored_front_row(fleet)["requests_served"] is not None,
        deadline_s=15,
        what="the front's load in the status document",
    )
    before = _stored_front_row(fleet)["requests_served"]
    assert isinstance(before, int)
    async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=30) as client:
        for _ in range(5):
            await client.call_tool("echo", {"text": "counted by the front"})
    front: dict[str, object] = {}

    def counted() -> bool:
        front.update(_front_row(_json(fleet)))
        served = front["requests_served"]
        return isinstance(served, int) and served >= before + 5

    # Through the command itself: what `mcpfleet status --json` prints.
    await wait_until_async(counted, deadline_s=15, what="5 more requests served by the front")
    assert front["pid"] in fleet.front_pids()
    assert front["state"] == "ready"
    assert (front["calls_served"], front["inflight"]) == (None, None)  # a worker's fields
    table = _of(fleet)
    (row,) = [line.split() for line in table.stdout.splitlines() if " front " in line]
    assert row[2] == str(front["pid"])
    assert int(row[6]) >= before + 5


async def test_a_fronts_row_shows_its_requests_in_flight_and_its_open_streams(
    shared_fleet: RunningFleet,
) -> None:
    fleet = shared_fleet
    listen = {
        "jsonrpc": "2.0",
        "id": "status-listen",
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": ENVELOPE},
    }
    slow = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "wait", "arguments": {"ms": 8000}, "_meta": ENVELOPE},
    }
    answers: list[httpx.Response] = []
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream(
            "POST", fleet.url, json=listen, headers=_modern("subscriptions/listen")
        ) as stream,
    ):
        assert stream.status_code == 200

        async def call() -> None:
            answers.append(
                await http.post(fleet.url, json=slow, headers=_modern("tools/call", "wait"))
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)

            def busy() -> bool:
                row = _stored_front_row(fleet)
                return row["requests_inflight"] == 1 and row["streams_open"] == 1

            await wait_until_async(busy, deadline_s=7, what="the call in flight, the stream open")
    assert answers[0].json()["result"]["content"] == [{"type": "text", "text": "waited 8000 ms"}]

    def idle() -> bool:
        row = _stored_front_row(fleet)
        return row["requests_inflight"] == 0 and row["streams_open"] == 0

    await wait_until_async(idle, deadline_s=10, what="nothing in flight, no stream open")


def test_a_stdio_front_counts_its_requests_and_listens_and_deletes_its_record_at_exit(
    shared_fleet: RunningFleet,
) -> None:
    fleet = shared_fleet
    client = redis.Redis.from_url(fleet.redis_url)
    front = stdio_front(fleet)
    record: list[FrontLoad] = []

    def its_record() -> FrontLoad | None:
        # `mcpfleet stdio` mints its own id: find its record by its pid.
        pattern = Keyspace(fleet.fleet).front_load("stdio-*")
        for key in client.scan_iter(match=pattern):
            data = client.get(key)
            if isinstance(data, bytes) and decode_front_load(data).pid == front.process.pid:
                return decode_front_load(data)
        return None

    def shows(served: int, streams: int) -> bool:
        found = its_record()
        record[:] = [] if found is None else [found]
        return (
            found is not None
            and found.requests_served >= served
            and (found.streams_open == streams)
        )

    try:
        echo = {"name": "echo", "arguments": {"text": "on stdio"}}
        front.send(request(1, "tools/call", echo, modern=True))
        front.result(1)
        front.send(request(2, "subscriptions/listen", {"notifications": {}}, modern=True))
        wait_until(lambda: shows(2, 1), deadline_s=15, what=f"a call and a listen: {record}")
        assert record[0].requests_inflight == 0
        front.close_stdin()  # the listen ends, then the front
        assert front.wait_exit(deadline_s=15) == 0, front.log()
    finally:
        front.kill()
    assert its_record() is None


def test_a_fleet_without_a_supervisor_exits_1_and_says_so(redis_server: RedisServer) -> None:
    name = "s" + uuid.uuid4().hex[:10]
    result = _status("--redis", redis_server.url, "--fleet", name)
    assert result.returncode == 1
    assert result.stderr == f"mcpfleet: no supervisor is running for fleet '{name}'\n"
    assert f"fleet '{name}': 0 supervisors running" in result.stdout
    as_json = _status("--redis", redis_server.url, "--fleet", name, "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["supervisors"] == []


def test_a_data_dir_where_no_fleet_runs_exits_1(tmp_path: Path) -> None:
    result = _status("--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"no fleet runs from {tmp_path}" in result.stderr
    assert result.stdout == ""


def test_a_stopped_fleets_data_dir_exits_1(tmp_path: Path) -> None:
    # What a stopped `mcpfleet up` leaves: its record, naming a Redis that is gone.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = FleetConfig(redis_url="redis://127.0.0.1:1/0", fleet="gone")
    (run_dir / "fleet.json").write_bytes(msgspec.json.encode(record))
    result = _status("--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no supervisor is running for fleet 'gone'" in result.stderr
    assert "does not answer" in result.stderr


def test_a_given_redis_that_does_not_answer_is_an_error() -> None:
    result = _status("--redis", "redis://127.0.0.1:1/0")
    assert result.returncode == 2
    assert result.stderr.startswith("mcpfleet: error: cannot connect to Redis")


def test_usage_errors_exit_2() -> None:
    assert _status("--no-such-flag").returncode == 2
    bad = _status("--redis", "ftp://nowhere")
    assert bad.returncode == 2
    assert "mcpfleet: error:" in bad.stderr
