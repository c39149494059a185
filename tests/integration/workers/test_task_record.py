"""A worker's writes of task records against a real Redis: ``TASK_TRANSITION`` loaded on
first use, ended and expired tasks left alone, progress coalesced and never written past the
end (asyncio tests run in a sync test: the suite's async mode is trio)."""

from __future__ import annotations

import asyncio
import json

from proto import Keyspace, TaskField, TaskStatus, parse_redis_url
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tasks import create_task, read_task
from workers.redis_connection import AsyncRedis
from workers.task_progress import TaskProgress
from workers.task_record import TaskRecords, Transition


def test_transitions_count_runs_and_leave_ended_or_missing_tasks_alone(
    redis_server: RedisServer, fleet_name: str
) -> None:
    client = redis_server.client()
    client.script_flush()  # the first transition must load the script itself
    task_id = create_task(client, fleet_name, "add_later")

    async def scenario() -> list[Transition]:
        redis = AsyncRedis(parse_redis_url(redis_server.url), command_timeout_s=5)
        records = TaskRecords(redis, Keyspace(fleet_name))
        answers = [
            await records.transition(
                task_id, TaskStatus.WORKING, count_run=True, fields={TaskField.WORKER: "w-task-0"}
            ),
            await records.transition(task_id, TaskStatus.CANCELLED),
            await records.transition(task_id, TaskStatus.COMPLETED),
            await records.transition("no-such-task", TaskStatus.COMPLETED),
        ]
        assert (await records.read(task_id))[b"status"] == b"cancelled"
        assert await records.read("no-such-task") == {}
        await redis.aclose()
        return answers

    answers = asyncio.run(scenario())
    assert answers == [Transition.MOVED, Transition.MOVED, Transition.ENDED, Transition.MISSING]
    record = read_task(client, fleet_name, task_id)
    assert (record["status"], record["attempts"], record["worker"]) == (
        "cancelled",
        "1",
        "w-task-0",
    )
    assert not client.exists(Keyspace(fleet_name).task("no-such-task"))


def test_progress_keeps_the_latest_report_and_lands_before_close_returns(
    redis_server: RedisServer, fleet_name: str
) -> None:
    client = redis_server.client()
    task_id = create_task(client, fleet_name, "count_up")
    writes: list[bytes] = []

    async def scenario() -> None:
        redis = AsyncRedis(parse_redis_url(redis_server.url), command_timeout_s=5)
        records = TaskRecords(redis, Keyspace(fleet_name))

        async def write(report: bytes) -> None:
            writes.append(report)
            await records.transition(
                task_id, TaskStatus.WORKING, fields={TaskField.PROGRESS: report.decode()}
            )

        progress = TaskProgress(write, asyncio.get_running_loop())
        for step in range(1, 101):
            progress.report(step, 100, None)
        await asyncio.to_thread(progress.report, 101, None, "from a thread")
        await progress.close()
        progress.report(102, None, "after close")
        await records.transition(task_id, TaskStatus.COMPLETED)
        await redis.aclose()

    asyncio.run(scenario())
    assert 1 <= len(writes) < 10  # coalesced: latest wins, one write at a time
    assert json.loads(read_task(client, fleet_name, task_id)["progress"]) == {
        "progress": 101,
        "message": "from a thread",
    }


def test_a_progress_report_keeps_a_task_waiting_for_input_waiting(
    redis_server: RedisServer, fleet_name: str
) -> None:
    client = redis_server.client()
    task_id = create_task(client, fleet_name, "count_up")

    async def scenario() -> None:
        redis = AsyncRedis(parse_redis_url(redis_server.url), command_timeout_s=5)
        records = TaskRecords(redis, Keyspace(fleet_name))
        await records.transition(task_id, TaskStatus.INPUT_REQUIRED)
        moved = await records.transition(
            task_id, None, fields={TaskField.PROGRESS: '{"progress":1}'}
        )
        assert moved is Transition.MOVED
        await redis.aclose()

    asyncio.run(scenario())
    record = read_task(client, fleet_name, task_id)
    assert (record["status"], record["progress"]) == ("input_required", '{"progress":1}')
