"""The rq threads of the task lane against a real Redis: jobs run on them, a stop ends them
within about a second, and a second live worker of the same name is refused loudly."""

from __future__ import annotations

import time
import uuid

import redis
import structlog
from rq import Queue

from proto import Keyspace, TaskJobSerializer
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.waiting import wait_until
from workers.task_threads import TaskThreads


def _registered(client: redis.Redis, name: str) -> bool:
    key = f"rq:worker:{name}"
    return bool(client.exists(key)) and not client.hexists(key, "death")


def test_jobs_run_on_the_threads_and_a_stop_ends_them_within_two_seconds(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    keys = Keyspace("t" + uuid.uuid4().hex[:10])
    worker_id = "w-" + uuid.uuid4().hex[:8]
    threads = TaskThreads(redis_server.url, keys, worker_id, 2)
    threads.start()
    try:
        wait_until(
            lambda: all(_registered(client, n) for n in threads.names),
            deadline_s=10,
            what="both rq workers registered",
        )
        assert threads.names == [f"{worker_id}-task-0", f"{worker_id}-task-1"]
        queue = Queue(keys.task_queue(), connection=client, serializer=TaskJobSerializer)
        ran = f"ran-{uuid.uuid4().hex}"
        for _ in range(20):
            queue.enqueue_call("tests.fixtures.tasks.note_run", args=[ran], result_ttl=0)
        wait_until(lambda: client.llen(ran) == 20, deadline_s=10, what="20 jobs run")
        assert {name.decode() for name in client.lrange(ran, 0, -1)} <= set(threads.names)
    finally:
        started = time.monotonic()
        threads.request_stop()
        assert threads.join(5.0)
    assert time.monotonic() - started < 2.0  # the dequeue polls every second
    assert threads.alive == 0
    # rq recorded each worker's death on its way out.
    assert all(client.hexists(f"rq:worker:{n}", "death") for n in threads.names)


def test_a_second_worker_with_a_live_name_ends_at_once_and_says_so(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    keys = Keyspace("t" + uuid.uuid4().hex[:10])
    worker_id = "w-" + uuid.uuid4().hex[:8]
    first = TaskThreads(redis_server.url, keys, worker_id, 1)
    first.start()
    try:
        wait_until(lambda: _registered(client, first.names[0]), deadline_s=10, what="rq worker up")
        second = TaskThreads(redis_server.url, keys, worker_id, 1)
        with structlog.testing.capture_logs() as logs:
            second.start()
            wait_until(lambda: second.alive == 0, deadline_s=10, what="the twin to end")
        assert [e for e in logs if e["event"] == "task_lane.thread_crashed"]
        assert first.alive == 1  # the live one keeps serving
    finally:
        first.request_stop()
        assert first.join(5.0)


def test_a_job_arriving_after_the_stop_stays_queued_first_in_line(
    redis_server: RedisServer,
) -> None:
    """The fleet is stopping: a dequeue still blocked when the stop came may take a job;
    it goes back to the head of the queue unrun (ADR-0015)."""
    client = redis_server.client()
    keys = Keyspace("t" + uuid.uuid4().hex[:10])
    threads = TaskThreads(redis_server.url, keys, "w-" + uuid.uuid4().hex[:8], 1)
    threads.start()
    queue = Queue(keys.task_queue(), connection=client, serializer=TaskJobSerializer)
    ran = f"ran-{uuid.uuid4().hex}"
    try:
        wait_until(
            lambda: _registered(client, threads.names[0]), deadline_s=10, what="rq worker up"
        )
        threads.request_stop()  # the thread is inside a blocking dequeue now
        first = queue.enqueue_call("tests.fixtures.tasks.note_run", args=[ran], result_ttl=0)
        second = queue.enqueue_call("tests.fixtures.tasks.note_run", args=[ran], result_ttl=0)
    finally:
        assert threads.join(5.0)
    assert client.llen(ran) == 0
    assert queue.job_ids == [first.id, second.id]  # in their order, none taken
    assert client.llen(queue.intermediate_queue_key) == 0
