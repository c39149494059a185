"""Durable tasks asking for input, against a real Redis (ADR-0011 addendum): the
``TASK_ANSWER`` script's rules (partial answers, keys not outstanding, ended and missing
tasks) and a worker's :class:`~workers.task_inputs.TaskInputs` writing its requests and
waking on answers (asyncio in a sync test: the suite's async mode is trio)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json

import pytest
import redis

from proto import (
    TASK_ANSWER,
    ClientCapability,
    Keyspace,
    MissingClientCapabilityError,
    TaskStatus,
    parse_redis_url,
)
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tasks import create_task, read_task
from tests.fixtures.waiting import wait_until
from workers.client_input import elicitation_request
from workers.redis_connection import AsyncRedis
from workers.task_inputs import TaskInputs
from workers.task_record import TaskRecords

FORM = {"type": "object", "properties": {"name": {"type": "string"}}}
REQUEST = json.dumps({"method": "elicitation/create", "params": {"message": "?"}})


def answer(client: redis.Redis, fleet: str, task_id: str, *pairs: str) -> int:
    keys = Keyspace(fleet)
    taken = client.eval(
        TASK_ANSWER.source, 1, keys.task(task_id), keys.task_events(), task_id, 123, *pairs
    )
    assert isinstance(taken, int)
    return taken


def asking(client: redis.Redis, fleet: str, *keys: str) -> str:
    task_id = create_task(client, fleet, "confirm_in_task")
    fields = {f"request:{key}": REQUEST for key in keys}
    client.hset(Keyspace(fleet).task(task_id), mapping={"status": "input_required", **fields})
    return task_id


def test_answers_are_taken_only_for_outstanding_requests(
    redis_server: RedisServer, fleet_name: str
) -> None:
    client = redis_server.client()
    task_id = asking(client, fleet_name, "a", "b")
    assert answer(client, fleet_name, task_id, "a", '{"action":"accept"}', "zzz", "{}") == 1
    record = read_task(client, fleet_name, task_id)
    assert record["status"] == "input_required"  # "b" is still outstanding
    assert "request:a" not in record and record["answer:a"] == '{"action":"accept"}'
    assert "answer:zzz" not in record and "request:b" in record
    assert answer(client, fleet_name, task_id, "a", '{"action":"decline"}') == 0  # answered
    assert read_task(client, fleet_name, task_id)["answer:a"] == '{"action":"accept"}'
    assert answer(client, fleet_name, task_id, "b", '{"action":"cancel"}') == 1
    record = read_task(client, fleet_name, task_id)
    assert (record["status"], record["updated"]) == ("working", "123")
    assert not any(field.startswith("request:") for field in record)


def test_ended_and_missing_tasks_take_nothing(redis_server: RedisServer, fleet_name: str) -> None:
    client = redis_server.client()
    task_id = asking(client, fleet_name, "a")
    client.hset(Keyspace(fleet_name).task(task_id), "status", "cancelled")
    assert answer(client, fleet_name, task_id, "a", "{}") == 0
    record = read_task(client, fleet_name, task_id)
    assert record["status"] == "cancelled" and "answer:a" not in record
    assert answer(client, fleet_name, "no-such-task", "a", "{}") == -1
    assert not client.exists(Keyspace(fleet_name).task("no-such-task"))


def test_a_task_handler_waits_for_its_answers(redis_server: RedisServer, fleet_name: str) -> None:
    client = redis_server.client()
    task_id = create_task(client, fleet_name, "confirm_in_task")
    started: dict[str, object] = {}

    async def scenario() -> object:
        redis_ = AsyncRedis(parse_redis_url(redis_server.url), command_timeout_s=5)
        woken = asyncio.Event()
        started.update(loop=asyncio.get_running_loop(), woken=woken)
        inputs = TaskInputs(
            ClientCapability.ELICITATION, task_id, TaskRecords(redis_, Keyspace(fleet_name)), woken
        )
        try:
            result = await asyncio.wait_for(
                inputs.ask({"who": elicitation_request("Who?", FORM)}), 10
            )
        finally:
            await redis_.aclose()
        return result["who"].content

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        handler = pool.submit(asyncio.run, scenario())
        wait_until(
            lambda: "request:who" in read_task(client, fleet_name, task_id),
            deadline_s=5,
            what="the request in the record",
        )
        assert read_task(client, fleet_name, task_id)["status"] == "input_required"
        # Answers are kept as responses without their envelope (proto.task_answer).
        answer(
            client, fleet_name, task_id, "who",
            '{"result":{"action":"accept","content":{"name":"Lin"}}}',
        )  # fmt: skip
        loop = started["loop"]
        woken = started["woken"]
        assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(woken, asyncio.Event)
        loop.call_soon_threadsafe(woken.set)  # what the broadcast's TaskAnswered does
        assert handler.result(timeout=10) == {"name": "Lin"}
    assert read_task(client, fleet_name, task_id)["status"] == TaskStatus.WORKING.value


def test_without_the_capability_nothing_is_asked(
    redis_server: RedisServer, fleet_name: str
) -> None:
    client = redis_server.client()
    task_id = create_task(client, fleet_name, "confirm_in_task")

    async def scenario() -> None:
        redis_ = AsyncRedis(parse_redis_url(redis_server.url), command_timeout_s=5)
        records = TaskRecords(redis_, Keyspace(fleet_name))
        inputs = TaskInputs(0, task_id, records, asyncio.Event())
        try:
            with pytest.raises(MissingClientCapabilityError):
                await inputs.ask({"who": elicitation_request("Who?", FORM)})
        finally:
            await redis_.aclose()

    asyncio.run(scenario())
    assert read_task(client, fleet_name, task_id)["status"] == "working"
