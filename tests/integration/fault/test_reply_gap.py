"""A reply published while the front's subscription is down is kept in Redis and delivered
once the front resubscribes: the call is answered, not left to time out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import trio
from mcp import Client
from mcp_types import TextContent

from proto import CALL_GROUP, Keyspace
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until_async


async def test_a_reply_published_during_a_subscription_gap_still_reaches_the_caller(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    fleet: RunningFleet = start_fleet(private_redis, "gap", tmp_path)
    try:
        admin = private_redis.client()
        keys = Keyspace("gap")
        outcome: list[object] = []

        async def call() -> None:
            async with Client(fleet.url, mode="2026-07-28", read_timeout_seconds=60) as client:
                outcome.append(await client.call_tool("wait", {"ms": 1000}))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await wait_until_async(
                lambda: admin.xpending(keys.call_stream(), CALL_GROUP)["pending"] == 1,
                deadline_s=20,
                what="the call to be running",
            )
            # Cut the front's subscription and keep it from coming back for now.
            admin.execute_command("ACL", "SETUSER", "default", "-subscribe")
            admin.client_kill_filter(_type="pubsub")
            front_id = _front_id(fleet)
            await wait_until_async(
                lambda: admin.hlen(keys.kept_replies(front_id)) == 1,
                deadline_s=20,
                what="the worker to keep the reply nobody received",
            )
            admin.execute_command("ACL", "SETUSER", "default", "+subscribe")
        (result,) = outcome
        assert [b.text for b in result.content if isinstance(b, TextContent)] == ["waited 1000 ms"]  # type: ignore[attr-defined]
        assert admin.hlen(keys.kept_replies(front_id)) == 0
        fleet.wait_for("reply.recovered")
    finally:
        assert fleet.stop() == 0


def _front_id(fleet: RunningFleet) -> str:
    """The front's id is the ``--id`` of its process."""
    out = subprocess.run(["ps", "-ewwo", "args"], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if f"mcpfleet front --config-json {fleet.data_dir}" in line:
            return line.split("--id ", 1)[1].split()[0]
    raise AssertionError("no front process")
