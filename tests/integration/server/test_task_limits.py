"""The task store under ``[limits]`` against a real Redis (ADR-0017): a caller holds at most
``max_tasks_per_principal`` unfinished tasks; a task stops counting once it ends
(completed, failed as after a lost worker, cancelled) or its record expires; a refused
task is never created; an idempotent resubmission takes no slot; callers are counted
apart."""

from __future__ import annotations

import hashlib
import time

import msgspec
import pytest
import redis

from proto import (
    Keyspace,
    Principal,
    RateLimitedError,
    TaskSpec,
    TaskStatus,
    TooManyTasksError,
    limit_identity,
)
from server.limits_config import LimitsConfig
from server.task_store import TaskStore
from tests.fixtures.redis_server import RedisServer
from tests.integration.server.test_task_store import finish, open_store

ALICE = Principal.bearer("alice", "https://idp.example", ())
BOB = Principal.bearer("bob", "https://idp.example", ())
TWO_EACH = LimitsConfig(max_tasks_per_principal=2)


def spec_of(principal: Principal) -> TaskSpec:
    return TaskSpec(
        tool="echo",
        arguments=msgspec.Raw(b'{"text":"hi"}'),
        protocol_version="2025-11-25",
        principal=principal,
        owner=TaskSpec.owner_of(principal),
        request_id="front-1",
    )


async def create(store: TaskStore, principal: Principal = ALICE, key: str | None = None) -> str:
    record = await store.create(spec_of(principal), requested_ttl_ms=None, idempotency_key=key)
    return record.task_id


def slots(sync: redis.Redis, keys: Keyspace, principal: Principal = ALICE) -> set[bytes]:
    return set(sync.zrange(keys.task_slots(limit_identity(principal, "")), 0, -1))


def task_count(sync: redis.Redis, keys: Keyspace) -> int:
    return len(sync.keys(keys.task("*")))


async def test_a_caller_at_its_bound_is_refused_until_a_task_ends(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    async with open_store(redis_server.url, fleet_name, TWO_EACH) as (store, client):
        first, second = await create(store), await create(store)
        with pytest.raises(TooManyTasksError) as refused:
            await create(store)
        assert refused.value.data == {
            "reason": "too_many_tasks",
            "retryAfter": 1,
            "maxTasks": 2,
        }
        assert refused.value.http_status == 429
        assert task_count(sync, keys) == 2  # the refused task was never created
        # Completed: its slot is free for the next.
        assert await finish(client, keys, first, TaskStatus.COMPLETED) == 1
        third = await create(store)
        assert slots(sync, keys) == {second.encode(), third.encode()}
        # Failed, as the supervisor fails a task whose worker was lost.
        assert await finish(client, keys, second, TaskStatus.FAILED) == 1
        fourth = await create(store)
        # Cancelled by its owner.
        await store.cancel(third, TaskSpec.owner_of(ALICE))
        fifth = await create(store)
        assert slots(sync, keys) == {fourth.encode(), fifth.encode()}
        with pytest.raises(TooManyTasksError):
            await create(store)
        # Another caller has slots of its own.
        await create(store, BOB)
        assert len(slots(sync, keys, BOB)) == 1


async def test_an_expired_task_frees_its_slot_but_one_being_created_does_not(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    async with open_store(redis_server.url, fleet_name, TWO_EACH) as (store, _client):
        first = await create(store)
        await create(store)
        # Its record gone within the creation grace: it may still be being written.
        sync.delete(keys.task(first))
        with pytest.raises(TooManyTasksError):
            await create(store)
        # Admitted long before, its record gone: it expired.
        slot_key = keys.task_slots(limit_identity(ALICE, ""))
        sync.zadd(slot_key, {first: int(time.time() * 1000) - 60_000}, xx=True)
        await create(store)
        assert first.encode() not in slots(sync, keys)
        assert 0 < sync.pttl(slot_key) <= 120_000  # the store's longest retention


async def test_a_resubmission_takes_no_slot(redis_server: RedisServer, fleet_name: str) -> None:
    keys = Keyspace(fleet_name)
    async with open_store(
        redis_server.url, fleet_name, LimitsConfig(max_tasks_per_principal=1)
    ) as (store, _client):
        task_id = await create(store, key="report-42")
        assert await create(store, key="report-42") == task_id
        with pytest.raises(TooManyTasksError):
            await create(store, key="report-43")
        # The refused task's key was released: nothing names a task that does not exist.
        claim = keys.task_idempotency(
            TaskSpec.owner_of(ALICE), hashlib.sha256(b"report-43").hexdigest()
        )
        assert not redis_server.client().exists(claim)


async def test_a_task_charges_the_callers_bucket_and_a_refused_one_no_slot(
    redis_server: RedisServer, fleet_name: str
) -> None:
    keys = Keyspace(fleet_name)
    sync = redis_server.client()
    limits = LimitsConfig(rate=0.01, burst=1, max_tasks_per_principal=5)
    async with open_store(redis_server.url, fleet_name, limits) as (store, _client):
        await create(store)
        with pytest.raises(RateLimitedError) as refused:
            await create(store)
        assert refused.value.data["reason"] == "rate_limited"  # type: ignore[index]
        assert len(slots(sync, keys)) == 1
        assert task_count(sync, keys) == 1
