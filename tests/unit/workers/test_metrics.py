"""How each run of a tool's handler is counted (ADR-0012): one sample per run in
``mcpfleet_tool_calls_total`` with its outcome, one observation of its duration, labelled
with the registered tool's name; the other kinds of call (resources, prompts, completions)
are not tool calls."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator

import pytest

from proto import CallKind, Implementation, ResultMeta, TaskStatus, encode_call_arguments
from proto import ResourceReadArguments as Read
from tests.fixtures.calls import call_message
from workers import ToolContext, ToolError, Toolset
from workers.client_input import RetriedInputs
from workers.handler_jobs import HandlerJob, HandlerJobs
from workers.handler_runner import HandlerRunner
from workers.metrics import WorkerMetrics
from workers.result_render import ResultRenderer

INFO = Implementation(name="metered", version="1")
MODERN = "2026-07-28"

app = Toolset("metered")


@app.tool
def fine() -> str:
    return "fine"


@app.tool
def refuses() -> str:
    raise ToolError("no")


@app.tool
def crashes() -> str:
    raise RuntimeError("boom")


@app.tool(timeout_s=0.05)
async def never_ends() -> str:
    await asyncio.Event().wait()
    return "unreachable"


@app.tool
async def asks(ctx: ToolContext) -> str:
    await ctx.elicit("Name?", {"type": "object", "properties": {}})
    return "asked"


@app.resource("test://note")
def note() -> str:
    return "a note"


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        yield pool


def run(runner: HandlerRunner, kind: str, target: str, arguments: bytes = b"{}") -> None:
    call = call_message(kind, target, arguments, MODERN)
    jobs = HandlerJobs(
        app, ResultRenderer(INFO), meta=ResultMeta(server_info=INFO), default_timeout_s=5.0
    )
    job = jobs.prepare(call)
    assert isinstance(job, HandlerJob), job
    asyncio.run(
        runner.run(
            job, call, timeout_s=job.limit_s, progress_sink=None, cancel_flag=threading.Event()
        )
    )


def calls(metrics: WorkerMetrics, tool: str, outcome: str) -> float | None:
    assert metrics.registry is not None  # the test process runs without the fleet's dir
    return metrics.registry.get_sample_value(
        "mcpfleet_tool_calls_total", {"tool": tool, "outcome": outcome}
    )


def test_each_run_is_counted_with_how_it_ended(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    metrics = WorkerMetrics()
    runner = HandlerRunner(executor, metrics)
    for tool in ("fine", "fine", "refuses", "crashes", "never_ends"):
        run(runner, CallKind.TOOL, tool)
    assert calls(metrics, "fine", "ok") == 2
    assert calls(metrics, "fine", "error") == 0
    assert calls(metrics, "refuses", "tool_error") == 1
    assert calls(metrics, "crashes", "error") == 1
    assert calls(metrics, "never_ends", "timeout") == 1
    assert metrics.registry is not None
    assert (
        metrics.registry.get_sample_value("mcpfleet_tool_duration_seconds_count", {"tool": "fine"})
        == 2
    )
    timed_out = metrics.registry.get_sample_value(
        "mcpfleet_tool_duration_seconds_sum", {"tool": "never_ends"}
    )
    assert timed_out is not None and timed_out >= 0.05


def test_a_handler_asking_for_input_it_lacks_is_counted_as_such(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    metrics = WorkerMetrics()
    call = call_message(CallKind.TOOL, "asks", b"{}", MODERN)
    jobs = HandlerJobs(
        app, ResultRenderer(INFO), meta=ResultMeta(server_info=INFO), default_timeout_s=5.0
    )
    job = jobs.prepare(call)
    assert isinstance(job, HandlerJob)
    asyncio.run(
        HandlerRunner(executor, metrics).run(
            job,
            call,
            timeout_s=5,
            progress_sink=None,
            cancel_flag=threading.Event(),
            inputs=RetriedInputs(0xFFFF, {}),
        )
    )
    assert calls(metrics, "asks", "input_required") == 1


def test_other_kinds_of_call_are_not_tool_calls(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    metrics = WorkerMetrics()
    arguments = encode_call_arguments(Read("test://note", {}))
    run(HandlerRunner(executor, metrics), CallKind.RESOURCE, "test://note", arguments)
    assert metrics.registry is not None
    assert (
        metrics.registry.get_sample_value(
            "mcpfleet_tool_duration_seconds_count", {"tool": "test://note"}
        )
        is None
    )


def test_tasks_ended_are_counted_by_status() -> None:
    metrics = WorkerMetrics()
    metrics.task_ended(TaskStatus.COMPLETED)
    metrics.task_ended(TaskStatus.COMPLETED)
    metrics.task_ended(TaskStatus.FAILED)
    assert metrics.registry is not None
    sample = metrics.registry.get_sample_value
    assert sample("mcpfleet_tasks_total", {"status": "completed"}) == 2
    assert sample("mcpfleet_tasks_total", {"status": "failed"}) == 1
    assert sample("mcpfleet_tasks_total", {"status": "cancelled"}) == 0
