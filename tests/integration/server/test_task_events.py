"""The task events channel as a front sees it, against a real redis-server: waiters wake on
their own task's events only, owner streams take their owner's tasks' events (reading owners
only while one is open), and a subscription gap wakes and tells everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from proto import Keyspace, ShuttingDownError, TaskField, TaskStatus
from server.redis_client import RedisClient, open_redis, parse_redis_url
from server.redis_subscriber import RedisSubscriber
from server.task_events import TaskEvents
from tests.fixtures.redis_server import RedisServer


@asynccontextmanager
async def running_events(
    server: RedisServer, nursery: trio.Nursery
) -> AsyncIterator[tuple[TaskEvents, RedisClient, Keyspace]]:
    keys = Keyspace("events")
    async with open_redis(parse_redis_url(server.url)) as client:
        subscriber = RedisSubscriber(
            parse_redis_url(server.url),
            keys.reply_channel("front-1"),
            on_message=lambda payload: None,
            on_gap=lambda: None,
        )
        await nursery.start(subscriber.run)
        events = TaskEvents(redis=client, keys=keys, subscriber=subscriber)
        await nursery.start(events.run)
        yield events, client, keys


async def publish(client: RedisClient, keys: Keyspace, task_id: str, status: str) -> None:
    await client.execute("PUBLISH", keys.task_events(), f"{task_id} {status}")


def hget_calls(server: RedisServer) -> int:
    stats = server.client().info("commandstats")
    return int(stats.get("cmdstat_hget", {}).get("calls", 0))


async def test_a_waiter_wakes_on_its_own_tasks_event_only(
    private_redis: RedisServer, nursery: trio.Nursery
) -> None:
    async with running_events(private_redis, nursery) as (events, client, keys):
        with events.waiter("mine") as waiter:
            for _ in range(50):  # a burst of progress of another task
                await publish(client, keys, "other", "working")
            await publish(client, keys, "mine", "completed")
            with trio.fail_after(5):
                await waiter.wait(10)
            # Nothing is pending once woken: the next wait runs to its timeout.
            with trio.move_on_after(0.2) as idle:
                await waiter.wait(10)
            assert idle.cancelled_caught
        # No owner stream open: no owner was read.
        assert hget_calls(private_redis) == 0


async def test_ending_the_waits_answers_every_waiter_now_and_later_shutting_down(
    redis_server: RedisServer, nursery: trio.Nursery
) -> None:
    async with running_events(redis_server, nursery) as (events, _client, _keys):
        raised: list[str] = []

        async def wait_for(task_id: str) -> None:
            with events.waiter(task_id) as waiter:
                try:
                    await waiter.wait(60)
                except ShuttingDownError as exc:
                    raised.append(str(exc))

        with trio.fail_after(5):  # not the 60 s waits
            async with trio.open_nursery() as waiting:
                waiting.start_soon(wait_for, "a")
                waiting.start_soon(wait_for, "b")
                await trio.testing.wait_all_tasks_blocked()
                assert events.end_waits() == 2
            await wait_for("c")  # a wait that starts after the end ends at once
        assert raised == ["The server is shutting down"] * 3


async def test_an_owner_stream_takes_its_owners_tasks_events(
    private_redis: RedisServer, nursery: trio.Nursery
) -> None:
    async with running_events(private_redis, nursery) as (events, client, keys):
        await client.execute("HSET", keys.task("t-a"), TaskField.OWNER.value, "alice")
        await client.execute("HSET", keys.task("t-b"), TaskField.OWNER.value, "bob")
        with events.owned("alice") as alice:
            await publish(client, keys, "t-b", "completed")
            await publish(client, keys, "gone", "completed")  # expired: no owner
            await publish(client, keys, "t-a", "cancelled")
            with trio.fail_after(5):
                assert await alice.receive() == ("t-a", TaskStatus.CANCELLED)
            assert hget_calls(private_redis) == 3


async def test_a_gap_wakes_every_waiter_and_tells_every_owner_stream(
    private_redis: RedisServer, nursery: trio.Nursery
) -> None:
    async with running_events(private_redis, nursery) as (events, _, _keys):
        with events.waiter("t-1") as waiter, events.owned("alice") as alice:
            private_redis.client().client_kill_filter(_type="pubsub")
            with trio.fail_after(10):
                await waiter.wait(30)
                assert await alice.receive() is None
            assert events.gaps == 1
