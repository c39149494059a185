"""Several HTTP fronts on one port (``--fronts N``, ADR-0015): each binds the port with its
own ``SO_REUSEPORT`` socket and serves, and one killed under load takes only its own
requests down: the port keeps serving and the front is restarted on it."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.fixtures.fleet import MCPFLEET, ROOT, RunningFleet, clean_env, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until, wait_until_async

APP = "tests.fixtures.drain_tools:app"
MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}
HEADERS = {
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": MODERN,
    "mcp-method": "tools/call",
    "mcp-name": "traced_wait",
}


def traced_wait(ms: int) -> dict[str, object]:
    """A 2026-07-28 ``tools/call`` of ``traced_wait`` (answers with its request id)."""
    params = {"name": "traced_wait", "arguments": {"ms": ms}, "_meta": ENVELOPE}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


def answered_id(response: httpx.Response) -> str:
    """The request id a successful ``traced_wait`` answered with."""
    assert response.status_code == 200, response.text
    text = response.json()["result"]["content"][0]["text"]
    assert isinstance(text, str)
    return text


def front_slot(request_id: str) -> str:
    """``front-1`` of ``front-1-3fa2c1-17``: the slot whose front took the request."""
    return request_id.rsplit("-", 2)[0]


def front_child(request_id: str) -> str:
    """``front-1-3fa2c1`` of ``front-1-3fa2c1-17``: the front process that took it."""
    return request_id.rsplit("-", 1)[0]


@pytest.fixture(scope="module")
def fronts(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server, "f" + uuid.uuid4().hex[:10], tmp_path_factory.mktemp("fronts"),
        "--fronts", "2", app=APP,
    )  # fmt: skip
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


def test_every_front_listens_on_the_one_port_and_serves(fronts: RunningFleet) -> None:
    (ready,) = fronts.find("fleet.ready")
    assert ready["fronts"] == 2
    assert ready["urls"] == [fronts.url]  # one URL, not one per front
    port = int(fronts.url.rsplit(":", 1)[1].split("/")[0])
    pids = fronts.front_pids()
    assert len(pids) == 2
    listening = _listening_inodes(port)
    assert len(listening) == 2  # a socket each, not one shared
    for pid in pids:
        assert _socket_inodes(pid) & listening, f"front {pid} does not listen on {port}"
    # The kernel spreads new connections over both sockets.
    slots: collections.Counter[str] = collections.Counter()
    with httpx.Client(timeout=30, headers={"connection": "close"}) as http:

        def both_served() -> bool:
            slots[
                front_slot(answered_id(http.post(fronts.url, json=traced_wait(0), headers=HEADERS)))
            ] += 1
            return len(slots) == 2

        wait_until(both_served, deadline_s=30, what="a call served by each front")
    assert set(slots) == {"front-0", "front-1"}


async def test_a_killed_front_takes_only_its_requests_down_and_comes_back_on_the_port(
    fronts: RunningFleet,
) -> None:
    """Clients retry a call when its connection failed (up to twice): every call then
    succeeds. The failures are those the killed front held (cut mid-call) or had queued
    unaccepted (reset); the other front and the restarted one serve the rest."""
    before = {front_child(r) for r in await _calls_by_fresh_connections(fronts, 20)}
    victim_pid = _pid_of_slot(fronts, "front-0")
    outcomes: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    served_by: set[str] = set()
    killed = trio.Event()
    enough = trio.Event()

    async def client() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while not enough.is_set():
                response = None
                for _attempt in range(3):
                    try:
                        response = await http.post(
                            fronts.url, json=traced_wait(50), headers=HEADERS
                        )
                        break
                    except httpx.TransportError as exc:
                        # A retry's new connection may still land in the dying front's
                        # accept queue in the instant before the kernel closes it.
                        failures.append(type(exc).__name__)
                        outcomes["retried"] += 1
                assert response is not None, failures
                rid = answered_id(response)
                outcomes["after kill" if killed.is_set() else "before kill"] += 1
                served_by.add(front_child(rid))

    async with trio.open_nursery() as nursery:
        for _ in range(16):
            nursery.start_soon(client)
        await wait_until_async(
            lambda: outcomes["before kill"] >= 50, deadline_s=30, what="calls before the kill"
        )
        os.kill(victim_pid, signal.SIGKILL)
        killed.set()
        await fronts.wait_for_async("front.ready", count=3, deadline_s=30)
        await wait_until_async(
            lambda: outcomes["after kill"] >= 200, deadline_s=60, what="calls after the kill"
        )
        enough.set()
    (exited,) = fronts.find("front.exited")
    assert exited["exit_code"] == -signal.SIGKILL
    assert str(exited["child_id"]).startswith("front-0-")
    assert not os.path.exists(f"/proc/{victim_pid}")
    # At most one failure per client connection the killed front held or had queued, and
    # one more per client whose retry raced the listener's close.
    assert len(failures) <= 32
    assert set(failures) <= {"RemoteProtocolError", "ReadError", "ConnectError", "WriteError"}
    assert outcomes["retried"] == len(failures)
    # The restarted front takes new connections on the same port.
    restarted = {front_child(r) for r in await _calls_by_fresh_connections(fronts, 40)}
    assert any(r.startswith("front-0-") and r not in before for r in restarted), restarted
    assert len(fronts.front_pids()) == 2
    assert served_by  # calls kept being answered throughout


async def _calls_by_fresh_connections(fleet: RunningFleet, count: int) -> list[str]:
    """``count`` calls, each on a new connection (the kernel picks the front anew)."""
    ids = []
    async with httpx.AsyncClient(timeout=30, headers={"connection": "close"}) as http:
        for _ in range(count):
            ids.append(
                answered_id(await http.post(fleet.url, json=traced_wait(0), headers=HEADERS))
            )
    return ids


def _pid_of_slot(fleet: RunningFleet, slot: str) -> int:
    out = subprocess.run(
        ["pgrep", "-f", f"mcpfleet front --config-json {fleet.data_dir}.* --id {slot}-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    (pid,) = out.stdout.split()
    return int(pid)


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on ``port`` (any address), from /proc/net/tcp{,6}."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def test_fronts_with_stdio_are_refused_clearly(tmp_path: Path) -> None:
    result = subprocess.run(
        [*MCPFLEET, "up", "--stdio", "--fronts", "3", "--app", APP,
         "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("mcpfleet: error: --stdio serves one client through one front")
    assert "fronts = 3" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()  # refused before anything started
