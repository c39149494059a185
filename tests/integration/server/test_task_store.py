"""The task store against a real Redis: a task and its rq job created together under one id
in one transaction, read only by its owner, cancelled once, listed by creation; the worker
is simulated by moving records with ``TASK_TRANSITION``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
import pytest
import redis
from rq import Queue
from rq.job import Job

from proto import (
    RETENTION_SLIDE_DIVISOR,
    TASK_JOB_FUNCTION,
    TASK_SLIDE,
    TASK_TRANSITION,
    CancelTask,
    InvalidParamsError,
    Keyspace,
    Principal,
    TaskField,
    TaskJobSerializer,
    TaskNotFoundError,
    TaskRecord,
    TaskSpec,
    TaskStatus,
    decode_broadcast,
    decode_task_spec,
)
from server.admission import AdmissionControl
from server.limits_config import LimitsConfig
from server.metrics import FrontMetrics
from server.redis_client import RedisClient, open_redis, parse_redis_url
from server.sync_redis import open_sync_redis
from server.task_store import TaskRetention, TaskStore
from tests.fixtures.redis_server import RedisServer

RETENTION = TaskRetention(default_ttl_ms=60_000, max_ttl_ms=120_000, poll_ms=500)
ALICE = TaskSpec.owner_of(Principal.anonymous("session-a"))
BOB = TaskSpec.owner_of(Principal.anonymous("session-b"))


def slide_commands(server: RedisServer) -> dict[str, int]:
    """How many commands that could slide a retention Redis has run (INFO commandstats)."""
    stats = server.client().info("commandstats")
    return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in _SLIDERS}


_SLIDERS = ("pexpire", "evalsha", "eval", "hset")


def spec(owner: str = ALICE, tool: str = "echo") -> TaskSpec:
    return TaskSpec(
        tool=tool,
        arguments=msgspec.Raw(b'{"text":"hi"}'),
        protocol_version="2025-11-25",
        principal=Principal.anonymous("session-a"),
        owner=owner,
        request_id="front-1",
    )


@asynccontextmanager
async def open_store(
    url: str, fleet: str, limits: LimitsConfig | None = None
) -> AsyncIterator[tuple[TaskStore, RedisClient]]:
    sync = open_sync_redis(parse_redis_url(url), connections=2, timeout_s=5.0)
    keys = Keyspace(fleet)
    metrics = FrontMetrics(())
    admission = AdmissionControl(
        limits or LimitsConfig(), keys, metrics, task_slots_ttl_ms=RETENTION.max_ttl_ms
    )
    try:
        async with open_redis(parse_redis_url(url)) as client:
            store = TaskStore(
                client, sync, keys, retention=RETENTION, metrics=metrics, admission=admission
            )
            yield store, client
    finally:
        sync.close()


async def finish(client: RedisClient, keys: Keyspace, task_id: str, status: TaskStatus) -> int:
    """What a worker does when a task ends."""
    outcome = b'{"result":{"content":[],"isError":false}}'
    moved = await client.run_script(
        TASK_TRANSITION,
        [keys.task(task_id)],
        [keys.task_events(), task_id, status.value, 1, "1", "outcome", outcome],
    )
    assert isinstance(moved, int)
    return moved


async def test_create_writes_the_job_and_the_record_under_one_id(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    async with open_store(redis_server.url, fleet_name) as (store, client):
        record = await store.create(spec(), requested_ttl_ms=None)
        assert record.status is TaskStatus.WORKING and record.ttl_ms == 60_000
        assert len(record.task_id) >= 43
        conn = redis.Redis.from_url(redis_server.url)
        job = Job.fetch(record.task_id, connection=conn, serializer=TaskJobSerializer)
        assert (job.func_name, job.args, job.timeout) == (TASK_JOB_FUNCTION, [record.task_id], -1)
        assert Queue(keys.task_queue(), connection=conn).job_ids == [record.task_id]
        fields = conn.hgetall(keys.task(record.task_id))
        assert fields[b"status"] == b"working" and fields[b"attempts"] == b"0"
        assert fields[b"owner"] == ALICE.encode() and fields[b"poll"] == b"500"
        assert decode_task_spec(fields[b"spec"]) == spec()
        assert 0 < conn.pttl(keys.task(record.task_id)) <= 60_000
        assert conn.zscore(keys.owner_tasks(ALICE), record.task_id) == record.created_ms
        assert 0 < conn.pttl(keys.owner_tasks(ALICE)) <= 120_000
        # The record, its retention, its index entry and rq's job in ONE transaction.
        assert await client.execute("EXISTS", keys.task(record.task_id)) == 1


async def test_create_is_one_transaction(redis_server: RedisServer, fleet_name: str) -> None:
    conn = redis.Redis.from_url(redis_server.url)
    with conn.monitor() as monitor:
        async with open_store(redis_server.url, fleet_name) as (store, _client):
            record = await store.create(spec(), requested_ttl_ms=5_000)
        commands: list[str] = []
        for event in monitor.listen():
            command = str(event["command"])
            commands.append(command.split(" ", maxsplit=1)[0].upper())
            if command.upper().startswith("EXEC"):
                break
    started = commands.index("MULTI")
    inside = commands[started:]
    assert inside[-1] == "EXEC"
    assert {"HSET", "PEXPIRE", "ZADD", "RPUSH"} <= set(inside), inside
    assert record.ttl_ms == 5_000


def test_retention_is_clamped() -> None:
    assert RETENTION.ttl_for(None) == 60_000
    assert RETENTION.ttl_for(10**9) == 120_000
    assert RETENTION.ttl_for(1) == 1000


async def test_another_owner_gets_not_found_like_an_unknown_id(
    redis_server: RedisServer, fleet_name: str
) -> None:
    async with open_store(redis_server.url, fleet_name) as (store, _client):
        record = await store.create(spec(), requested_ttl_ms=None)
        assert (await store.get(record.task_id, ALICE)).task_id == record.task_id
        for task_id, owner in ((record.task_id, BOB), ("no-such-task", ALICE)):
            with pytest.raises(TaskNotFoundError, match=r"^Task not found$"):
                await store.get(task_id, owner)
            with pytest.raises(TaskNotFoundError):
                await store.cancel(task_id, owner)


@asynccontextmanager
async def one_task(
    server: RedisServer, fleet: str
) -> AsyncIterator[tuple[TaskStore, RedisClient, TaskRecord, str]]:
    """A store with one new task of ALICE's: the store, a client, the task, its key."""
    async with open_store(server.url, fleet) as (store, client):
        record = await store.create(spec(), requested_ttl_ms=None)
        yield store, client, record, Keyspace(fleet).task(record.task_id)


async def test_a_read_slides_the_retention_once_an_eighth_of_it_passed(
    redis_server: RedisServer, fleet_name: str
) -> None:
    index = Keyspace(fleet_name).owner_tasks(ALICE)
    async with one_task(redis_server, fleet_name) as (store, client, record, key):
        # As if the last slide was an eighth of the 60 s retention ago, and time ran on.
        stale = record.created_ms - 60_000 // RETENTION_SLIDE_DIVISOR
        await client.execute("HSET", key, TaskField.SLID_MS.value, stale)
        await client.execute("PEXPIRE", key, 1000)
        await client.execute("PEXPIRE", index, 1000)
        await store.get(record.task_id, ALICE)
        ttl = await client.execute("PTTL", key)
        assert isinstance(ttl, int) and 1000 < ttl <= 60_000
        index_ttl = await client.execute("PTTL", index)
        assert isinstance(index_ttl, int) and 1000 < index_ttl <= 120_000
        slid = await client.execute("HGET", key, TaskField.SLID_MS.value)
        assert isinstance(slid, bytes) and int(slid) >= record.created_ms


async def test_a_read_soon_after_a_slide_costs_one_command(
    private_redis: RedisServer, fleet_name: str
) -> None:
    async with one_task(private_redis, fleet_name) as (store, client, record, key):
        await client.execute("PEXPIRE", key, 50_000)
        before = slide_commands(private_redis)
        for _ in range(3):
            await store.get(record.task_id, ALICE)
        assert slide_commands(private_redis) == before
        ttl = await client.execute("PTTL", key)
        assert isinstance(ttl, int) and ttl <= 50_000  # not slid: 7/8 of it was left
        slid = await client.execute("HGET", key, TaskField.SLID_MS.value)
        assert slid == str(record.created_ms).encode()


async def test_a_slide_never_recreates_an_expired_task(
    redis_server: RedisServer, fleet_name: str
) -> None:
    index = Keyspace(fleet_name).owner_tasks(ALICE)
    async with one_task(redis_server, fleet_name) as (_store, client, _record, key):
        fields = await client.execute("HGETALL", key)
        await client.execute("DEL", key)  # it expired between the read and the slide
        slid = await client.execute("EVAL", TASK_SLIDE.source, 2, key, index, 60_000, 1, 120_000)
        assert slid == 0 and await client.execute("EXISTS", key) == 0
        assert isinstance(fields, list) and fields  # it was there before


async def test_cancel_moves_a_working_task_once_and_tells_the_workers(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    async with open_store(redis_server.url, fleet_name) as (store, client):
        record = await store.create(spec(), requested_ttl_ms=None)
        moved, after = await store.cancel(record.task_id, ALICE)
        assert moved is True
        assert after.status is TaskStatus.CANCELLED and after.cancel_requested
        entries = await client.execute("XRANGE", keys.cancel_stream(), "-", "+")
        assert isinstance(entries, list) and len(entries) == 1
        payload = entries[0][1][1]  # type: ignore[index]  # [[id, [field, value]]]
        assert decode_broadcast(payload) == CancelTask(record.task_id)
        again, still = await store.cancel(record.task_id, ALICE)
        assert (again, still.status) == (False, TaskStatus.CANCELLED)
        # A worker finishing late cannot move it.
        assert await finish(client, keys, record.task_id, TaskStatus.COMPLETED) == 0


async def test_an_ended_task_is_not_cancelled(redis_server: RedisServer, fleet_name: str) -> None:
    keys = Keyspace(fleet_name)
    async with open_store(redis_server.url, fleet_name) as (store, client):
        record = await store.create(spec(), requested_ttl_ms=None)
        assert await finish(client, keys, record.task_id, TaskStatus.COMPLETED) == 1
        moved, after = await store.cancel(record.task_id, ALICE)
        assert (moved, after.status, after.cancel_requested) == (
            False, TaskStatus.COMPLETED, False,
        )  # fmt: skip
        assert await client.execute("XLEN", keys.cancel_stream()) == 0


async def test_a_page_ending_on_an_expired_task_skips_none_of_its_millisecond(
    redis_server: RedisServer, fleet_name: str
) -> None:
    # Tasks of one millisecond are ordered by id; when the task a cursor names has left
    # the index, the next page starts where it stood, not after its whole millisecond.
    keys = Keyspace(fleet_name)
    async with open_store(redis_server.url, fleet_name) as (store, client):
        created = [(await store.create(spec(), requested_ttl_ms=None)).task_id for _ in range(5)]
        ids = sorted(created)
        for task_id in ids:
            await client.execute("ZADD", keys.owner_tasks(ALICE), 1_000, task_id)
        await client.execute("DEL", keys.task(ids[1]))  # the first page's last: expired
        first = await store.list_page(ALICE, None, page_size=2)
        assert [r.task_id for r in first.records] == [ids[0]]
        second = await store.list_page(ALICE, first.next_cursor, page_size=2)
        assert [r.task_id for r in second.records] == ids[2:4]
        third = await store.list_page(ALICE, second.next_cursor, page_size=2)
        assert [r.task_id for r in third.records] == ids[4:]
        assert third.next_cursor is None


async def test_list_pages_an_owners_tasks_by_creation_and_drops_expired_ones(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    async with open_store(redis_server.url, fleet_name) as (store, client):
        mine = [(await store.create(spec(), requested_ttl_ms=None)).task_id for _ in range(5)]
        await store.create(spec(owner=BOB), requested_ttl_ms=None)
        await client.execute("DEL", keys.task(mine[1]))  # expired
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await store.list_page(ALICE, cursor, page_size=2)
            seen += [record.task_id for record in page.records]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        # Tasks created in the same millisecond come in id order; the rest by creation.
        assert len(seen) == 4 and set(seen) == {mine[0], *mine[2:]}
        assert pages == 3
        assert await client.execute("ZSCORE", keys.owner_tasks(ALICE), mine[1]) is None
        with pytest.raises(InvalidParamsError, match="Invalid cursor"):
            await store.list_page(ALICE, "not a cursor", page_size=2)
