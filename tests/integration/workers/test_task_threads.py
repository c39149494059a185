"""The task threads against a real Redis (ADR-0020): tasks enqueued by rq run on them,
registered in rq's started registry while they run and forgotten by rq after; a stop ends
them within about a second; an interrupted run goes back to the head of the queue."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
import structlog
from rq import Queue
from rq.job import Job
from rq.registry import StartedJobRegistry

from proto import REQUEUE_TAKEN, Keyspace, TaskJobSerializer
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tasks import noting_runs
from tests.fixtures.waiting import wait_until
from workers.task_threads import TaskThreads


@pytest.fixture
def keys() -> Keyspace:
    return Keyspace("t" + uuid.uuid4().hex[:10])


@pytest.fixture
def threads(redis_server: RedisServer, keys: Keyspace) -> Iterator[TaskThreads]:
    yield from _stopped_after(TaskThreads(redis_server.url, keys, _worker_id(), 2))


@pytest.fixture
def one_thread(redis_server: RedisServer, keys: Keyspace) -> Iterator[TaskThreads]:
    """One slot: which task it takes, and where it puts it back, is then certain."""
    yield from _stopped_after(TaskThreads(redis_server.url, keys, _worker_id(), 1))


def _worker_id() -> str:
    return "w-" + uuid.uuid4().hex[:8]


def _stopped_after(made: TaskThreads) -> Iterator[TaskThreads]:
    yield made
    made.request_stop()
    made.join(5.0)


def enqueue(client: redis.Redis, keys: Keyspace) -> str:
    queue = Queue(keys.task_queue(), connection=client, serializer=TaskJobSerializer)
    job = queue.enqueue_call("workers.task_lane.run_task", args=["x"], result_ttl=0)
    return str(job.id)


def test_tasks_run_on_the_threads_and_rq_forgets_each_job_once_run(
    redis_server: RedisServer, keys: Keyspace, threads: TaskThreads
) -> None:
    client = redis_server.client()
    ran = f"ran-{uuid.uuid4().hex}"
    threads.start(noting_runs(client, ran))
    task_ids = [enqueue(client, keys) for _ in range(20)]
    wait_until(lambda: client.llen(ran) == 20, deadline_s=10, what="20 tasks run")
    runs = [entry.decode().split() for entry in client.lrange(ran, 0, -1)]
    assert sorted(task_id for task_id, _ in runs) == sorted(task_ids)
    assert {thread for _, thread in runs} <= set(threads.names)
    wait_until(
        lambda: not any(client.exists(keys.task_job(t)) for t in task_ids),
        deadline_s=5,
        what="every job deleted (result_ttl=0)",
    )
    assert client.zcard(keys.task_started()) == 0
    assert client.llen(keys.task_queue_taken()) == 0
    assert client.llen(keys.task_queue_list()) == 0


def test_a_running_task_is_started_in_rqs_own_view(
    redis_server: RedisServer, keys: Keyspace, threads: TaskThreads
) -> None:
    client = redis_server.client()
    release = threading.Event()
    seen: list[tuple[str, str]] = []

    def run(task_id: str, thread: str) -> bool:
        seen.append((task_id, thread))
        release.wait(10)
        return False

    threads.start(run)
    task_id = enqueue(client, keys)
    try:
        wait_until(lambda: bool(seen), deadline_s=10, what="the task to start")
        queue = Queue(keys.task_queue(), connection=client, serializer=TaskJobSerializer)
        registry = StartedJobRegistry(queue=queue)
        assert registry.get_job_ids(cleanup=True) == [task_id]  # +inf: never "abandoned"
        job = Job.fetch(task_id, connection=client, serializer=TaskJobSerializer)
        assert job.get_status() == "started"
        assert job.worker_name == seen[0][1] and job.started_at is not None
    finally:
        release.set()
    wait_until(lambda: client.zcard(keys.task_started()) == 0, deadline_s=5, what="done")


def test_a_run_that_should_go_again_goes_back_first_in_line(
    redis_server: RedisServer, keys: Keyspace, one_thread: TaskThreads
) -> None:
    client = redis_server.client()
    ran = f"ran-{uuid.uuid4().hex}"
    task_id = enqueue(client, keys)
    waiting = enqueue(client, keys)
    stopping = noting_runs(client, ran, again=True)

    def run_once_then_stop(task: str, thread: str) -> bool:
        one_thread.request_stop()  # the worker is shutting down: no more taking
        return stopping(task, thread)

    one_thread.start(run_once_then_stop)
    assert one_thread.join(5.0)
    (first,) = [entry.decode().split()[0] for entry in client.lrange(ran, 0, -1)]
    assert first == task_id
    queue = Queue(keys.task_queue(), connection=client, serializer=TaskJobSerializer)
    assert queue.job_ids == [task_id, waiting]
    assert queue.fetch_job(task_id).get_status() == "queued"  # type: ignore[union-attr]
    assert client.zcard(keys.task_started()) == 0


def test_a_task_arriving_after_the_stop_stays_queued_first_in_line(
    redis_server: RedisServer, keys: Keyspace, one_thread: TaskThreads
) -> None:
    """The fleet is stopping: a dequeue still blocked when the stop came may take a task;
    it goes back to the head of the queue unrun (ADR-0015)."""
    client = redis_server.client()
    ran = f"ran-{uuid.uuid4().hex}"
    one_thread.start(noting_runs(client, ran))
    wait_until(lambda: _blocked(client, one_thread.names), deadline_s=10, what="threads blocked")
    one_thread.request_stop()  # the threads are inside a blocking dequeue now
    first = enqueue(client, keys)
    second = enqueue(client, keys)
    assert one_thread.join(5.0)
    assert client.llen(ran) == 0
    queue = Queue(keys.task_queue(), connection=client, serializer=TaskJobSerializer)
    assert queue.job_ids == [first, second]  # in their order, none taken
    assert client.llen(keys.task_queue_taken()) == 0


def test_a_stop_ends_idle_threads_within_two_seconds(
    redis_server: RedisServer, threads: TaskThreads
) -> None:
    client = redis_server.client()
    threads.start(noting_runs(client, "unused"))
    wait_until(lambda: _blocked(client, threads.names), deadline_s=10, what="threads blocked")
    started = time.monotonic()
    threads.request_stop()
    assert threads.join(5.0)
    assert time.monotonic() - started < 2.0
    assert threads.alive == 0


def test_a_task_put_back_by_the_supervisor_meanwhile_is_not_run_twice(
    redis_server: RedisServer, keys: Keyspace
) -> None:
    """A thread frozen between taking a task and registering it, long enough for the
    supervisor to put the task back (``REQUEUE_TAKEN``), skips it when it wakes."""
    client = redis_server.client()
    task_id = enqueue(client, keys)
    frozen = TaskThreads(redis_server.url, keys, "w-frozen", 1)
    connection = redis.Redis.from_url(redis_server.url)
    assert frozen._take(connection) == task_id  # the thread's first step
    keys_args = [keys.task_queue_taken(), keys.task_queue_list()]
    assert client.eval(REQUEUE_TAKEN.source, 2, *keys_args, task_id) == 1
    assert frozen._register(connection, task_id, "w-frozen-task-0") is False
    assert client.zcard(keys.task_started()) == 0
    assert client.lrange(keys.task_queue_list(), 0, -1) == [task_id.encode()]


def test_a_thread_whose_connection_dies_goes_on_taking_tasks(
    redis_server: RedisServer, keys: Keyspace, threads: TaskThreads
) -> None:
    """rq's own loop returned on a connection error and the slot ran nothing more until
    its worker restarted; a task thread logs it and takes tasks again."""
    client = redis_server.client()
    ran = f"ran-{uuid.uuid4().hex}"
    threads.start(noting_runs(client, ran))
    wait_until(lambda: _blocked(client, threads.names), deadline_s=10, what="threads blocked")
    with structlog.testing.capture_logs() as logs:
        for entry in client.client_list():
            if entry.get("name") in threads.names:
                client.client_kill_filter(_id=entry["id"])
        wait_until(lambda: _blocked(client, threads.names), deadline_s=10, what="threads back")
    assert [e for e in logs if e["event"] == "task_lane.redis_failed"]
    task_id = enqueue(client, keys)
    wait_until(lambda: client.llen(ran) == 1, deadline_s=10, what="the task run")
    assert client.lindex(ran, 0).decode().split()[0] == task_id  # type: ignore[union-attr]
    assert threads.alive == 2


def _blocked(client: redis.Redis, names: list[str]) -> bool:
    clients = {c["name"]: c["cmd"] for c in client.client_list()}
    return all(clients.get(name) == "blmove" for name in names)
