"""Run one durable task on the worker's loop (ADR-0011): read its record, mark the run, run
the tool exactly as a call runs (``HandlerJobs`` + ``HandlerRunner``: time limit, thread pool,
cancellation), and record the outcome.

- A record that expired, or that ended before the run started (cancelled while queued), is
  left alone: the task does not run.
- The outcome: a ``CallToolResult`` (a tool error included, ``is_error``) ends the task
  ``completed``; a JSON-RPC error (an unknown tool, a client capability the handler needed)
  ends it ``failed``; a cancellation ``cancelled``. ``TASK_TRANSITION`` ignores all of these
  once the task has ended otherwise (a cancel that won the race).
- A run the worker's shutdown interrupts (past ``worker.drain_timeout_s``) goes back in line
  while its tool is retryable (idempotent) and runs are left: the record back to
  ``working``, its rq job back at the head of the queue (``workers.task_threads``); any
  other ends ``failed`` with a "worker stopped" error.
- Progress goes to the record's ``progress`` field; ``ctx.log`` entries to the worker's log
  only. A handler asking the client for input (``workers.task_inputs``) puts its requests in
  the record and waits for the answers: :meth:`TaskRunner.on_answered` wakes it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Mapping
from typing import Final

import msgspec
import structlog

from proto import (
    BackendUnavailableError,
    CallKind,
    CallMessage,
    ErrorCode,
    ErrorObject,
    InputRequiredReply,
    RedisCommandError,
    TaskField,
    TaskSpec,
    TaskStatus,
    decode_task_record,
    decode_task_spec,
)
from workers.call_log import CallLog
from workers.handler_jobs import HandlerJob, HandlerJobs, Outcome
from workers.handler_runner import HandlerRunner
from workers.metrics import WorkerMetrics
from workers.task_inputs import TaskInputs
from workers.task_progress import TaskProgress
from workers.task_record import TaskRecords, Transition

__all__ = ["TaskRunner"]

log = structlog.get_logger()

STOPPED_MESSAGE: Final = "Worker stopped: the task's worker shut down before it finished"


class _ResultOutcome(msgspec.Struct, frozen=True):
    result: msgspec.Raw


class _ErrorOutcome(msgspec.Struct, frozen=True):
    error: ErrorObject


class _IsError(msgspec.Struct, frozen=True):
    is_error: bool = msgspec.field(default=False, name="isError")


_encoder: Final = msgspec.json.Encoder()
_is_error_decoder: Final = msgspec.json.Decoder(_IsError)


class _Running:
    __slots__ = ("answered", "flag", "retry_bound", "runs", "stopping", "task", "tool")

    def __init__(self, task: asyncio.Task[None]) -> None:
        self.task = task
        self.answered = asyncio.Event()
        """Set when the client answered some of the task's input requests."""
        self.flag = threading.Event()
        """Set by a client's cancel (before the task is cancelled, as for calls)."""
        self.stopping = False
        """Set when the worker's shutdown interrupts the run."""
        self.tool = ""
        self.runs = 0
        """This run's number (known once the run is counted)."""
        self.retry_bound = 0
        """The task's ``max_attempts`` while it may run again (a retryable tool with runs
        left); 0 otherwise."""


class TaskRunner:
    """Runs the tasks the task threads hand this worker process, on its loop.

    Args:
        records: the task records.
        jobs: turns a task's spec into the tool's handler job.
        runner: runs handlers (shared with calls).
        metrics: counts the tasks this worker ends (``mcpfleet_tasks_total``).
        log_messages_per_s: the ``ctx.log`` rate bound (as for calls).
        log_context: bound on every log line of a task (the worker's own context: the
            task's coroutine is started from a task thread, which has none).
    """

    def __init__(
        self,
        records: TaskRecords,
        jobs: HandlerJobs,
        runner: HandlerRunner,
        *,
        metrics: WorkerMetrics,
        log_messages_per_s: int,
        log_context: Mapping[str, object] | None = None,
    ) -> None:
        self._records = records
        self._jobs = jobs
        self._runner = runner
        self._metrics = metrics
        self._log_per_s = log_messages_per_s
        self._log_context = dict(log_context or {})
        self._running: dict[str, _Running] = {}
        self.tasks_run = 0

    @property
    def inflight(self) -> int:
        return len(self._running)

    def on_cancel(self, task_id: str) -> None:
        """A client cancelled the task: stop it if it runs here (its record already says
        cancelled, so a worker that dequeues it later will not run it)."""
        running = self._running.get(task_id)
        if running is not None:
            running.flag.set()  # first: the runner tells this cancel from a shutdown by it
            running.task.cancel()

    def on_answered(self, task_id: str) -> None:
        """A client answered input requests of the task: wake its handler if it runs here
        (the answers are in the record)."""
        running = self._running.get(task_id)
        if running is not None:
            running.answered.set()

    def interrupt_all(self) -> None:
        """Shutdown past the drain timeout: stop every run; each puts its task back in line
        (a retryable tool with runs left) or records it failed."""
        for running in self._running.values():
            running.stopping = True
            running.task.cancel()

    async def run(self, task_id: str, worker_name: str) -> bool:
        """Run the task, recording its outcome. Never raises for what the task does or
        for Redis (logged).

        Returns:
            Whether the worker's shutdown interrupted the run and the task went back to
            ``working`` for another run (its job goes back in line).
        """
        task = asyncio.current_task()
        assert task is not None
        running = _Running(task)
        # Registered before the record is read: a cancel arriving meanwhile reaches it.
        self._running[task_id] = running
        try:
            with structlog.contextvars.bound_contextvars(
                **self._log_context, task_id=task_id, worker=worker_name
            ):
                return await self._run_guarded(task_id, worker_name, running)
        finally:
            self._running.pop(task_id, None)

    async def _run_guarded(self, task_id: str, worker_name: str, running: _Running) -> bool:
        try:
            await self._run(task_id, worker_name, running)
        except asyncio.CancelledError:
            if not (running.flag.is_set() or running.stopping):
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]  # in a task
            if running.stopping:
                return await self._record_stopped(task_id, running)
            log.info("task.cancelled")
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.error("task.redis_failed", error=str(exc))
        return False

    async def _run(self, task_id: str, worker_name: str, running: _Running) -> None:
        fields = await self._records.read(task_id)
        record = decode_task_record(task_id, fields)
        if record is None:
            log.info("task.expired_unrun")
            return
        if record.terminal:
            log.info("task.ended_unrun", status=record.status.value)
            return
        moved = await self._records.transition(
            task_id,
            TaskStatus.WORKING,
            count_run=True,
            fields={TaskField.WORKER: worker_name},
        )
        if moved is not Transition.MOVED:
            log.info("task.ended_unrun", transition=moved.name)
            return
        try:
            spec = decode_task_spec(fields.get(TaskField.SPEC.value.encode(), b""))
        except msgspec.MsgspecError as exc:
            log.error("task.spec_undecodable", error=str(exc))
            error = ErrorObject(ErrorCode.INTERNAL_ERROR, "The task's record is damaged")
            await self._record(task_id, error)
            return
        running.tool, running.runs = spec.tool, record.attempts + 1
        if spec.retryable and running.runs < spec.max_attempts:
            running.retry_bound = spec.max_attempts
        log.info("task.started", tool=spec.tool, attempt=running.runs)
        outcome, overrun = await self._execute(task_id, spec, running)
        await self._record(task_id, outcome)
        if overrun is not None:
            # A sync handler past its limit holds its thread, hence this task's slot, until
            # it lets go (as for calls); its outcome is recorded already.
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(overrun)
            log.info("task.overrun_finished")

    async def _execute(
        self, task_id: str, spec: TaskSpec, running: _Running
    ) -> tuple[Outcome | InputRequiredReply | None, concurrent.futures.Future[object] | None]:
        call = CallMessage(
            call_id=0,
            front_id="",
            tool=spec.tool,
            arguments=spec.arguments,
            protocol_version=spec.protocol_version,
            deadline_ms=0,
            request_id=spec.request_id,
            principal=spec.principal,
            kind=CallKind.TOOL,
        )
        job = self._jobs.prepare(call)
        if not isinstance(job, HandlerJob):
            return job, None  # refused before running (a tool this worker does not serve)
        call = msgspec.structs.replace(call, deadline_ms=int((time.time() + job.limit_s) * 1000))
        progress = TaskProgress(
            lambda report: self._records.transition(
                task_id, None, fields={TaskField.PROGRESS: report.decode()}
            ),
            asyncio.get_running_loop(),
        )
        call_log = None
        if job.context_param is not None:
            call_log = CallLog(
                tool=spec.tool,
                request_id=spec.request_id,
                principal=spec.principal.name,
                per_second=self._log_per_s,
            )
        try:
            outcome, overrun = await self._runner.run(
                job,
                call,
                timeout_s=job.limit_s,
                progress_sink=progress.report,
                cancel_flag=running.flag,
                call_log=call_log,
                inputs=None
                if job.context_param is None
                else TaskInputs(spec.client_capabilities, task_id, self._records, running.answered),
            )
        finally:
            await progress.close()
        if call_log is not None:
            call_log.finish()
        return outcome, overrun

    async def _record(self, task_id: str, outcome: Outcome | InputRequiredReply | None) -> None:
        status, fields = _ending(outcome)
        moved = await self._records.transition(task_id, status, fields=fields)
        if moved is Transition.MOVED:
            self._metrics.task_ended(status)
        self.tasks_run += 1
        log.info("task.ended", status=status.value, recorded=moved is Transition.MOVED)

    async def _record_stopped(self, task_id: str, running: _Running) -> bool:
        """The shutdown interrupted the run: back in line if it may run again, else failed.
        Returns whether it went back in line."""
        with contextlib.suppress(BackendUnavailableError, RedisCommandError):
            if running.retry_bound:
                message = (
                    "Requeued: the worker running it stopped before it finished (run "
                    f"{running.runs} of {running.retry_bound})"
                )
                moved = await self._records.transition(
                    task_id,
                    TaskStatus.WORKING,
                    fields={TaskField.MESSAGE: message, TaskField.WORKER: ""},
                )
                if moved is Transition.MOVED:
                    log.warning("task.requeued_after_shutdown", runs=running.runs)
                    return True
                return False  # it ended meanwhile (a cancel): nothing to run again
            error = ErrorObject(
                ErrorCode.INTERNAL_ERROR,
                f"The worker running tool {running.tool!r} stopped before it finished; the "
                "task may have partly run",
                {"reason": "worker_stopped", "runs": running.runs},
            )
            moved = await self._records.transition(
                task_id,
                TaskStatus.FAILED,
                fields={
                    TaskField.OUTCOME: _encoder.encode(_ErrorOutcome(error)).decode(),
                    TaskField.MESSAGE: STOPPED_MESSAGE,
                },
            )
            if moved is Transition.MOVED:
                self._metrics.task_ended(TaskStatus.FAILED)
        log.warning("task.interrupted_by_shutdown")
        return False


def _ending(
    outcome: Outcome | InputRequiredReply | None,
) -> tuple[TaskStatus, dict[TaskField, str]]:
    """The status and fields a task ends with, for its handler's outcome."""
    if outcome is None:
        return TaskStatus.CANCELLED, {}
    if isinstance(outcome, bytes):
        fields = {TaskField.OUTCOME: _encoder.encode(_ResultOutcome(msgspec.Raw(outcome))).decode()}
        # Only an ending run sets is_error, and an ended task never runs again: there is
        # no earlier flag to delete (an HDEL would be one more command per task).
        if _is_error_decoder.decode(outcome).is_error:
            fields[TaskField.IS_ERROR] = "1"
        return TaskStatus.COMPLETED, fields
    if isinstance(outcome, InputRequiredReply):
        # Unreachable: a task's channel waits for its answers instead of ending the run.
        outcome = ErrorObject(ErrorCode.INTERNAL_ERROR, "The task asked for client input")
    return TaskStatus.FAILED, {
        TaskField.OUTCOME: _encoder.encode(_ErrorOutcome(outcome)).decode(),
        TaskField.MESSAGE: outcome.message,
    }
