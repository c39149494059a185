"""The worker process: connect to Redis, join the call stream's consumer group, serve calls
until SIGTERM/SIGINT, drain, exit. SIGWINCH (the fleet is stopping, or this worker is being
retired) stops taking tasks from the queue before that: queued tasks wait for another worker
or the fleet's next start. SIGUSR2 (this worker is retired: recycled or scaled down, not the
fleet's shutdown; ADR-0014) stops it like SIGTERM, but its in-flight calls run to their own
deadlines (the longest timeout of the app) instead of ``worker.drain_timeout_s``.

The worker runs an asyncio event loop (ADR-0002): async handlers run as tasks on it, so tool
authors can use any asyncio library; sync handlers run in a bounded thread pool.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

from proto import Keyspace, ResultMeta, WorkerHeartbeat, parse_redis_url
from workers.call_consumer import CallConsumer
from workers.cancel_listener import CancelListener
from workers.config import RETIRE_ANSWER_S, WorkerConfig
from workers.handler_jobs import HandlerJobs
from workers.handler_runner import HandlerRunner
from workers.heartbeat import Heartbeat
from workers.metrics import WorkerMetrics
from workers.redis_connection import AsyncRedis
from workers.reply_publisher import ReplyPublisher
from workers.result_render import ResultRenderer
from workers.task_lane import TaskLane
from workers.task_record import TaskRecords
from workers.task_runner import TaskRunner
from workers.task_threads import TaskThreads
from workers.toolset import Toolset
from workers.visibility_toggles import VisibilityToggles

__all__ = ["run_worker"]

log = structlog.get_logger()


def run_worker(
    toolset: Toolset,
    *,
    redis_url: str,
    fleet: str,
    worker_id: str,
    config: WorkerConfig,
    on_ready: Callable[[], None] = lambda: None,
    hold_tasks: bool = False,
) -> None:
    """Serve calls in this process until SIGTERM or SIGINT, then drain and return.

    Args:
        toolset: the tools to serve.
        redis_url: the fleet's Redis.
        fleet: the fleet's key namespace.
        worker_id: this process's consumer name; unique per process incarnation, so the
            supervisor can settle exactly this worker's calls if it dies.
        config: worker settings.
        on_ready: called once the worker is reading the call stream.
        hold_tasks: take no task from the queue at all (a worker started while the fleet
            stops: ``--hold-tasks``); calls are served as usual.
    """
    asyncio.run(
        _serve(
            toolset,
            redis_url=redis_url,
            fleet=fleet,
            worker_id=worker_id,
            config=config,
            on_ready=on_ready,
            hold_tasks=hold_tasks,
        )
    )


async def _serve(
    toolset: Toolset,
    *,
    redis_url: str,
    fleet: str,
    worker_id: str,
    config: WorkerConfig,
    on_ready: Callable[[], None],
    hold_tasks: bool,
) -> None:
    signals = _StopSignals(hold_tasks=hold_tasks)
    keys = Keyspace(fleet)
    address = parse_redis_url(redis_url)
    redis = AsyncRedis(address, command_timeout_s=10.0)
    # Blocking reads get their own connections, with a deadline above the longest block.
    reads = AsyncRedis(address, command_timeout_s=config.read_block_ms / 1000 + 10.0)
    cancel_reads = AsyncRedis(address, command_timeout_s=config.read_block_ms / 1000 + 10.0)
    executor = ThreadPoolExecutor(config.sync_threads, thread_name_prefix="tool")
    publisher = ReplyPublisher(redis, keys)
    jobs = HandlerJobs(
        toolset,
        # The same identity the front stamps on its own results (supervisor/app_loader.py).
        ResultRenderer(toolset.server_info),
        meta=ResultMeta(server_info=toolset.server_info),
        default_timeout_s=config.default_timeout_s,
    )
    metrics = WorkerMetrics()
    runner = HandlerRunner(executor, metrics)
    consumer = CallConsumer(
        redis=redis,
        reads=reads,
        keys=keys,
        worker_id=worker_id,
        jobs=jobs,
        runner=runner,
        publisher=publisher,
        visibility=VisibilityToggles(toolset, publisher, keys).request,
        config=config,
    )
    lane: TaskLane | None = None  # started once the worker's log context is bound
    heartbeat = Heartbeat(
        redis,
        keys,
        worker_id,
        interval_s=config.heartbeat_interval_s,
        status=lambda: _heartbeat(consumer, runner, lane),
    )
    cancels = CancelListener(
        cancel_reads,
        keys,
        consumer.on_broadcast,
        block_ms=config.read_block_ms,
        lookback_s=toolset.longest_timeout_s(config.default_timeout_s),
    )
    publishing = asyncio.create_task(publisher.run())
    listening: asyncio.Task[None] | None = None
    beating: asyncio.Task[None] | None = None
    draining: asyncio.Task[None] | None = None
    try:
        with structlog.contextvars.bound_contextvars(worker_id=worker_id):
            # The heartbeat exists before this worker joins the group as a consumer, so a
            # supervisor never mistakes a starting worker for a dead one.
            await heartbeat.beat()
            beating = asyncio.create_task(heartbeat.run())
            await consumer.ensure_group()
            await publisher.load_scripts()
            listening = asyncio.create_task(cancels.run(signals.stop))
            if config.task_slots:
                lane = TaskLane(
                    TaskRunner(
                        TaskRecords(redis, keys),
                        jobs,
                        runner,
                        metrics=metrics,
                        log_messages_per_s=config.log_messages_per_s,
                        log_context=structlog.contextvars.get_contextvars(),
                    ),
                    TaskThreads(redis_url, keys, worker_id, config.task_slots),
                    drain_timeout_s=config.drain_timeout_s,
                )
                draining = _start_task_lane(lane, consumer, signals.hold_tasks, signals.stop)
            log.info("worker.ready", tools=len(toolset.tools))
            on_ready()
            # Retired: every call may run to its own deadline, plus a moment to answer.
            retire_drain_s = toolset.longest_timeout_s(config.default_timeout_s) + RETIRE_ANSWER_S
            await consumer.run(
                signals.stop,
                drain_timeout_s=lambda: (
                    retire_drain_s if signals.retiring else config.drain_timeout_s
                ),
            )
            if draining is not None:
                await draining
            log.info(
                "worker.stopped",
                calls_served=consumer.calls_served,
                calls_cancelled=consumer.calls_cancelled,
            )
            beating.cancel()
            await heartbeat.clear()
    finally:
        for task in (beating, listening, draining):
            if task is not None:
                task.cancel()
        publishing.cancel()
        executor.shutdown(wait=False, cancel_futures=True)
        await redis.aclose()
        await reads.aclose()
        await cancel_reads.aclose()


def _heartbeat(
    consumer: CallConsumer, runner: HandlerRunner, lane: TaskLane | None
) -> WorkerHeartbeat:
    """This worker's load, as its heartbeat reports it (ADR-0013)."""
    return WorkerHeartbeat(
        pid=os.getpid(),
        inflight=consumer.inflight,
        calls_served=consumer.calls_served,
        waiting=runner.waiting,
        tasks_running=0 if lane is None else lane.runner.inflight,
    )


def _start_task_lane(
    lane: TaskLane, consumer: CallConsumer, hold_tasks: asyncio.Event, stop: asyncio.Event
) -> asyncio.Task[None]:
    """Start taking tasks, with the broadcasts about them; returns the task that stops
    taking them once ``hold_tasks`` is set and drains the lane once ``stop`` is
    (alongside the calls, within the same drain timeout). A worker holding tasks from its
    start (started while the fleet stops) never starts the lane: none is taken."""
    if hold_tasks.is_set():
        log.info("task_lane.held")
        return asyncio.create_task(_until(stop))
    consumer.on_task_cancel = lane.runner.on_cancel
    consumer.on_task_answered = lane.runner.on_answered
    lane.start()
    return asyncio.create_task(_drain_on(hold_tasks, stop, lane))


class _StopSignals:
    """What the stop signals set: ``hold_tasks`` when the fleet begins to stop or this
    worker is being retired (SIGWINCH from the supervisor, ADR-0014/0015), or from the
    start (``hold_tasks=True``): no more tasks are taken from the queue, calls are still
    served; ``stop`` on SIGTERM/SIGINT (shutdown) or SIGUSR2 (retire, which also sets
    ``retiring``): drain and exit."""

    def __init__(self, *, hold_tasks: bool) -> None:
        self.hold_tasks = asyncio.Event()
        self.stop = asyncio.Event()
        self.retiring = False
        if hold_tasks:
            self.hold_tasks.set()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop)
        loop.add_signal_handler(signal.SIGUSR2, self._retire)
        loop.add_signal_handler(signal.SIGWINCH, self.hold_tasks.set)

    def _stop(self) -> None:
        self.hold_tasks.set()
        self.stop.set()

    def _retire(self) -> None:
        if not self.stop.is_set():  # a shutdown already under way keeps its drain timeout
            self.retiring = True
        self._stop()


async def _until(stop: asyncio.Event) -> None:
    await stop.wait()


async def _drain_on(hold: asyncio.Event, stop: asyncio.Event, lane: TaskLane) -> None:
    await hold.wait()
    lane.stop_taking()
    await stop.wait()
    await lane.drain()
