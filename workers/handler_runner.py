"""Run one handler with its deadline: async handlers as tasks on the worker's loop, sync
handlers in the bounded thread pool. Every kind of call (tool, resource read, prompt get,
completion) runs here the same way; its :class:`~workers.handler_jobs.HandlerJob` says how
its outcome is answered. Never raises for anything the handler does (a failing handler is
an answer, and the worker keeps serving). Each run of a tool's handler is counted and timed
(``mcpfleet_tool_calls_total``, ``mcpfleet_tool_duration_seconds``; ADR-0012).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from collections.abc import Callable

import msgspec
import structlog

from proto import CallMessage, InputRequiredReply, MissingClientCapabilityError, ToolOutcome
from workers.call_log import CallLog
from workers.client_input import InputChannel, InputRequired
from workers.context import CancelledByClientError, ProgressSink, ToolContext, VisibilitySink
from workers.errors import ToolError
from workers.handler_jobs import HandlerJob, Outcome
from workers.metrics import WorkerMetrics

__all__ = ["HandlerRunner"]

log = structlog.get_logger()


_Settled = tuple[
    Outcome | InputRequiredReply | None, concurrent.futures.Future[object] | None, ToolOutcome
]


class HandlerRunner:
    """Executes handlers; one per worker process.

    Args:
        executor: the thread pool of sync handlers.
        metrics: counts and times the runs of tools' handlers.
    """

    def __init__(
        self, executor: concurrent.futures.ThreadPoolExecutor, metrics: WorkerMetrics
    ) -> None:
        self._executor = executor
        self._metrics = metrics
        # Sync handlers submitted and not done; each leaves the set from the thread that
        # ends it (a set's add and discard are atomic under the GIL).
        self._submitted: set[concurrent.futures.Future[object]] = set()

    @property
    def waiting(self) -> int:
        """Sync handlers (of calls and tasks) waiting for a free thread: work this worker
        took but cannot start yet (the heartbeat's ``waiting``, ADR-0013)."""
        return sum(not (f.running() or f.done()) for f in tuple(self._submitted))

    async def run(
        self,
        job: HandlerJob,
        call: CallMessage,
        *,
        timeout_s: float,
        progress_sink: ProgressSink | None,
        cancel_flag: threading.Event,
        call_log: CallLog | None = None,
        announce: Callable[[str], None] | None = None,
        inputs: InputChannel | None = None,
        visibility: VisibilitySink | None = None,
    ) -> tuple[Outcome | InputRequiredReply | None, concurrent.futures.Future[object] | None]:
        """Run the job's handler within ``timeout_s`` and answer for its outcome.

        ``timeout_s`` may be shorter than the job's own limit (``job.limit_s``, named in
        the error) when the call waited in the queue: the caller's deadline is what
        counts. A handler taking a context gets one built from ``call``: ``call_log``
        receives its ``ctx.log`` entries, ``announce`` its ``ctx.resource_updated`` URIs,
        ``inputs`` carries what it asks the client (ADR-0009) and ``visibility`` its
        ``ctx.enable`` / ``disable`` / ``toggle`` requests (ADR-0010).

        Returns:
            The answer — an :class:`InputRequiredReply` when a 2026-07-28 handler asked for
            input its round did not bring, None when the client cancelled the call — and,
            when a sync handler
            is still running (it overran its timeout, or was cancelled), the future of its
            thread: the call's concurrency slot stays taken until that thread ends, so a
            worker never queues more sync calls than it has threads.

        Cancellation: the client's cancel is ``cancel_flag`` set, then the task cancelled;
        it cancels an async handler, while a sync handler's thread cannot be stopped: it
        sees its context's ``cancelled`` flag, and its late result is discarded. Any other
        cancellation (shutdown) propagates.
        """
        if job.context_param is not None:
            job.kwargs[job.context_param] = ToolContext._for_runtime(
                request_id=call.request_id,
                tool=call.tool,
                progress_sink=progress_sink,
                cancel_flag=cancel_flag,
                call_log=call_log,
                principal=call.principal,
                announce=announce,
                inputs=inputs,
                input_round=call.input_round,
                visibility=visibility,
            )
        started = time.perf_counter()
        how = ToolOutcome.CANCELLED  # unless settled: the worker's shutdown cancelled it
        try:
            answer, overrun, how = await self._settle(job, call, timeout_s, cancel_flag)
        finally:
            if job.tool is not None:
                self._metrics.tool_ran(job.tool, how, time.perf_counter() - started)
        return answer, overrun

    async def _settle(
        self,
        job: HandlerJob,
        call: CallMessage,
        timeout_s: float,
        cancel_flag: threading.Event,
    ) -> _Settled:
        """:meth:`run`'s answer, and how the run ended (the metrics' ``outcome``)."""
        threads: list[concurrent.futures.Future[object]] = []
        try:
            async with asyncio.timeout(timeout_s):
                value = await self._invoke(job, threads)
            if cancel_flag.is_set():  # a handler that swallowed its cancellation
                return None, None, ToolOutcome.CANCELLED
            return job.render(value), None, ToolOutcome.OK
        except TimeoutError:
            cancel_flag.set()
            log.warning("call.timed_out", timeout_s=timeout_s)
            overrun = next((f for f in threads if not f.done()), None)
            message = f"{job.subject} timed out after {job.limit_s:g} s"
            return job.failed(message), overrun, ToolOutcome.TIMEOUT
        except asyncio.CancelledError:
            if not cancel_flag.is_set():
                cancel_flag.set()
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # the client's cancel ends here, as an answer-less outcome
            log.info("call.cancelled")
            overrun = next((f for f in threads if not f.done()), None)
            return None, overrun, ToolOutcome.CANCELLED
        except InputRequired as asked:
            return _input_required(call, asked), None, ToolOutcome.INPUT_REQUIRED
        except ToolError as exc:
            return job.refused(str(exc)), None, ToolOutcome.TOOL_ERROR
        except MissingClientCapabilityError as exc:
            log.info("call.client_capability_missing", error=exc.message)
            return job.lacks_capability(exc), None, ToolOutcome.TOOL_ERROR
        except CancelledByClientError:
            if cancel_flag.is_set():
                log.info("call.cancelled")
                return None, None, ToolOutcome.CANCELLED
            return job.failed(f"{job.subject} was cancelled"), None, ToolOutcome.ERROR
        except Exception as exc:  # supervision boundary: a handler's failure
            log.warning("call.handler_failed", error_type=type(exc).__name__, exc_info=True)
            message = f"{job.subject} failed: {type(exc).__name__}: {exc}"
            return job.failed(message), None, ToolOutcome.ERROR

    async def _invoke(
        self, job: HandlerJob, threads: list[concurrent.futures.Future[object]]
    ) -> object:
        if job.is_async:
            return await job.fn(**job.kwargs)
        future = self._executor.submit(functools.partial(job.fn, **job.kwargs))
        self._submitted.add(future)
        future.add_done_callback(self._submitted.discard)
        threads.append(future)
        return await asyncio.wrap_future(future)


def _input_required(call: CallMessage, asked: InputRequired) -> InputRequiredReply:
    requests = msgspec.json.encode(asked.requests)
    return InputRequiredReply(
        call.call_id, msgspec.Raw(requests), asked.answers, call.input_round + 1
    )
