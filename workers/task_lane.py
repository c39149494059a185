"""The task lane of a worker process (ADR-0011): rq threads dequeue durable tasks, and
:func:`run_task`, the function every task's rq job names (``proto.TASK_JOB_FUNCTION``),
hands each to the process's asyncio loop, where the :class:`~workers.task_runner.TaskRunner`
runs it like a call.

The bridge is process-wide: rq imports the job function by its dotted path and calls it with
the task id only, so :class:`TaskLane` registers the loop and the runner when it starts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Final

import redis
import rq
import structlog

from workers.task_runner import TaskRunner
from workers.task_threads import TaskThreads, TaskWorker, current_task_worker

__all__ = ["TaskLane", "run_task"]

log = structlog.get_logger()

_JOIN_AFTER_INTERRUPT_S: Final = 5.0
"""After the drain timeout interrupted the runs: how long their threads get to hand the
jobs back to rq and stop."""


class _Bridge:
    __slots__ = ("loop", "runner")

    def __init__(self, loop: asyncio.AbstractEventLoop, runner: TaskRunner) -> None:
        self.loop = loop
        self.runner = runner


_bridge: _Bridge | None = None


def run_task(task_id: str) -> rq.Retry | None:
    """rq's job function: run the task on this process's loop and wait for it, keeping the
    rq worker's and the job's heartbeats alive meanwhile.

    Never raises: a task's outcome (a failure included) is in its record, so rq always
    records a successful job (and keeps nothing of it: ``result_ttl=0``) — except a run the
    worker's shutdown interrupted whose task went back to ``working``: rq gets a ``Retry``
    and puts the same job back on the queue itself, for another worker or the next start.
    """
    try:
        bridge = _bridge
        if bridge is None:
            log.error("task_lane.not_started", task_id=task_id)
            return None
        worker = current_task_worker()
        name = worker.name if worker is not None else ""
        future = asyncio.run_coroutine_threadsafe(bridge.runner.run(task_id, name), bridge.loop)
        retry_bound = _wait(future, worker)
    except Exception:  # rq must not see it: log it here, with the task's id
        log.error("task_lane.run_failed", task_id=task_id, exc_info=True)
        return None
    # rq fails the job instead once it retried it max times; the runner's own bound (the
    # record's runs) is the one that counts, and never lets rq's be reached.
    return rq.Retry(max=retry_bound) if retry_bound else None


def _wait(future: concurrent.futures.Future[int], worker: TaskWorker | None) -> int:
    interval_s = worker.job_monitoring_interval if worker is not None else None
    while True:
        try:
            return future.result(timeout=interval_s)
        except TimeoutError:
            _heartbeat(worker)
        except concurrent.futures.CancelledError:
            log.warning("task_lane.run_abandoned")  # the loop is going away
            return 0


def _heartbeat(worker: TaskWorker | None) -> None:
    # rq's bookkeeping (the worker's key, the job's StartedJobRegistry entry) expires unless
    # heartbeats say the job still runs; a forking worker would send them from its parent.
    job = rq.get_current_job()
    if worker is None or job is None:
        return
    try:
        worker.maintain_heartbeats(job)
    except redis.RedisError as exc:  # a missed heartbeat is retried at the next interval
        log.warning("task_lane.heartbeat_failed", error=str(exc))


class TaskLane:
    """The lane's lifecycle in one worker process: start the threads, drain at shutdown.

    Args:
        runner: runs each task on this loop.
        threads: the rq threads (not started).
        drain_timeout_s: at shutdown, how long running tasks may take to finish before
            they are interrupted (and requeued, or recorded failed).
    """

    def __init__(self, runner: TaskRunner, threads: TaskThreads, *, drain_timeout_s: float) -> None:
        self.runner = runner
        self._threads = threads
        self._drain_timeout_s = drain_timeout_s
        self._taking = True

    def start(self) -> None:
        """Register this loop as the one :func:`run_task` hands tasks to, then start the
        rq threads. Call on the loop."""
        global _bridge  # noqa: PLW0603  # rq calls run_task by name: a process-wide bridge
        _bridge = _Bridge(asyncio.get_running_loop(), self.runner)
        self._threads.start()
        log.info("task_lane.started", slots=len(self._threads.names))

    def stop_taking(self) -> None:
        """Take no more tasks from the queue (the fleet is stopping: queued tasks wait for
        its next start); running tasks go on. Each thread notices within rq's poll
        interval (1 s), so a task it was already dequeuing may still start."""
        if not self._taking:
            return
        self._taking = False
        self._threads.request_stop()
        log.info("task_lane.stopped_taking", inflight=self.runner.inflight)

    async def drain(self) -> None:
        """Stop dequeuing, let running tasks finish (up to the drain timeout), interrupt
        the rest, and wait (bounded) for the threads to end."""
        global _bridge  # noqa: PLW0603
        self.stop_taking()
        if self.runner.inflight:
            log.info("task_lane.draining", inflight=self.runner.inflight)
        stopped = await asyncio.to_thread(self._threads.join, self._drain_timeout_s)
        if not stopped:
            self.runner.interrupt_all()
            stopped = await asyncio.to_thread(self._threads.join, _JOIN_AFTER_INTERRUPT_S)
        if not stopped:
            log.error("task_lane.threads_left_running", alive=self._threads.alive)
        _bridge = None
        log.info("task_lane.stopped", tasks_run=self.runner.tasks_run)
