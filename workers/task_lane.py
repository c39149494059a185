"""The task lane of a worker process (ADR-0011, ADR-0020): threads take durable tasks off
the fleet's rq queue (:mod:`workers.task_threads`) and hand each to the process's asyncio
loop, where the :class:`~workers.task_runner.TaskRunner` runs it like a call.

rq's job hash still names :func:`run_task` (``proto.TASK_JOB_FUNCTION``), as rq's tools
show it; no rq worker calls it here. Run by a plain ``rq worker`` pointed at the fleet's
queue, it fails the job saying so, rather than leaving its task unrun and ``working``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Final

import structlog

from workers.task_runner import TaskRunner
from workers.task_threads import TaskThreads

__all__ = ["TaskLane", "run_task"]

log = structlog.get_logger()

_JOIN_AFTER_INTERRUPT_S: Final = 5.0
"""After the drain timeout interrupted the runs: how long their threads get to hand the
tasks back and stop."""


def run_task(task_id: str) -> None:
    """The function rq's job names: tasks run in mcpfleet's workers only.

    Raises:
        RuntimeError: always (an rq worker that is not mcpfleet's took the job).
    """
    raise RuntimeError(
        f"task {task_id} was taken by a plain rq worker: mcpfleet tasks run only in "
        "mcpfleet workers (ADR-0020)"
    )


class TaskLane:
    """The lane's lifecycle in one worker process: start the threads, drain at shutdown.

    Args:
        runner: runs each task on this loop.
        threads: the task threads (not started).
        drain_timeout_s: at shutdown, how long running tasks may take to finish before
            they are interrupted (and requeued, or recorded failed).
    """

    def __init__(self, runner: TaskRunner, threads: TaskThreads, *, drain_timeout_s: float) -> None:
        self.runner = runner
        self._threads = threads
        self._drain_timeout_s = drain_timeout_s
        self._taking = True
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start the threads; they hand their tasks to this loop. Call on the loop."""
        self._loop = asyncio.get_running_loop()
        self._threads.start(self._run_blocking)
        log.info("task_lane.started", slots=len(self._threads.names))

    def _run_blocking(self, task_id: str, thread: str) -> bool:
        """Run the task on the loop and wait for it (on a task thread); True when the
        worker's shutdown interrupted it and it went back to ``working`` for another run.
        Never raises: the outcome, a failure included, is in the task's record."""
        loop = self._loop
        if loop is None:
            log.error("task_lane.not_started", task_id=task_id)
            return True
        future = asyncio.run_coroutine_threadsafe(self.runner.run(task_id, thread), loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            log.warning("task_lane.run_abandoned", task_id=task_id)  # the loop is going away
            return False
        except Exception:  # logged here, with the task's id; the thread goes on
            log.error("task_lane.run_failed", task_id=task_id, exc_info=True)
            return False

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
        self.stop_taking()
        if self.runner.inflight:
            log.info("task_lane.draining", inflight=self.runner.inflight)
        stopped = await asyncio.to_thread(self._threads.join, self._drain_timeout_s)
        if not stopped:
            self.runner.interrupt_all()
            stopped = await asyncio.to_thread(self._threads.join, _JOIN_AFTER_INTERRUPT_S)
        if not stopped:
            log.error("task_lane.threads_left_running", alive=self._threads.alive)
        log.info("task_lane.stopped", tasks_run=self.runner.tasks_run)
