"""Settle the durable tasks a lost worker was running, at once (ADR-0011; DESIGN.md section
5, "Worker death"): rq alone would leave them ``started`` for about 90 s plus a 10-minute
maintenance interval.

Each started task is a member ``<task id>:<task thread>`` of rq's ``StartedJobRegistry``
(ADR-0020), the thread named ``<worker id>-task-<n>``. When a worker process exits, or its
heartbeat is gone (a worker that died with its supervisor), every member naming one of its
threads (all read in one round trip) is taken out of the registry. The task is requeued
while its tool is retryable (idempotent) and runs are left; otherwise it ends ``failed``
with a "worker lost" error. A run that cannot be settled (its record or rq job no longer
decodes) is logged (``task.settle_failed``), taken out of the registry and failed; the
others settle. The sweep also puts back what a dead thread took off the queue and never
started (:class:`StuckTaken`).

rq speaks redis-py, so this runs in a thread (rare path) on a connection of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, cast

import msgspec
import redis
import structlog
import trio
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from proto import (
    REQUEUE_TAKEN,
    TASK_TRANSITION,
    ErrorCode,
    ErrorObject,
    Keyspace,
    TaskField,
    TaskJobSerializer,
    TaskStatus,
    decode_task_record,
    decode_task_spec,
)

__all__ = [
    "TASK_THREAD_SEPARATOR",
    "StuckTaken",
    "TaskSettler",
    "settle_lost_tasks",
    "worker_of_task_thread",
]

log = structlog.get_logger()

TASK_THREAD_SEPARATOR: Final = "-task-"
"""Between a worker's id and its task thread's number in the thread's name."""

_encoder: Final = msgspec.json.Encoder()


def worker_of_task_thread(rq_worker_name: str) -> str:
    """The worker id a task thread's name (``<worker id>-task-<n>``) belongs to."""
    return rq_worker_name.rpartition(TASK_THREAD_SEPARATOR)[0]


def settle_lost_tasks(
    connection: redis.Redis,
    keys: Keyspace,
    is_lost: Callable[[str], bool],
    on_ended: Callable[[TaskStatus], None],
) -> int:
    """Requeue or fail every started task whose worker id ``is_lost``; returns how many.
    ``on_ended`` hears of each task failed here (``mcpfleet_tasks_total``).

    Raises:
        redis.ConnectionError: Redis is unreachable (what is left stays started; the next
            sweep retries). Any other failure is one task's: it is failed, the rest settle.
    """
    lost = _LostTasks(connection, keys, on_ended)
    settled = 0
    for task_id, member in _tasks_of_lost_workers(connection, keys, is_lost):
        try:
            fields = cast(dict[bytes, bytes], connection.hgetall(keys.task(task_id)))
            lost.settle(task_id, member, fields)
        except (redis.ConnectionError, redis.TimeoutError):
            raise  # Redis itself is gone: every other task would fail the same way
        except Exception as exc:  # noqa: BLE001  # logged with its traceback by give_up
            # One unreadable record (a spec or rq job that no longer decodes) must not
            # keep the others started, nor take the supervisor down.
            lost.give_up(task_id, member, exc)
        settled += 1
    if settled:
        log.warning("tasks.settled_after_worker_loss", tasks=settled)
    return settled


def _tasks_of_lost_workers(
    connection: redis.Redis, keys: Keyspace, is_lost: Callable[[str], bool]
) -> list[tuple[str, bytes]]:
    """The started tasks whose worker ``is_lost`` (each with its registry member): the
    member names the task thread running it (``<task id>:<thread>``, ADR-0020), so one
    read finds them all; ``is_lost`` is asked once per worker. A member whose thread is
    not a task thread's (an rq worker's execution id) belongs to no live worker: the
    sweep settles it."""
    members = cast(list[bytes], connection.zrange(keys.task_started(), 0, -1))
    verdicts: dict[str, bool] = {}
    lost: list[tuple[str, bytes]] = []
    for member in members:
        task_id, _, thread = member.decode(errors="replace").partition(":")
        worker_id = worker_of_task_thread(thread)
        if worker_id not in verdicts:
            verdicts[worker_id] = is_lost(worker_id)
        if verdicts[worker_id]:
            lost.append((task_id, member))
    return lost


class _LostTasks:
    """rq's view of the fleet's task queue, and what to do with a lost run."""

    def __init__(
        self, connection: redis.Redis, keys: Keyspace, on_ended: Callable[[TaskStatus], None]
    ) -> None:
        self._connection = connection
        self._keys = keys
        self._on_ended = on_ended
        self.queue = Queue(keys.task_queue(), connection=connection, serializer=TaskJobSerializer)

    def settle(self, task_id: str, member: bytes, fields: dict[bytes, bytes]) -> None:
        """Take the run out of the started registry; retry it or fail the task."""
        try:
            job: Job | None = Job.fetch(
                task_id, connection=self._connection, serializer=TaskJobSerializer
            )
        except NoSuchJobError:
            job = None
        self._connection.zrem(self._keys.task_started(), member)
        record = decode_task_record(task_id, fields)
        spec_data = fields.get(TaskField.SPEC.value.encode())
        if record is None or record.terminal or spec_data is None:
            if job is not None:
                job.delete()
            return
        spec = decode_task_spec(spec_data)
        if spec.retryable and record.attempts < spec.max_attempts and job is not None:
            self.queue.enqueue_job(job)
            self._transition(
                task_id,
                TaskStatus.WORKING,
                f"Retrying: the worker running it was lost (run {record.attempts} of "
                f"{spec.max_attempts})",
            )
            log.warning("task.requeued_after_worker_loss", task_id=task_id, runs=record.attempts)
            return
        error = ErrorObject(
            ErrorCode.INTERNAL_ERROR,
            f"The worker running tool {spec.tool!r} was lost before it finished; the task "
            "may have partly run",
            {"reason": "worker_lost", "runs": record.attempts},
        )
        failed = self._transition(
            task_id,
            TaskStatus.FAILED,
            "Worker lost: the task's worker exited before it finished",
            outcome=_encoder.encode({"error": error}),
        )
        if failed:
            self._on_ended(TaskStatus.FAILED)
        if job is not None:
            job.delete()
        log.warning("task.failed_after_worker_loss", task_id=task_id, runs=record.attempts)

    def give_up(self, task_id: str, member: bytes, error: Exception) -> None:
        """A run that could not be settled (its record or job does not decode): take it out
        of the started registry for good and fail the task, saying why."""
        log.error("task.settle_failed", task_id=task_id, error=repr(error), exc_info=error)
        self._connection.zrem(self._keys.task_started(), member)
        self._connection.delete(self._keys.task_job(task_id))
        error_object = ErrorObject(
            ErrorCode.INTERNAL_ERROR,
            "The worker running this task was lost, and the task's stored state could not "
            "be read to retry it",
            {"reason": "worker_lost", "detail": "unreadable_task"},
        )
        try:
            failed = self._transition(
                task_id,
                TaskStatus.FAILED,
                f"Worker lost, and the task could not be settled: {error}",
                outcome=_encoder.encode({"error": error_object}),
            )
        except redis.ResponseError as exc:  # not even a task's hash: nobody to tell
            log.error("task.settle_failed", task_id=task_id, error=str(exc))
            return
        if failed:
            self._on_ended(TaskStatus.FAILED)

    def _transition(
        self, task_id: str, status: TaskStatus, message: str, *, outcome: bytes = b""
    ) -> bool:
        """Whether the task moved (``TASK_TRANSITION``: an ended one never does)."""
        now_ms = int(time.time() * 1000)
        moved = self._connection.eval(
            TASK_TRANSITION.source,
            1,
            self._keys.task(task_id),
            self._keys.task_events(),
            task_id,
            status.value,
            now_ms,
            "0",
            TaskField.MESSAGE.value,
            message,
            TaskField.OUTCOME.value,
            outcome,
            TaskField.WORKER.value,
            "",
        )
        return bool(moved == 1)


class TaskSettler:
    """The supervisor's hand on lost workers' tasks: rq calls in a thread, on a redis-py
    connection of its own.

    Args:
        redis_url: the fleet's Redis.
        keys: the fleet's key schema.
        on_ended: hears of each task failed because its worker was lost (from a thread).
    """

    def __init__(
        self, redis_url: str, keys: Keyspace, *, on_ended: Callable[[TaskStatus], None]
    ) -> None:
        self._connection = redis.Redis.from_url(redis_url, socket_timeout=10)
        self._keys = keys
        self._on_ended = on_ended
        self._taken = StuckTaken(keys)

    async def worker_exited(self, worker_id: str) -> int:
        """Settle the tasks the exited worker ``worker_id`` was running."""
        return await trio.to_thread.run_sync(
            settle_lost_tasks,
            self._connection,
            self._keys,
            lambda lost: lost == worker_id,
            self._on_ended,
        )

    async def sweep(self) -> int:
        """Settle the tasks of every worker without a live heartbeat (it died with its
        supervisor, or on a lost host), and put back on the queue what a task thread took
        and never started (:meth:`StuckTaken.requeue`)."""
        settled = await trio.to_thread.run_sync(
            settle_lost_tasks,
            self._connection,
            self._keys,
            self._without_heartbeat,
            self._on_ended,
        )
        await trio.to_thread.run_sync(self._taken.requeue, self._connection, time.monotonic())
        return settled

    def _without_heartbeat(self, worker_id: str) -> bool:
        return not self._connection.exists(self._keys.worker_heartbeat(worker_id))

    def close(self) -> None:
        self._connection.close()


class StuckTaken:
    """Task ids a task thread took off the queue (``BLMOVE`` to rq's intermediate list)
    but never registered as started: its worker died in between, a window of one round
    trip (ADR-0020). An id seen there, not started, on sweeps :data:`STUCK_AFTER_S` apart
    goes back to the head of the queue (``REQUEUE_TAKEN``), as rq's own maintenance would
    after a minute; a thread that took it and goes on after all finds it gone and skips it.

    Args:
        keys: the fleet's key schema.
    """

    STUCK_AFTER_S: Final = 60.0

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys
        self._first_seen: dict[bytes, float] = {}

    def requeue(self, connection: redis.Redis, now_s: float) -> int:
        """One look (blocking: from a thread); how many ids went back on the queue."""
        taken = cast(list[bytes], connection.lrange(self._keys.task_queue_taken(), 0, -1))
        if not taken:
            self._first_seen.clear()
            return 0
        members = cast(list[bytes], connection.zrange(self._keys.task_started(), 0, -1))
        started = {member.partition(b":")[0] for member in members}
        waiting = {task_id for task_id in taken if task_id not in started}
        self._first_seen = {task_id: self._first_seen.get(task_id, now_s) for task_id in waiting}
        requeued = 0
        for task_id, seen_s in self._first_seen.items():
            if now_s - seen_s < self.STUCK_AFTER_S:
                continue
            keys = [self._keys.task_queue_taken(), self._keys.task_queue_list()]
            requeued += cast(int, connection.eval(REQUEUE_TAKEN.source, 2, *keys, task_id))
        if requeued:
            log.warning("tasks.requeued_stuck_taken", tasks=requeued)
        return requeued
