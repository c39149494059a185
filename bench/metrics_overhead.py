"""What the Prometheus metrics add to each foreground request (ADR-0012; DESIGN.md section 6
budget): the exact code the front's Dispatcher runs around a request (two clock reads, the
try/finally, ``FrontMetrics.request_served``) and what a worker runs around a tool's handler
(``WorkerMetrics.tool_ran``), in both modes of prometheus-client: the multiprocess files of
a fleet and the in-memory values of a process running alone. Then what one scrape costs
with many exited workers' files (each worker's files copied under new pids), what folding
them into the directory's archives costs, and the scrape after it.

    python -m bench.metrics_overhead            # both modes, one child process each

Each mode runs in a fresh process: the library fixes its mode at its first import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

ROUNDS = 7
LOOPS = 200_000


def best_ns(fn: Callable[[], object]) -> float:
    """The best of ``ROUNDS`` runs of ``LOOPS`` calls, in ns per call."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for _ in range(LOOPS):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / LOOPS)
    return best


def measure(mode: str) -> None:
    from proto import RequestOutcome, ToolOutcome
    from server.dispatch import SERVED_METHODS
    from server.metrics import FrontMetrics, request_outcome
    from workers.metrics import WorkerMetrics

    front = FrontMetrics(SERVED_METHODS)
    worker = WorkerMetrics()
    ok = RequestOutcome.OK

    def bare() -> int:
        return 1

    def measured() -> int:
        # The Dispatcher's wrapper (server/dispatch.py), around a request that returns.
        started = time.perf_counter()
        outcome = ok
        try:
            return 1
        except BaseException as exc:
            outcome = request_outcome(exc)
            raise
        finally:
            front.request_served("tools/call", outcome, time.perf_counter() - started)

    def record_request() -> None:
        front.request_served("tools/call", ok, 0.0007)

    def record_tool() -> None:
        worker.tool_ran("echo", ToolOutcome.OK, 0.0002)

    base = best_ns(bare)
    wrapped = best_ns(measured)
    print(
        f"{mode:<13} front per request: {wrapped - base:6.0f} ns added"
        f" (request_served alone {best_ns(record_request):5.0f} ns)"
        f"   worker per tool run: {best_ns(record_tool):5.0f} ns"
    )
    if mode == "multiprocess":
        scrape_cost(front, worker)


def scrape_cost(front: object, worker: object) -> None:
    """One scrape's rendering time with this process's files copied as ``n`` exited
    workers' (the library's own collector for comparison), then what folding them into the
    archives costs and the scrape time after it."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from proto import ToolOutcome
    from server.metrics import FrontMetrics, render_metrics
    from server.metrics_files import fold_dead_processes
    from workers.metrics import WorkerMetrics

    assert isinstance(front, FrontMetrics) and isinstance(worker, WorkerMetrics)
    for tool in ("echo", "add", "search", "fetch", "summarize"):
        for outcome in (ToolOutcome.OK, ToolOutcome.TOOL_ERROR):
            worker.tool_ran(tool, outcome, 0.01)
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    mine = [f for f in os.listdir(directory) if f.endswith(f"_{os.getpid()}.db")]

    def timed_ms(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1000

    def library_render() -> bytes:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)

    next_pid = 10**7
    for workers in (10, 100, 1000):
        pids = range(next_pid, next_pid + workers)
        next_pid += workers
        for pid in pids:
            for name in mine:
                kind = name.rsplit("_", 1)[0]
                shutil.copy(os.path.join(directory, name), f"{directory}/{kind}_{pid}.db")
        scrape_ms = timed_ms(lambda: render_metrics(front, None))
        library_ms = timed_ms(library_render)
        fold_ms = timed_ms(lambda: fold_dead_processes(directory, pids))  # noqa: B023
        after_ms = timed_ms(lambda: render_metrics(front, None))
        print(
            f"  {workers:>4} exited workers' files: scrape {scrape_ms:7.1f} ms"
            f" (library's collector {library_ms:7.1f} ms); fold {fold_ms:6.1f} ms;"
            f" scrape after {after_ms:5.1f} ms ({len(os.listdir(directory))} files)"
        )
    for name in mine:  # the steady state: one more exit
        shutil.copy(os.path.join(directory, name), f"{directory}/{name.rsplit('_', 1)[0]}_1.db")
    one_ms = timed_ms(lambda: fold_dead_processes(directory, [1]))
    print(f"  fold of one exited worker: {one_ms:.1f} ms")


def main() -> None:
    if len(sys.argv) > 1:
        measure(sys.argv[1])
        return
    with tempfile.TemporaryDirectory() as directory:
        fleet = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        subprocess.run([sys.executable, "-m", "bench.metrics_overhead", "multiprocess"],
                       env=fleet, check=True)  # fmt: skip
    alone = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    subprocess.run([sys.executable, "-m", "bench.metrics_overhead", "in-process"],
                   env=alone, check=True)  # fmt: skip


if __name__ == "__main__":
    main()
