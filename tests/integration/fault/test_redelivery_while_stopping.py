"""While the fleet stops, its fronts drain first and the workers keep serving the calls those
fronts wait on: a worker lost then still has its idempotent call run again on another
(ADR-0014), rather than answered "worker lost" as once the workers themselves stop."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import trio
from mcp import Client, MCPError

from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async
from tests.integration.fault.test_worker_recovery import (
    APP,
    holder_pid,
    text_of,
)


async def call_while_stopping(fleet: RunningFleet, outcome: list[object]) -> None:
    """The call. The tool list is read first: the client reads it for the result's schema,
    and once the fleet stops no front takes a new request. Once answered, the client's own
    closing requests may find every front gone, which is not what this test is about."""
    try:
        async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=60) as client:
            await client.list_tools()
            outcome.append(await client.call_tool("nap_safely", {"ms": 1500}))
    except* Exception:
        if not outcome:
            raise


async def test_a_call_lost_while_the_fronts_drain_is_redelivered(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    fleet = start_fleet(redis_server, "s" + uuid.uuid4().hex[:10], tmp_path, app=APP)
    outcome: list[object] = []
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call_while_stopping, fleet, outcome)
            await fleet.wait_for_calls_taken()
            worker_id, pid = holder_pid(fleet)
            fleet.process.send_signal(signal.SIGTERM)
            # The front waits for its call in flight while the fleet stops.
            await fleet.wait_for_async("front.draining", deadline_s=10)
            os.kill(pid, signal.SIGKILL)
            await wait_until_async(lambda: bool(outcome), deadline_s=20, what="the answer")
        (result,) = outcome
        assert not isinstance(result, MCPError), result
        assert int(text_of(result)) != pid  # the second run's worker answered
        assert fleet.find("call.redelivered", worker_id=worker_id)
        assert fleet.process.wait(timeout=40) == 0
    finally:
        if fleet.process.poll() is None:
            fleet.process.kill()
            fleet.process.wait()
