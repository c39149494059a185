"""``HandlerRunner.waiting``: sync handlers the worker took that wait for a free thread (the
heartbeat's ``waiting``, the autoscaler's signal for sync tools, ADR-0013)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Iterator

import msgspec
import pytest

from proto import CallKind, CallMessage, Implementation, ResultMeta
from workers import Toolset
from workers.handler_jobs import HandlerJob, HandlerJobs
from workers.handler_runner import HandlerRunner
from workers.metrics import WorkerMetrics
from workers.result_render import ResultRenderer

INFO = Implementation(name="runner", version="1")
app = Toolset("runner")
_release = threading.Event()
_started = threading.Semaphore(0)


@app.tool
def hold() -> str:
    """Hold a thread until the test lets go."""
    _started.release()
    _release.wait(10)
    return "released"


@app.tool
async def quick() -> str:
    """An async handler: it never takes a thread."""
    return "quick"


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    _release.clear()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        yield pool
        _release.set()


def _job(tool: str) -> tuple[HandlerJob, CallMessage]:
    call = CallMessage(
        call_id=1,
        front_id="f",
        tool=tool,
        arguments=msgspec.Raw(b"{}"),
        protocol_version="2025-11-25",
        deadline_ms=int(time.time() * 1000) + 10_000,
        request_id="r-1",
        kind=CallKind.TOOL,
    )
    jobs = HandlerJobs(
        app, ResultRenderer(INFO), meta=ResultMeta(server_info=INFO), default_timeout_s=5.0
    )
    job = jobs.prepare(call)
    assert isinstance(job, HandlerJob)
    return job, call


async def _run(runner: HandlerRunner, tool: str, timeout_s: float = 5.0) -> object:
    job, call = _job(tool)
    outcome, _overrun = await runner.run(
        job, call, timeout_s=timeout_s, progress_sink=None, cancel_flag=threading.Event()
    )
    return outcome


def test_sync_handlers_beyond_the_threads_count_as_waiting(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    runner = HandlerRunner(executor, WorkerMetrics())

    async def scenario() -> list[int]:
        seen = [runner.waiting]
        runs = [asyncio.create_task(_run(runner, "hold")) for _ in range(3)]
        runs.append(asyncio.create_task(_run(runner, "quick")))
        await asyncio.to_thread(_started.acquire)  # the first holds the only thread
        seen.append(runner.waiting)
        _release.set()
        await asyncio.gather(*runs)
        seen.append(runner.waiting)
        return seen

    assert asyncio.run(scenario()) == [0, 2, 0]


def test_a_call_that_timed_out_while_waiting_no_longer_counts(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    runner = HandlerRunner(executor, WorkerMetrics())

    async def scenario() -> tuple[int, int, object]:
        holding = asyncio.create_task(_run(runner, "hold"))
        await asyncio.to_thread(_started.acquire)
        queued = asyncio.create_task(_run(runner, "hold", timeout_s=0.05))
        await asyncio.to_thread(int)  # one pass of the loop: the queued call submits
        during = runner.waiting
        outcome = await queued
        after = runner.waiting
        _release.set()
        await holding
        return during, after, outcome

    during, after, outcome = asyncio.run(scenario())
    assert (during, after) == (1, 0)
    assert outcome is not None  # answered: a timeout error
