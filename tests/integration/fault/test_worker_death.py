"""Killing workers with SIGKILL: the supervisor replaces them at once and settles the calls
they held, so every accepted call is answered."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest
import redis
import trio
from mcp import Client, MCPError
from mcp_types import TextContent

from proto import CALL_GROUP, Keyspace
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until, wait_until_async


def text_of(result: object) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]  # type: ignore[attr-defined]
    return blocks[0].text


async def test_an_idle_worker_killed_is_replaced_and_the_next_call_succeeds(
    fleet: RunningFleet,
) -> None:
    before = fleet.worker_pids()
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    fleet.wait_for("worker.ready", count=3)
    wait_until(lambda: len(fleet.worker_pids()) == 2, deadline_s=10, what="two workers again")
    after = fleet.worker_pids()
    assert before[0] not in after and before[1] in after
    async with Client(fleet.url, mode="legacy", read_timeout_seconds=30) as client:
        for i in range(6):  # enough calls to reach both workers
            assert text_of(await client.call_tool("echo", {"text": str(i)})) == str(i)
    assert fleet.find("worker.exited")


# Tools not declared idempotent: their calls are answered "worker lost", never run again
# (an idempotent tool's would be redelivered: tests/integration/fault/test_worker_recovery.py).
@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("sleep_progress", {"seconds": 60, "steps": 1}), ("cpu_burn", {"ms": 60_000})],
)
async def test_a_call_in_flight_on_a_killed_worker_gets_a_clear_error_at_once(
    fleet: RunningFleet, tool: str, arguments: dict[str, object]
) -> None:
    stream = Keyspace(fleet.fleet).call_stream()
    sync_redis = redis.Redis.from_url(fleet.redis_url)
    outcome: list[BaseException | object] = []

    async def long_call() -> None:
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=60) as client:
            try:
                outcome.append(await client.call_tool(tool, arguments))
            except MCPError as exc:
                outcome.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(long_call)
        await fleet.wait_for_calls_taken()
        holder = sync_redis.xpending_range(stream, CALL_GROUP, "-", "+", 1)[0]["consumer"].decode()
        pid = next(p for p in fleet.worker_pids() if holder in _cmdline(p))
        os.kill(pid, signal.SIGKILL)
        with trio.fail_after(10):  # far below the 60 s the tool would have taken
            await wait_until_async(lambda: bool(outcome), deadline_s=10, what="the call's answer")
    (error,) = outcome
    assert isinstance(error, MCPError)
    assert error.code == -32603
    assert "exited before answering" in error.message
    assert sync_redis.xpending(stream, CALL_GROUP)["pending"] == 0
    assert sync_redis.xlen(stream) == 0
    fleet.wait_for("worker.calls_settled", count=1)


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().replace(b"\0", b" ").decode()


async def test_calls_held_by_workers_of_a_killed_supervisor_are_answered_on_restart(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    stream = Keyspace(fleet_name).call_stream()
    sync_redis = redis.Redis.from_url(redis_server.url)
    first = start_fleet(redis_server, fleet_name, tmp_path / "first", workers=1)
    outcome: list[object] = []

    async def long_call() -> None:
        async with Client(first.url, mode="2026-07-28", read_timeout_seconds=60) as client:
            with contextlib.suppress(BaseException):
                # Not idempotent: the call is answered, never redelivered to the new fleet.
                outcome.append(
                    await client.call_tool("sleep_progress", {"seconds": 60, "steps": 1})
                )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(long_call)
        await first.wait_for_calls_taken()
        # The whole fleet dies at once: no supervisor is left to settle the call.
        for pid in [*first.worker_pids(), first.process.pid]:
            os.kill(pid, signal.SIGKILL)
        nursery.cancel_scope.cancel()
    first.process.wait()
    assert sync_redis.xpending(stream, CALL_GROUP)["pending"] == 1
    second = start_fleet(redis_server, fleet_name, tmp_path / "second", workers=1)
    try:
        # Once the dead worker's heartbeat expires, the new supervisor settles its call.
        await wait_until_async(
            lambda: sync_redis.xpending(stream, CALL_GROUP)["pending"] == 0,
            deadline_s=60,
            what="the orphaned call to be settled",
        )
        second.wait_for("worker.calls_settled")
        assert sync_redis.xlen(stream) == 0
    finally:
        assert second.stop() == 0
