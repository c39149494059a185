"""Run one handler with its deadline: async handlers as tasks on the worker's loop, sync
handlers in the bounded thread pool. Returns the rendered result bytes, never raises for
anything the handler does (a failing handler is a tool error, and the worker keeps serving).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading

import msgspec
import structlog

from proto import CallMessage
from workers.call_log import CallLog
from workers.context import CancelledByClientError, ProgressSink, ToolContext
from workers.errors import ToolError
from workers.result_render import ResultRenderer
from workers.toolset import ToolDefinition

__all__ = ["HandlerRunner"]

log = structlog.get_logger()


class HandlerRunner:
    """Executes handlers; one per worker process."""

    def __init__(
        self, renderer: ResultRenderer, executor: concurrent.futures.ThreadPoolExecutor
    ) -> None:
        self._renderer = renderer
        self._executor = executor

    async def run(
        self,
        tool: ToolDefinition,
        call: CallMessage,
        *,
        timeout_s: float,
        limit_s: float,
        progress_sink: ProgressSink | None,
        cancel_flag: threading.Event,
        call_log: CallLog | None = None,
    ) -> tuple[bytes | None, concurrent.futures.Future[object] | None]:
        """Decode the arguments, run the handler within ``timeout_s`` and render the outcome.

        ``limit_s`` is the tool's own timeout, named in the error; ``timeout_s`` may be
        shorter when the call waited in the queue (the caller's deadline is what counts).
        ``call_log`` receives the handler's ``ctx.log`` entries.

        Returns:
            The rendered result — None when the client cancelled the call — and, when a sync
            handler is still running (it overran its timeout, or was cancelled), the future
            of its thread: the call's concurrency slot stays taken until that thread ends,
            so a worker never queues more sync calls than it has threads.

        Cancellation: the client's cancel is ``cancel_flag`` set, then the task cancelled;
        it cancels an async handler, while a sync handler's thread cannot be stopped: it
        sees its context's ``cancelled`` flag, and its late result is discarded. Any other
        cancellation (shutdown) propagates.
        """
        version = call.protocol_version
        try:
            args = msgspec.json.decode(call.arguments or b"{}", type=tool.args.struct, strict=False)
        except msgspec.MsgspecError as exc:
            # The front validated these already; only a version skew gets here.
            return self._renderer.tool_error(
                f"Invalid arguments for tool {tool.name!r}: {exc}", version
            ), None
        kwargs = {name: getattr(args, name) for name in tool.args.struct.__struct_fields__}
        if tool.args.context_param is not None:
            kwargs[tool.args.context_param] = ToolContext._for_runtime(
                request_id=call.request_id,
                tool=tool.name,
                progress_sink=progress_sink,
                cancel_flag=cancel_flag,
                call_log=call_log,
                principal=call.principal,
            )
        threads: list[concurrent.futures.Future[object]] = []
        try:
            async with asyncio.timeout(timeout_s):
                value = await self._invoke(tool, kwargs, threads)
            if cancel_flag.is_set():  # a handler that swallowed its cancellation
                return None, None
            return self._renderer.success(value, version, tool.output), None
        except TimeoutError:
            cancel_flag.set()
            log.warning("call.timed_out", timeout_s=timeout_s)
            overrun = next((f for f in threads if not f.done()), None)
            return self._renderer.tool_error(
                f"Tool {tool.name!r} timed out after {limit_s:g} s", version
            ), overrun
        except asyncio.CancelledError:
            if not cancel_flag.is_set():
                cancel_flag.set()
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # the client's cancel ends here, as an answer-less outcome
            log.info("call.cancelled")
            return None, next((f for f in threads if not f.done()), None)
        except ToolError as exc:
            return self._renderer.tool_error(str(exc), version), None
        except CancelledByClientError:
            if cancel_flag.is_set():
                log.info("call.cancelled")
                return None, None
            return self._renderer.tool_error(f"Tool {tool.name!r} was cancelled", version), None
        except Exception as exc:  # supervision boundary: a handler's failure
            log.warning("call.handler_failed", error_type=type(exc).__name__, exc_info=True)
            return self._renderer.tool_error(
                f"Tool {tool.name!r} failed: {type(exc).__name__}: {exc}", version
            ), None

    async def _invoke(
        self,
        tool: ToolDefinition,
        kwargs: dict[str, object],
        threads: list[concurrent.futures.Future[object]],
    ) -> object:
        if tool.is_async:
            return await tool.fn(**kwargs)
        future = self._executor.submit(functools.partial(tool.fn, **kwargs))
        threads.append(future)
        return await asyncio.wrap_future(future)
