"""``mcpfleet up``: Redis (embedded or given), the worker pool and the fronts (``fronts``
HTTP fronts, all on one port: ADR-0015), Redis first, then the workers and fronts side by
side; then wait for SIGTERM/SIGINT and stop in reverse: workers stop taking queued tasks,
every front drains at once (readiness 503, no new connections, in-flight requests finish
within the grace period: ``server/drain.py``), then workers (they finish their calls and
running tasks), then Redis. A second signal stops
everything at once.

``mcpfleet up --stdio``: the front is one stdio front handed the supervisor's stdin and
stdout, and the fleet lives as long as that connection. When the front exits (the client
closed its stdin), the fleet stops in the same order, without restarting it: a new process
could not resume the client's connection. The exit code says how it ended: 0 for a clean
end of input (or a stop signal), 1 if the front crashed. Once the stop has begun, any
signal stops everything at once (ADR-0005)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from pathlib import Path

import msgspec
import structlog
import trio

from proto import CALL_GROUP, BackendUnavailableError, Keyspace
from server import (
    RedisClient,
    RedisCommandError,
    bind_address,
    drain_budget_s,
    open_redis,
    parse_redis_url,
)
from supervisor.autoscaler import Autoscaler
from supervisor.call_reaper import reap_worker_calls, settle_orphaned_consumers
from supervisor.child_config import ChildConfigs, worker_environ, write_child_configs
from supervisor.child_process import Child, ReadyReport, child_command
from supervisor.child_slot import ChildExit, ChildSlot
from supervisor.config import ConfigError, FleetConfig
from supervisor.fleet_metrics import FleetMetrics, publish_worker_states
from supervisor.health_policy import HealthPolicy
from supervisor.redis_process import run_embedded_redis
from supervisor.restart_policy import RestartPolicy
from supervisor.status_publisher import StatusPublisher
from supervisor.stdio_streams import ProtocolStreams
from supervisor.task_reaper import TaskSettler
from supervisor.worker_health import WorkerHealth
from supervisor.worker_idle import TasksDone
from supervisor.worker_pool import WorkerPool
from workers.runtime import RETIRE_ANSWER_S

__all__ = ["run_fleet"]

log = structlog.get_logger()

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_fleet(
    config: FleetConfig,
    *,
    stdio: ProtocolStreams | None = None,
    longest_call_s: float | None = None,
) -> int:
    """Run the whole fleet until a signal, or, with ``stdio``, until its connection ends;
    returns the process exit code.

    Args:
        config: the resolved configuration.
        stdio: serve on these descriptors instead of HTTP (``mcpfleet up --stdio``).
        longest_call_s: the app's longest call timeout (default: ``worker.default_timeout_s``):
            how long a retired worker's calls may still run (ADR-0014).

    Raises:
        EmbeddedRedisError: no Redis configured and none can be started.
        ChildStartError: a front or worker failed its first start.
    """
    # Blocking file-system calls are fine here: once, before anything else runs.
    data_dir = Path(config.data_dir).resolve()  # noqa: ASYNC240
    data_dir.mkdir(parents=True, exist_ok=True)
    # Signals are received from the start, so one arriving during start-up still stops
    # everything in order instead of killing the supervisor mid-way.
    front = config.front
    if stdio is None:
        front = msgspec.structs.replace(front, http=_concrete_bind(front.http))
    with _late_stop_signals_ignored(), trio.open_signal_receiver(*_STOP_SIGNALS) as signals:
        async with _redis_url(config, data_dir) as redis_url:
            resolved = msgspec.structs.replace(config, redis_url=redis_url, front=front)
            child_configs = write_child_configs(resolved, data_dir)
            keys = Keyspace(config.fleet)
            async with open_redis(parse_redis_url(redis_url)) as redis:
                await _ensure_call_group(redis, keys)
                return await _supervise(
                    resolved,
                    child_configs,
                    redis,
                    keys,
                    signals,
                    stdio=stdio,
                    longest_call_s=longest_call_s or config.worker.default_timeout_s,
                )


@contextmanager
def _late_stop_signals_ignored() -> Iterator[None]:
    """Make a stop signal that lands after the fleet has stopped harmless.

    trio restores the handler it found when its signal receiver closes, and interpreter
    shutdown resets Python-level handlers to the default; either way a SIGTERM arriving
    between the end of the shutdown and the process exit would turn a clean exit into
    status -15 (impatient process managers repeat SIGTERM). A no-op handler covers the
    receiver's close; SIG_IGN, set once every child is gone (it would be inherited across
    exec), covers interpreter shutdown.
    """
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _late_stop_signal)
    try:
        yield
    finally:
        for signum in _STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


def _late_stop_signal(_signum: int, _frame: object) -> None:
    # Nothing to do: the fleet has stopped. No logging here: a handler that writes to
    # stderr can interrupt another write to it (a reentrant call on a buffered stream).
    return


@asynccontextmanager
async def _redis_url(config: FleetConfig, data_dir: Path) -> AsyncIterator[str]:
    if config.redis_url is not None:
        with nullcontext():
            yield config.redis_url
        return
    async with run_embedded_redis(data_dir) as url:
        yield url


def _concrete_bind(bind: str) -> str:
    """Check the front can listen where configured, before anything starts, and resolve
    port 0 once so a restarted front comes back on the same port.

    Raises:
        ConfigError: the address is malformed or cannot be bound (in use, not local…).
    """
    try:
        name, port = bind_address(bind)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    family = socket.AF_INET6 if ":" in name else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Same option the fronts use, so a port in TIME_WAIT is not reported as busy. Not
        # SO_REUSEPORT: a port another process listens on, even with SO_REUSEPORT, must be
        # refused here rather than silently shared with our fronts (ADR-0015).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((name, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {bind}: {exc.strerror or exc}") from None
        host = bind.rpartition(":")[0]
        return f"{host}:{sock.getsockname()[1]}"


async def _ensure_call_group(redis: RedisClient, keys: Keyspace) -> None:
    try:
        await redis.execute("XGROUP", "CREATE", keys.call_stream(), CALL_GROUP, "0", "MKSTREAM")
    except RedisCommandError as exc:
        if "BUSYGROUP" not in str(exc):  # the group exists already: fine
            raise


async def _supervise(
    config: FleetConfig,
    child_configs: ChildConfigs,
    redis: RedisClient,
    keys: Keyspace,
    signals: AsyncIterator[int],
    *,
    stdio: ProtocolStreams | None,
    longest_call_s: float,
) -> int:
    sup = config.supervisor

    metrics = FleetMetrics(live_pids=lambda: _live_pids(fronts, workers))
    tasks = TaskSettler(config.redis_url or "", keys, on_ended=metrics.task_ended)
    # Set once the workers themselves stop: no worker would take a redelivered call then,
    # so its caller hears at once. Until then (fronts draining) workers still serve calls.
    stopping = trio.Event()
    # Set as the stop begins: from then on no worker takes a queued task (ADR-0015).
    holding_tasks = trio.Event()

    def slot(role: str, index: int) -> ChildSlot:
        async def on_exit(ended: ChildExit) -> None:
            if role == "worker":
                metrics.worker_exited(ended)
                await _settle_worker(
                    redis, keys, ended.child_id, tasks, redeliver=not stopping.is_set()
                )
            else:
                metrics.front_exited(ended)

        is_stdio_front = role == "front" and stdio is not None
        is_worker = role == "worker"

        mode = ["--stdio"] if is_stdio_front else []

        def held() -> list[str]:
            # A worker (re)started once the fleet stops never takes a queued task (ADR-0015).
            # Last on the line: `mcpfleet worker --config-json …` stays the process's prefix.
            return ["--hold-tasks"] if role == "worker" and holding_tasks.is_set() else []

        def on_ready(child: Child) -> None:
            # One that was starting when the stop began may have missed the SIGWINCH.
            if role == "worker" and holding_tasks.is_set():
                child.signal(signal.SIGWINCH)

        return ChildSlot(
            role,
            index,
            make_argv=lambda child_id: child_command(
                role,
                *mode,
                "--config-json",
                child_configs.worker if is_worker else child_configs.front,
                "--id",
                child_id,
                "--ready-fd",
                "{ready_fd}",
                *held(),
            ),
            on_exit=on_exit,
            policy=RestartPolicy(max_backoff_s=sup.restart_backoff_max_s),
            ready_timeout_s=sup.ready_timeout_s,
            restart=not is_stdio_front,
            stdio=stdio if is_stdio_front else None,
            on_ready=on_ready,
            # Read when the slot is made: the metrics directory is in os.environ by then.
            env=worker_environ(os.environ) if is_worker else None,
        )

    fronts = [slot("front", i) for i in range(config.front_count(stdio=stdio is not None))]
    # Each worker gets its own drain budget plus a margin before SIGKILL.
    worker_budget_s = config.worker.drain_timeout_s + sup.stop_timeout_s
    bounds = config.worker_range
    workers = WorkerPool(
        lambda index: slot("worker", index),
        minimum=bounds.minimum,
        maximum=bounds.maximum,
        # A retired worker's calls run to their own deadlines (ADR-0014), then a margin.
        retire_budget_s=longest_call_s + RETIRE_ANSWER_S + sup.stop_timeout_s,
        wait_tasks_done=TasksDone(redis, keys, interval_s=config.worker.heartbeat_interval_s).wait,
    )
    supervisor_id = f"supervisor-{secrets.token_hex(3)}"
    status = StatusPublisher(
        redis,
        keys,
        supervisor_id=supervisor_id,
        fronts=fronts,
        pool=workers,
        interval_s=sup.status_interval_s,
    )
    # Calls left by workers of an earlier run (a supervisor killed with them) come first.
    await _sweep_orphans(redis, keys, tasks)
    async with trio.open_nursery() as nursery:
        sweeper: trio.CancelScope = await nursery.start(
            _sweep_orphans_every, redis, keys, tasks, sup.orphan_sweep_interval_s
        )
        publishing: trio.CancelScope = await nursery.start(status.run)
        reports = await _start_workers_and_fronts(nursery, workers, fronts)
        watchers = await _watch_pool(
            nursery, config, redis, keys,
            workers=workers, metrics=metrics, supervisor_id=supervisor_id,
        )  # fmt: skip
        states: trio.CancelScope = await nursery.start(publish_worker_states, metrics, workers)
        compacting: trio.CancelScope = (
            await nursery.start(metrics.compactor.run) if metrics.compactor else trio.CancelScope()
        )
        front_budget_s = await _run_until_stop(
            config, signals, stdio, fronts, reports, workers=len(workers)
        )
        log.info("fleet.stopping")
        status.stopping = True
        for watcher in watchers:
            watcher.cancel()
        killer: trio.CancelScope = await nursery.start(
            _kill_on_second_signal, signals, fronts, workers
        )
        # Queued tasks stay queued for the next start; workers keep serving calls.
        holding_tasks.set()
        _stop_taking_tasks(workers)
        # Fronts, all at once, finish in-flight requests first, then workers finish the
        # calls those requests wait on.
        await _stop_all(fronts, front_budget_s + sup.stop_timeout_s)
        stopping.set()
        # Retiring workers (scaled down, recycled) included: a second signal ends them
        # too until every worker is down.
        await workers.stop_all(worker_budget_s)
        killer.cancel()
        sweeper.cancel()
        publishing.cancel()
        states.cancel()
        compacting.cancel()
        # The nursery now waits for each slot to settle what its child left (not cancelled).
    log.info("fleet.stopped")
    return _exit_code(fronts[0]) if stdio is not None else 0


def _live_pids(fronts: list[ChildSlot], workers: WorkerPool) -> set[int]:
    """The pids of every child running now, retiring workers included."""
    slots = (*fronts, *workers.slots, *workers.retiring)
    return {slot.pid for slot in slots if slot.pid is not None}


async def _run_until_stop(
    config: FleetConfig,
    signals: AsyncIterator[int],
    stdio: ProtocolStreams | None,
    fronts: list[ChildSlot],
    reports: list[ReadyReport],
    *,
    workers: int,
) -> float:
    """Announce the fleet ready, then wait for a stop signal (or, on stdio, for the front
    to exit); returns how long the fronts may take to drain."""
    if stdio is None:
        # Every front reports the same address: one URL for them all.
        binds = dict.fromkeys(bind for report in reports for bind in report.binds)
        urls = [f"{b}{config.front.path}" for b in binds]
        log.info("fleet.ready", urls=urls, fronts=len(fronts), workers=workers, fleet=config.fleet)
        await _wait_for_signal(signals)
        return drain_budget_s(config.front)
    # The front holds its own copies; the connection must end when it exits.
    stdio.close()
    log.info("fleet.ready", transport="stdio", workers=workers, fleet=config.fleet)
    await _wait_for_signal_or_exit(signals, fronts[0])
    # Its end-of-input grace, then flushing its output, within the same budget.
    return 2 * config.front.stdio_eof_grace_s


async def _watch_pool(
    nursery: trio.Nursery,
    config: FleetConfig,
    redis: RedisClient,
    keys: Keyspace,
    *,
    workers: WorkerPool,
    metrics: FleetMetrics,
    supervisor_id: str,
) -> list[trio.CancelScope]:
    """Start what watches the pool while the fleet runs: the autoscaler (for a range of
    workers) and the health checks. The caller cancels both as the stop begins: no worker
    starts during the stop, and draining workers are neither hung nor due for recycling."""
    sup = config.supervisor
    scopes: list[trio.CancelScope] = []
    if not config.worker_range.is_fixed:
        autoscaler = Autoscaler.for_fleet(
            config,
            redis,
            keys,
            workers,
            on_scale=lambda direction, *_: metrics.scale_event(direction),
            supervisor_id=supervisor_id,
        )
        scopes.append(await nursery.start(autoscaler.run, nursery))
    health = WorkerHealth(
        workers,
        redis,
        keys,
        policy=HealthPolicy(
            hung_after_s=sup.hung_threshold_s(config.worker.heartbeat_interval_s),
            max_calls=config.worker.max_calls,
            max_rss_mb=config.worker.max_rss_mb,
        ),
        heartbeat_interval_s=config.worker.heartbeat_interval_s,
        recycle_retry_s=sup.restart_backoff_max_s,
    )
    scopes.append(await nursery.start(health.run))
    return scopes


async def _wait_for_signal_or_exit(signals: AsyncIterator[int], front: ChildSlot) -> None:
    """Wait for a stop signal, or for the stdio front to exit (its connection ended)."""
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            await _wait_for_signal(signals)
            nursery.cancel_scope.cancel()

        nursery.start_soon(on_signal)
        await front.exited.wait()
        nursery.cancel_scope.cancel()
        if front.exit_code == 0:
            log.info("fleet.connection_closed")
        else:
            log.error("front.crashed", child_id=front.child_id, exit_code=front.exit_code)


def _exit_code(stdio_front: ChildSlot) -> int:
    """0 when the stdio front ended cleanly (end of input, or stopped by us), else 1."""
    return 0 if stdio_front.exit_code in (0, None) else 1


async def _settle_worker(
    redis: RedisClient, keys: Keyspace, worker_id: str, tasks: TaskSettler, *, redeliver: bool
) -> None:
    try:
        await reap_worker_calls(redis, keys, worker_id, redeliver=redeliver)
    except (BackendUnavailableError, RedisCommandError) as exc:
        # The entries stay pending under the dead worker's name; the next settle (or a
        # restart) finds them. Never let one worker's exit take the supervisor down.
        log.error("worker.settle_failed", worker_id=worker_id, error=str(exc))
    try:
        await tasks.worker_exited(worker_id)
    except Exception as exc:
        # Its tasks stay started; the orphan sweep settles them once its heartbeat is gone.
        # Anything at all: settling must never take the supervisor down.
        log.exception("worker.tasks_settle_failed", worker_id=worker_id, error=str(exc))


async def _sweep_orphans(redis: RedisClient, keys: Keyspace, tasks: TaskSettler) -> None:
    try:
        await settle_orphaned_consumers(redis, keys)
    except (BackendUnavailableError, RedisCommandError) as exc:
        log.warning("fleet.orphan_sweep_failed", error=str(exc))
    try:
        await tasks.sweep()
    except Exception as exc:
        # Anything at all (a record no decoder expected): the next sweep tries again, and
        # a supervisor that died here could not even start again.
        log.exception("fleet.task_sweep_failed", error=str(exc))


async def _sweep_orphans_every(
    redis: RedisClient,
    keys: Keyspace,
    tasks: TaskSettler,
    interval_s: float,
    *,
    task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.CancelScope() as scope:
        task_status.started(scope)
        while True:
            await trio.sleep(interval_s)
            await _sweep_orphans(redis, keys, tasks)


async def _start_workers_and_fronts(
    nursery: trio.Nursery, workers: WorkerPool, fronts: list[ChildSlot]
) -> list[ReadyReport]:
    """Start the pool's first workers and the fronts side by side (a front needs no
    worker to start: calls wait in the stream, and readiness says so until one is live);
    the fronts' ready reports once every child is ready. Side by side rather than workers
    first: a fleet of two workers and a front is ready in ~1.3 s instead of ~2.5 s.

    Raises:
        ChildStartError: one never became ready (the fleet cannot start).
    """
    reports: list[ReadyReport] = []

    async def start_fronts() -> None:
        reports.extend(await _start_all(nursery, fronts))

    async with trio.open_nursery() as starting:
        starting.start_soon(workers.start, nursery)
        starting.start_soon(start_fronts)
    return reports


async def _start_all(nursery: trio.Nursery, slots: list[ChildSlot]) -> list[ReadyReport]:
    """Start the slots in ``nursery`` side by side; their ready reports once all are ready.

    Raises:
        ChildStartError: one never became ready (the fleet cannot start).
    """
    reports: dict[int, ReadyReport] = {}

    async def start(position: int, slot: ChildSlot) -> None:
        reports[position] = await nursery.start(slot.run)

    async with trio.open_nursery() as starting:
        for position, s in enumerate(slots):
            starting.start_soon(start, position, s)
    return [reports[position] for position in range(len(slots))]


def _stop_taking_tasks(workers: WorkerPool) -> None:
    """Ask every worker to stop taking tasks from the queue (SIGWINCH, ADR-0015): it
    finishes those it runs and keeps serving calls until it is stopped itself."""
    for s in workers.slots:
        if s.child is not None:
            s.child.signal(signal.SIGWINCH)


async def _stop_all(slots: list[ChildSlot], timeout_s: float) -> None:
    async with trio.open_nursery() as nursery:
        for s in slots:
            nursery.start_soon(s.stop, timeout_s)


async def _wait_for_signal(signals: AsyncIterator[int]) -> None:
    async for signum in signals:
        log.info("fleet.signal", signal=signal.Signals(signum).name)
        return


async def _kill_on_second_signal(
    signals: AsyncIterator[int],
    fronts: list[ChildSlot],
    workers: WorkerPool,
    *,
    task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.CancelScope() as scope:
        task_status.started(scope)
        await _wait_for_signal(signals)
        log.warning("fleet.stopping_now")
        for s in fronts:
            s.kill()
        workers.kill_all()
