"""Recovery from lost and hung workers (ADR-0014), with real processes: a worker killed
mid-call has its call answered at once (or, for an idempotent tool, run again on another
worker) and is replaced; a worker stopped with SIGSTOP is found hung, killed and replaced.

One fleet serves the module (heartbeats every 0.5 s, hung after 2 s: quick, yet with room
for a loaded test machine); each test leaves it with two ready workers."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator

import pytest
import redis
import trio
from mcp import Client, MCPError
from mcp_types import TextContent

from proto import CALL_GROUP, Keyspace
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async

APP = "tests.fixtures.recovery_tools:app"
HUNG_AFTER_S = 2.0


@pytest.fixture(scope="module")
def recovering(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server,
        "r" + uuid.uuid4().hex[:10],
        tmp_path_factory.mktemp("recovering"),
        app=APP,
        env={
            "MCPFLEET_WORKER__HEARTBEAT_INTERVAL_S": "0.5",
            "MCPFLEET_SUPERVISOR__HUNG_AFTER_S": str(HUNG_AFTER_S),
        },
    )
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])


def text_of(result: object) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]  # type: ignore[attr-defined]
    return blocks[0].text


def holder_pid(fleet: RunningFleet) -> tuple[str, int]:
    """The id and pid of the worker holding the one call in flight."""
    client = redis.Redis.from_url(fleet.redis_url)
    stream = Keyspace(fleet.fleet).call_stream()
    holder = client.xpending_range(stream, CALL_GROUP, "-", "+", 1)[0]["consumer"].decode()
    return holder, next(p for p in fleet.worker_pids() if holder in _cmdline(p))


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def two_ready_workers(fleet: RunningFleet, ready_before: int) -> None:
    """Wait for the replacement: one more ``worker.ready`` and two worker processes."""
    await fleet.wait_for_async("worker.ready", count=ready_before + 1, deadline_s=20)
    await wait_until_async(
        lambda: len(fleet.worker_pids()) == 2, deadline_s=10, what="two worker processes"
    )


async def call_in_background(
    fleet: RunningFleet, tool: str, arguments: dict[str, object], outcome: list[object]
) -> None:
    async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=60) as client:
        try:
            outcome.append(await client.call_tool(tool, arguments))
        except MCPError as exc:
            outcome.append(exc)


@pytest.mark.parametrize("tool", ["nap", "nap_blocking"])
async def test_a_busy_worker_killed_answers_its_call_within_2_s_and_is_replaced(
    recovering: RunningFleet, tool: str
) -> None:
    ready_before = len(recovering.find("worker.ready"))
    outcome: list[object] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(call_in_background, recovering, tool, {"ms": 60_000}, outcome)
        await recovering.wait_for_calls_taken()
        worker_id, pid = holder_pid(recovering)
        os.kill(pid, signal.SIGKILL)
        killed_at = trio.current_time()
        await wait_until_async(lambda: bool(outcome), deadline_s=10, what="the call's answer")
        answered_after_s = trio.current_time() - killed_at
    (error,) = outcome
    assert isinstance(error, MCPError)
    assert (error.code, error.data) == (-32603, {"reason": "worker_lost"})
    assert f"The worker running {tool!r} exited before answering" in error.message
    assert answered_after_s < 2.0
    await two_ready_workers(recovering, ready_before)
    assert pid not in recovering.worker_pids()
    (exited,) = recovering.find("worker.exited", child_id=worker_id)
    assert (exited["reason"], exited["exit_code"]) == ("killed", -9)
    async with Client(recovering.url, mode="2026-07-28", read_timeout_seconds=30) as client:
        assert text_of(await client.call_tool(tool, {"ms": 1})).endswith("1 ms")


async def test_an_idempotent_tools_call_on_a_killed_worker_runs_again_and_completes(
    recovering: RunningFleet,
) -> None:
    ready_before = len(recovering.find("worker.ready"))
    outcome: list[object] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(call_in_background, recovering, "nap_safely", {"ms": 1500}, outcome)
        await recovering.wait_for_calls_taken()
        worker_id, pid = holder_pid(recovering)
        os.kill(pid, signal.SIGKILL)
        await wait_until_async(lambda: bool(outcome), deadline_s=20, what="the call's answer")
    (result,) = outcome
    assert not isinstance(result, MCPError), result
    assert not result.is_error  # type: ignore[attr-defined]
    served_by = int(text_of(result))
    assert served_by != pid  # the second run's worker answered
    (redelivered,) = recovering.find("call.redelivered", worker_id=worker_id)
    assert (redelivered["tool"], redelivered["run"], redelivered["max_runs"]) == (
        "nap_safely",
        2,
        3,
    )
    assert recovering.find("worker.calls_settled", worker_id=worker_id, redelivered=1)
    client = redis.Redis.from_url(recovering.redis_url)
    stream = Keyspace(recovering.fleet).call_stream()
    assert client.xpending(stream, CALL_GROUP)["pending"] == 0
    assert client.xlen(stream) == 0
    await two_ready_workers(recovering, ready_before)


async def test_a_stopped_worker_is_found_hung_killed_and_replaced(
    recovering: RunningFleet,
) -> None:
    ready_before = len(recovering.find("worker.ready"))
    outcome: list[object] = []
    pid = 0
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call_in_background, recovering, "nap", {"ms": 60_000}, outcome)
            await recovering.wait_for_calls_taken()
            worker_id, pid = holder_pid(recovering)
            os.kill(pid, signal.SIGSTOP)
            stopped_at = trio.current_time()
            await wait_until_async(lambda: bool(outcome), deadline_s=15, what="the call's answer")
            answered_after_s = trio.current_time() - stopped_at
    finally:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    (hung,) = recovering.find("worker.hung", child_id=worker_id)
    assert hung["worker_pid"] == pid
    assert HUNG_AFTER_S < float(hung["heartbeat_age_s"]) < HUNG_AFTER_S + 1.0  # type: ignore[arg-type]
    # Detected within the threshold plus a check interval (and the last beat's age).
    assert answered_after_s < HUNG_AFTER_S + 1.5
    (error,) = outcome
    assert isinstance(error, MCPError)
    assert (error.code, error.data) == (-32603, {"reason": "worker_lost"})
    await two_ready_workers(recovering, ready_before)
    (exited,) = recovering.find("worker.exited", child_id=worker_id)
    assert (exited["reason"], exited["exit_code"]) == ("hung", -9)
    assert pid not in recovering.worker_pids()
    assert len(recovering.find("worker.hung")) == 1  # the healthy worker was never flagged
    async with Client(recovering.url, mode="2026-07-28", read_timeout_seconds=30) as client:
        assert text_of(await client.call_tool("nap", {"ms": 1})) == "napped 1 ms"
