"""The rq side of the task lane (ADR-0011): threads of the worker process, each running an rq
worker on the fleet's task queue, and the stop that ends them.

rq's workers are built to own a process: signal handlers, a death penalty by ``SIGALRM``, a
blocking dequeue of minutes, a process title. :class:`TaskWorker` turns those off, so several
can run as threads beside the asyncio loop: the job function (``workers.task_lane.run_task``)
hands each task to the loop, whose handler runner enforces the time limit.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any, ClassVar, Final

import redis
import structlog
from rq import Queue, SimpleWorker
from rq.timeouts import BaseDeathPenalty

from proto import Keyspace, TaskJobSerializer

__all__ = ["TaskThreads", "TaskWorker", "current_task_worker"]

log = structlog.get_logger()

_current: Final = threading.local()

_UNBLOCKED: Final = "UNBLOCKED"
"""How Redis fails a blocking command ended by ``CLIENT UNBLOCK … ERROR``."""


def current_task_worker() -> TaskWorker | None:
    """The rq worker whose job runs on this thread, if any (the job function asks)."""
    worker: TaskWorker | None = getattr(_current, "worker", None)
    return worker


class NoDeathPenalty(BaseDeathPenalty):
    """rq's time limit, off: it needs ``SIGALRM`` (the main thread only) or kills a thread by
    an async exception; the handler runner on the loop enforces each tool's limit instead."""

    def setup_death_penalty(self) -> None:
        pass

    def cancel_death_penalty(self) -> None:
        pass


class TaskWorker(SimpleWorker):
    """An rq ``SimpleWorker`` fit for a thread: no signal handlers, no death penalty, no
    process title, no command channel, and a dequeue that notices a stop within
    :attr:`poll_s`."""

    poll_s: ClassVar[int] = 1
    """Longest blocking dequeue (rq takes whole seconds): how fast a stop is noticed."""

    death_penalty_class = NoDeathPenalty

    @property
    def connection_timeout(self) -> int:
        # rq raises the connection's socket timeout to this (415 s by default, sized for its
        # own long dequeue); ours blocks at most poll_s.
        return self.poll_s + 10

    def _install_signal_handlers(self) -> None:
        # Signals reach the main thread only; the worker process's loop owns them.
        pass

    def procline(self, message: str) -> None:
        # rq would retitle the whole process (setproctitle) once per dequeue.
        pass

    def subscribe(self) -> None:
        # rq's command channel (stop job, kill horse, shutdown) means nothing for jobs run
        # in-process, and would cost a thread and a connection per slot: cancellation comes
        # through the broadcast stream (ADR-0004), shutdown through the supervisor.
        pass

    def unsubscribe(self) -> None:
        pass

    def request_thread_stop(self) -> None:
        """End the work loop once the running job (if any) finished; thread-safe."""
        self._stop_requested = True

    def execute_job(self, job: Any, queue: Any) -> None:
        _current.worker = self
        try:
            super().execute_job(job, queue)
        finally:
            _current.worker = None

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> Any:
        # Short blocking dequeues until a job or a stop; None ends rq's work loop cleanly.
        while not self._stopping():
            try:
                result = super().dequeue_job_and_maintain_ttl(
                    self.poll_s, max_idle_time=self.poll_s
                )
            except redis.ResponseError as exc:
                if self._stopping() and str(exc).startswith(_UNBLOCKED):
                    return None  # woken for the stop (TaskThreads.join)
                raise
            if result is None:
                continue
            if not self._stopping():
                return result
            self._put_back(*result)
        return None

    def _stopping(self) -> bool:
        # A method, not the attribute: another thread sets it while this one dequeues,
        # which a type checker narrowing the attribute inside the loop cannot see.
        return bool(self._stop_requested)

    def _put_back(self, job: Any, queue: Queue) -> None:
        """The stop came while ``job`` was being dequeued: back at the head of its queue,
        as if never taken (a queued task waits for the fleet's next start, ADR-0015)."""
        with self.connection.pipeline() as pipe:
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            queue.push_job_id(job.id, pipeline=pipe, at_front=True)
            pipe.execute()


class TaskThreads:
    """``slots`` threads, each running a :class:`TaskWorker` named ``<worker_id>-task-<n>``
    on the fleet's task queue, with a Redis connection of its own.

    Args:
        redis_url: the fleet's Redis (redis-py parses it, as the front's rq client does).
        keys: the fleet's key schema (the queue's name).
        worker_id: this worker process's id: rq names are unique per live worker.
        slots: how many threads, hence tasks running at once here.
    """

    def __init__(self, redis_url: str, keys: Keyspace, worker_id: str, slots: int) -> None:
        self._queue_name = keys.task_queue()
        self._redis_url = redis_url
        self.names = [f"{worker_id}-task-{n}" for n in range(slots)]
        self._workers: list[TaskWorker] = []
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> None:
        """Start every thread; each registers its rq worker and starts dequeuing."""
        _quiet_rq_logging()
        for name in self.names:
            connection = _connect(self._redis_url, name)
            queue = Queue(self._queue_name, connection=connection, serializer=TaskJobSerializer)
            worker = TaskWorker(
                [queue], name=name, connection=connection, serializer=TaskJobSerializer
            )
            thread = threading.Thread(
                target=self._work, args=(worker,), name=name, daemon=True
            )  # daemon: a thread stuck past the drain must not keep the process alive
            self._workers.append(worker)
            self._threads.append(thread)
            thread.start()

    def _work(self, worker: TaskWorker) -> None:
        bound = structlog.contextvars.bound_contextvars(rq_worker=worker.name)
        with bound:
            try:
                worker.work(logging_level="WARNING")
            except Exception:  # the thread's end (rq refuses a live worker's name): loudly
                log.error("task_lane.thread_crashed", exc_info=True)
                return
            if not self._stopping:
                # rq returns from work() on a Redis timeout, an unexpected exception or a
                # live worker of the same name; this slot runs no more tasks.
                log.error("task_lane.thread_ended", reason="rq's work loop returned")

    @property
    def alive(self) -> int:
        """How many threads still run."""
        return sum(thread.is_alive() for thread in self._threads)

    def request_stop(self) -> None:
        """Ask every thread to stop after its running task; returns at once."""
        self._stopping = True
        for worker in self._workers:
            worker.request_thread_stop()

    def join(self, timeout_s: float) -> bool:
        """Wake the threads waiting for a task, then wait for every thread to end
        (blocking; call from a thread). Returns whether all did within ``timeout_s``."""
        end = time.monotonic() + timeout_s
        if self._stopping:
            self._wake_idle()
        for thread in self._threads:
            thread.join(max(end - time.monotonic(), 0))
        return self.alive == 0

    def _wake_idle(self) -> None:
        """End the blocking dequeues of threads asked to stop now rather than at the end of
        their poll (up to :attr:`TaskWorker.poll_s`: every worker stop would wait for it):
        ``CLIENT UNBLOCK … ERROR`` on the connections named after the threads (rq retries a
        dequeue that merely returned nothing until its whole-second idle time is up; the
        error reaches :meth:`TaskWorker.dequeue_job_and_maintain_ttl`, which sees the stop).
        Unblocking a thread that is not blocked does nothing."""
        names = set(self.names)
        try:
            with _connect(self._redis_url, "") as control:
                for client in control.client_list():
                    if client.get("name") in names:
                        control.client_unblock(int(client["id"]), error=True)
        except redis.RedisError as exc:
            log.warning("task_lane.wake_failed", error=str(exc))  # they see the stop in poll_s


def _connect(url: str, client_name: str) -> redis.Redis:
    """A connection for one thread, named after it (``CLIENT LIST`` shows whose it is)."""
    return redis.Redis.from_url(
        url, socket_timeout=TaskWorker.poll_s + 10, client_name=client_name or None
    )


def _quiet_rq_logging() -> None:
    """rq logs every job at INFO; only its warnings matter here, on stderr (stdout belongs
    to the protocol on stdio). A process whose root logger has a handler (the worker's
    structlog bridge) gets them as JSON there; otherwise rq would add its own on stdout."""
    rq_log = logging.getLogger("rq")
    rq_log.setLevel(logging.WARNING)
    if not rq_log.hasHandlers():
        rq_log.addHandler(logging.StreamHandler(sys.stderr))
