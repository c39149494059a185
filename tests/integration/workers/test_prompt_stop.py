"""A worker told to stop does not wait for its blocked reads: the call stream's
``XREADGROUP … BLOCK`` is ended from the worker's other connection (``CLIENT UNBLOCK``), and
the task threads' rq dequeues likewise (ADR-0005 update)."""

from __future__ import annotations

import uuid
from pathlib import Path

from proto import Keyspace
from tests.fixtures.fleet import start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tasks import noting_runs
from tests.fixtures.waiting import wait_until
from workers.task_threads import TaskThreads


def test_a_worker_blocked_in_a_minute_long_read_stops_without_being_killed(
    redis_server: RedisServer, tmp_path: Path, fleet_name: str
) -> None:
    # Without the unblock, the worker would sit in its read past the supervisor's stop
    # timeout (5 s) and be killed.
    fleet = start_fleet(
        redis_server, fleet_name, tmp_path, workers=1,
        env={"MCPFLEET_WORKER__READ_BLOCK_MS": "60000"},
    )  # fmt: skip
    assert fleet.stop(timeout_s=30) == 0
    assert len(fleet.find("worker.stopped")) == 1
    assert fleet.find("child.killed") == []
    assert fleet.errors() == []


def test_idle_task_threads_end_at_once_though_their_dequeue_blocks_for_a_minute(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    threads = TaskThreads(
        redis_server.url, Keyspace("t" + uuid.uuid4().hex[:10]), "w-" + uuid.uuid4().hex[:8], 2
    )
    threads.poll_s = 60
    threads.start(noting_runs(client, "unused"))

    def blocked() -> bool:
        clients = {c["name"]: c["cmd"] for c in client.client_list()}
        return all(clients.get(name) == "blmove" for name in threads.names)

    wait_until(blocked, deadline_s=10, what="both threads blocked in their dequeue")
    threads.request_stop()
    assert threads.join(20.0)  # a minute without the unblock
    assert threads.alive == 0
