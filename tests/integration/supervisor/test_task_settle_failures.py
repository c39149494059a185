"""One unreadable task record must not keep a lost worker's other tasks started, nor take the
supervisor down (and with it every later ``mcpfleet up``, which sweeps at start). Records and
rq jobs are written into a real Redis as a worker that then died would have left them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import cast

import redis
import trio
from rq.registry import StartedJobRegistry

from proto import Keyspace, TaskField, TaskStatus
from supervisor.task_reaper import StuckTaken, TaskSettler
from tests.fixtures.fleet import start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tasks import create_task, read_task


def started_by_dead_worker(
    client: redis.Redis,
    fleet: str,
    tool: str,
    *,
    garbage_spec: bool = False,
    worker_id: str | None = None,
) -> str:
    """A task whose run a worker (long dead, no heartbeat; ``worker_id`` or a new one) took:
    in rq's started registry, its record naming that worker's task thread; with
    ``garbage_spec``, a spec that no longer decodes."""
    keys = Keyspace(fleet)
    task_id = create_task(client, fleet, tool, {"seconds": 1})
    thread = f"{worker_id or f'worker-0-{uuid.uuid4().hex[:6]}'}-task-0"
    with client.pipeline() as pipe:
        # As a task thread registers a run (workers/task_threads.py, ADR-0020).
        pipe.zadd(keys.task_started(), {f"{task_id}:{thread}": float("inf")})
        pipe.hset(keys.task_job(task_id), mapping={"status": "started", "worker_name": thread})
        pipe.lrem(keys.task_queue_list(), 0, task_id)  # taken off the queue
        fields: dict[str, str | int] = {TaskField.WORKER.value: thread, TaskField.ATTEMPTS.value: 1}
        if garbage_spec:
            fields[TaskField.SPEC.value] = "{not a spec"
        pipe.hset(keys.task(task_id), mapping=fields)
        pipe.execute()
    return task_id


def started_ids(client: redis.Redis, fleet: str) -> list[str]:
    keys = Keyspace(fleet)
    queue_registry = StartedJobRegistry(keys.task_queue(), connection=client)
    return queue_registry.get_job_ids(cleanup=False)


async def test_the_sweep_fails_the_unreadable_task_and_settles_the_others(
    redis_server: RedisServer, fleet_name: str
) -> None:
    client = redis_server.client()
    good_before = started_by_dead_worker(client, fleet_name, "nap_once")
    garbage = started_by_dead_worker(client, fleet_name, "nap_once", garbage_spec=True)
    good_after = started_by_dead_worker(client, fleet_name, "nap_once")
    assert sorted(started_ids(client, fleet_name)) == sorted([good_before, garbage, good_after])
    ended: list[TaskStatus] = []
    settler = TaskSettler(redis_server.url, Keyspace(fleet_name), on_ended=ended.append)
    try:
        with trio.fail_after(30):
            assert await settler.sweep() == 3
    finally:
        settler.close()
    for task_id in (good_before, good_after):
        record = read_task(client, fleet_name, task_id)
        assert record["status"] == "failed"
        assert "Worker lost" in record["message"]
    broken = read_task(client, fleet_name, garbage)
    assert broken["status"] == "failed"
    assert "could not be settled" in broken["message"]
    assert "unreadable_task" in broken["outcome"]
    assert ended == [TaskStatus.FAILED] * 3
    # Nothing left started: the next sweep does not trip on it again.
    assert started_ids(client, fleet_name) == []


def command_calls(client: redis.Redis, command: str) -> int:
    stats = cast(dict[str, dict[str, int]], client.info("commandstats"))
    return stats.get(f"cmdstat_{command}", {}).get("calls", 0)


async def test_a_worker_exit_reads_the_fleets_started_tasks_in_one_pass(
    redis_server: RedisServer, fleet_name: str
) -> None:
    """One exit must not cost a round trip per started task of the whole fleet: the runners
    are read together, and only the lost worker's own task record is read whole."""
    client = redis_server.client()
    others = [
        started_by_dead_worker(client, fleet_name, "nap_once", worker_id="worker-1-aaaaaa")
        for _ in range(20)
    ]
    mine = started_by_dead_worker(client, fleet_name, "nap_once", worker_id="worker-2-bbbbbb")
    hgetall_before = command_calls(client, "hgetall")
    settler = TaskSettler(redis_server.url, Keyspace(fleet_name), on_ended=lambda _status: None)
    try:
        with trio.fail_after(30):
            assert await settler.worker_exited("worker-2-bbbbbb") == 1
    finally:
        settler.close()
    assert read_task(client, fleet_name, mine)["status"] == "failed"
    assert sorted(started_ids(client, fleet_name)) == sorted(others)
    # Settling the one task reads a few hashes (its record, rq's job); a read per started
    # task of the fleet would be 20 more.
    assert command_calls(client, "hgetall") - hgetall_before < len(others)


async def test_a_run_registered_by_an_rq_worker_is_settled_by_the_sweep(
    redis_server: RedisServer, fleet_name: str
) -> None:
    """A member naming no task thread (rq's own ``<job>:<execution uuid>``, left by a fleet
    of an earlier version) belongs to no live worker."""
    client = redis_server.client()
    keys = Keyspace(fleet_name)
    task_id = started_by_dead_worker(client, fleet_name, "nap_once")
    client.delete(keys.task_started())
    client.zadd(keys.task_started(), {f"{task_id}:{uuid.uuid4().hex}": 1e12})
    settler = TaskSettler(redis_server.url, keys, on_ended=lambda _status: None)
    try:
        with trio.fail_after(30):
            assert await settler.worker_exited("worker-0-zzzzzz") == 0
            assert await settler.sweep() == 1
    finally:
        settler.close()
    assert read_task(client, fleet_name, task_id)["status"] == "failed"
    assert started_ids(client, fleet_name) == []


def test_a_task_taken_and_never_started_goes_back_first_in_line_after_a_minute(
    redis_server: RedisServer, fleet_name: str
) -> None:
    """A worker that died between taking a task off the queue and registering it left the
    id in rq's intermediate list; the sweep puts it back once it stayed there a minute,
    and never touches one that is moving through (started, or seen only just now)."""
    client = redis_server.client()
    keys = Keyspace(fleet_name)
    stuck = create_task(client, fleet_name, "nap_once", {"seconds": 1})
    client.lrem(keys.task_queue_list(), 0, stuck)
    client.rpush(keys.task_queue_taken(), stuck)
    queued = create_task(client, fleet_name, "nap_once", {"seconds": 1})
    taken = StuckTaken(keys)
    assert taken.requeue(client, 1000.0) == 0  # first seen
    assert taken.requeue(client, 1000.0 + StuckTaken.STUCK_AFTER_S - 1) == 0
    late = create_task(client, fleet_name, "nap_once", {"seconds": 1})  # just taken
    client.lrem(keys.task_queue_list(), 0, late)
    client.rpush(keys.task_queue_taken(), late)
    assert taken.requeue(client, 1000.0 + StuckTaken.STUCK_AFTER_S) == 1
    assert client.lrange(keys.task_queue_list(), 0, -1) == [stuck.encode(), queued.encode()]
    assert client.lrange(keys.task_queue_taken(), 0, -1) == [late.encode()]


def test_up_starts_and_settles_despite_an_unreadable_task(
    redis_server: RedisServer, fleet_name: str, tmp_path: Path
) -> None:
    client = redis_server.client()
    garbage = started_by_dead_worker(client, fleet_name, "nap_once", garbage_spec=True)
    good = started_by_dead_worker(client, fleet_name, "nap_once")
    # start_fleet waits for fleet.ready: the sweep at start must not kill the supervisor.
    fleet = start_fleet(
        redis_server, fleet_name, tmp_path, workers=1, app="tests.fixtures.task_tools:app"
    )
    try:
        assert fleet.find("task.settle_failed", task_id=garbage)
        assert read_task(client, fleet_name, good)["status"] == "failed"
        assert read_task(client, fleet_name, garbage)["status"] == "failed"
    finally:
        assert fleet.stop() == 0, "".join(fleet.lines[-40:])
