"""The queue side of the task lane (ADR-0011, ADR-0020): threads of the worker process that
take durable tasks off the fleet's rq queue, register each as started in rq's own
structures, hand it to the asyncio loop and take it out again.

The front still enqueues with rq (``Queue.enqueue_call``), and rq's keys keep rq's meaning:
the queue list, the intermediate list, the ``StartedJobRegistry``, the job hash with its
status. What is not rq's is the loop around the job: an rq ``Worker`` spends about 55 Redis
commands a job on bookkeeping that means nothing for a job run in-process (its own
registration and heartbeats, executions, dependents, per-worker counters), where this loop
spends 10 (measured: ADR-0020).

Per task, on the thread's own connection:

1. ``BLMOVE`` the id from the queue to rq's intermediate list (at most :attr:`POLL_S` of
   blocking, so a stop is seen in time);
2. ``MULTI``: ``ZADD`` ``<task id>:<thread>`` to the started registry (score ``+inf``: the
   supervisor, not a score, settles the tasks of a lost worker), ``HSET`` the job
   ``started``, ``LREM`` the id from the intermediate list, ``EXEC``;
3. run it on the loop (the runner moves the record);
4. ``MULTI``: ``ZREM`` the member and ``DEL`` the job (rq's ``result_ttl=0``), or put the
   job back at the head of the queue when the worker's shutdown interrupted a run that
   may run again, ``EXEC``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

import redis
import structlog
from rq.utils import now, utcformat

from proto import Keyspace

__all__ = ["RunTask", "TaskThreads"]

log = structlog.get_logger()

RunTask = Callable[[str, str], bool]
"""Runs the task (its id, the thread's name) to its end; True when it should run again (the
worker's shutdown interrupted it and it may be retried)."""

_UNBLOCKED: Final = "UNBLOCKED"
"""How Redis fails a blocking command ended by ``CLIENT UNBLOCK … ERROR``."""

_BACKOFF_S: Final = 1.0
"""After Redis failed a thread's command: the wait before it tries again."""


class TaskThreads:
    """``slots`` threads, each named ``<worker_id>-task-<n>`` and taking tasks off the fleet's
    task queue on a Redis connection of its own.

    Args:
        redis_url: the fleet's Redis (redis-py parses it, as the front's rq client does).
        keys: the fleet's key schema (rq's keys for its task queue).
        worker_id: this worker process's id (a task thread's name starts with it, which
            is how the supervisor finds a lost worker's tasks).
        slots: how many threads, hence tasks running at once here.
    """

    POLL_S: Final = 1
    """Longest blocking dequeue by default (:attr:`poll_s`, set before :meth:`start`): how
    fast a stop is noticed when the wake-up (``CLIENT UNBLOCK``) did not reach the thread."""

    def __init__(self, redis_url: str, keys: Keyspace, worker_id: str, slots: int) -> None:
        self._redis_url = redis_url
        self._keys = keys
        self.names = [f"{worker_id}-task-{n}" for n in range(slots)]
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.poll_s: int = self.POLL_S

    def start(self, run: RunTask) -> None:
        """Start every thread; each takes tasks at once and runs them with ``run``
        (blocking, on the thread)."""
        for name in self.names:
            thread = threading.Thread(
                target=self._work, args=(name, run), name=name, daemon=True
            )  # daemon: a thread stuck past the drain must not keep the process alive
            self._threads.append(thread)
            thread.start()

    @property
    def alive(self) -> int:
        """How many threads still run."""
        return sum(thread.is_alive() for thread in self._threads)

    def request_stop(self) -> None:
        """Ask every thread to stop after its running task; returns at once."""
        self._stop.set()

    def join(self, timeout_s: float) -> bool:
        """Wake the threads waiting for a task, then wait for every thread to end
        (blocking; call from a thread). Returns whether all did within ``timeout_s``."""
        end = time.monotonic() + timeout_s
        if self._stop.is_set():
            self._wake_idle()
        for thread in self._threads:
            thread.join(max(end - time.monotonic(), 0))
        return self.alive == 0

    def _work(self, name: str, run: RunTask) -> None:
        with structlog.contextvars.bound_contextvars(task_thread=name):
            connection = _connect(self._redis_url, name, timeout_s=self.poll_s + 10)
            try:
                while not self._stop.is_set():
                    self._serve_one(connection, name, run)
            except Exception:  # the thread's end: loudly (the slot runs no more tasks)
                log.error("task_lane.thread_crashed", exc_info=True)
            finally:
                connection.close()

    def _serve_one(self, connection: redis.Redis, name: str, run: RunTask) -> None:
        """Take one task (or wait up to :attr:`poll_s` for one) and run it; a Redis
        failure is logged and retried after a pause, never the thread's end."""
        try:
            task_id = self._take(connection)
            if task_id is None:
                return
            if self._stop.is_set():
                self._put_back(connection, task_id)
                return
            if not self._register(connection, task_id, name):
                return
        except redis.RedisError as exc:
            if self._stop.is_set() and str(exc).startswith(_UNBLOCKED):
                return  # woken for the stop (join)
            # A taken id whose registering MULTI failed stays in the intermediate list, and
            # the supervisor puts it back. Should the MULTI have run with its reply lost,
            # the id is registered under this live thread and unrun: the supervisor settles
            # it when this worker exits (requeued if it may run again, else failed).
            log.warning("task_lane.redis_failed", error=str(exc))
            self._stop.wait(_BACKOFF_S)
            return
        again = run(task_id, name)
        self._unregister(connection, task_id, name, again=again)

    def _take(self, connection: redis.Redis) -> str | None:
        raw = connection.blmove(
            self._keys.task_queue_list(),
            self._keys.task_queue_taken(),
            self.poll_s,
            "LEFT",
            "RIGHT",
        )
        return raw.decode() if isinstance(raw, bytes) else None

    def _register(self, connection: redis.Redis, task_id: str, name: str) -> bool:
        """Move the taken id to the started registry; False (and undone) when the
        supervisor had already put it back on the queue as stuck (a thread frozen between
        the two steps for a minute), so two threads never run it at once."""
        member = _member(task_id, name)
        with connection.pipeline(transaction=True) as pipe:
            pipe.zadd(self._keys.task_started(), {member: float("inf")})
            pipe.hset(
                self._keys.task_job(task_id),
                mapping={"status": "started", "worker_name": name, "started_at": _rq_now()},
            )
            pipe.lrem(self._keys.task_queue_taken(), 1, task_id)
            removed = pipe.execute()[-1]
        if removed:
            return True
        log.warning("task_lane.taken_twice", task_id=task_id)
        connection.zrem(self._keys.task_started(), member)
        return False

    def _unregister(self, connection: redis.Redis, task_id: str, name: str, *, again: bool) -> None:
        """The run ended: rq forgets the job, or queues it again at the head."""
        job = self._keys.task_job(task_id)
        try:
            with connection.pipeline(transaction=True) as pipe:
                pipe.zrem(self._keys.task_started(), _member(task_id, name))
                if again:
                    pipe.hset(job, "status", "queued")
                    pipe.lpush(self._keys.task_queue_list(), task_id)
                else:
                    pipe.delete(job)
                pipe.execute()
        except redis.RedisError as exc:
            # The record holds the outcome; the started entry is settled when this worker
            # exits (the supervisor finds the task ended and drops it).
            log.warning("task_lane.unregister_failed", task_id=task_id, error=str(exc))

    def _put_back(self, connection: redis.Redis, task_id: str) -> None:
        """The stop came while ``task_id`` was being taken: back at the head of the queue,
        as if never taken (a queued task waits for the fleet's next start, ADR-0015)."""
        with connection.pipeline(transaction=True) as pipe:
            pipe.lrem(self._keys.task_queue_taken(), 1, task_id)
            pipe.lpush(self._keys.task_queue_list(), task_id)
            pipe.execute()

    def _wake_idle(self) -> None:
        """End the blocking dequeues of threads asked to stop now rather than at the end of
        their poll: ``CLIENT UNBLOCK … ERROR`` on the connections named after the threads
        (the error reaches :meth:`_serve_one`, which sees the stop). Unblocking a thread
        that is not blocked does nothing."""
        names = set(self.names)
        try:
            with _connect(self._redis_url, "", timeout_s=10) as control:
                for client in control.client_list():
                    if client.get("name") in names:
                        control.client_unblock(int(client["id"]), error=True)
        except redis.RedisError as exc:
            log.warning("task_lane.wake_failed", error=str(exc))  # they see the stop in poll_s


def _member(task_id: str, thread: str) -> str:
    """A started-registry member: rq's ``<job id>:<execution id>``, the execution being the
    thread that runs it (task ids and thread names hold no ``:``)."""
    return f"{task_id}:{thread}"


def _rq_now() -> str:
    """Now, as rq writes times in a job's hash."""
    return utcformat(now())


def _connect(url: str, client_name: str, *, timeout_s: float) -> redis.Redis:
    """A connection for one thread, named after it (``CLIENT LIST`` shows whose it is);
    ``timeout_s`` outlasts its longest blocking dequeue."""
    return redis.Redis.from_url(url, socket_timeout=timeout_s, client_name=client_name or None)
