"""Closed-loop load generator for MCP servers over Streamable HTTP (both eras).

One keep-alive HTTP/1.1 connection per simulated client, on a small hand-written client over
raw sockets (:mod:`bench.loadgen.http_wire`), so the generator stays far cheaper per call than
the servers it drives. Every reply is verified (JSON-RPC id, no error, the workload's own
check); bad replies are counted by kind, never raised.

Public interface::

    Workload(name, tool, arguments, check)          # what each call sends and expects
    WORKLOADS["echo"] / workload("cpu_burn", 5)     # the named bench workloads
    LoadSpec(url, era, workload, clients, duration_s, warmup_s, processes=1)
    run_load(spec) -> LoadResult                    # requests, errors, rps, p50/p90/p99 ms,
                                                    # generator_cpu_s, ..._per_call_us
    run_tasks(url, era, count, clients) -> TaskResult         # submit + tasks/get polling
    run_progress(url, era, steps, interval_ms) -> ProgressResult  # report -> receipt latency

Every result has ``to_json()`` (a plain dict). The tasks flow needs a task-capable ``echo``
and the progress flow the ``progress_probe`` tool: mcpfleet serves both from
``bench.apps.mcpfleet_tools:app``. Eras: ``"2026-07-28"`` (one POST per call with
the ``_meta`` envelope and ``Mcp-Method``/``Mcp-Name`` headers) and ``"2025-11-25"``
(initialize, ``notifications/initialized``, then calls on the session; no session header when
the server returns no session id, as the SDK's stateless mode does).

CLI (prints the result JSON on stdout with ``--json``)::

    python -m bench.loadgen --url URL --era 2026-07-28 --workload echo --clients 16 \\
        --duration 5 --warmup 1 --processes 1 --json
    python -m bench.loadgen --url URL --era 2025-11-25 --flow tasks --count 1000 --clients 16
    python -m bench.loadgen --url URL --era 2026-07-28 --flow progress --steps 20
"""

from __future__ import annotations

from bench.loadgen.closed_loop import LoadResult, LoadSpec, run_load
from bench.loadgen.progress import ProgressResult, run_progress
from bench.loadgen.tasks import TaskResult, run_tasks
from bench.loadgen.workloads import ERAS, WORKLOADS, Workload, workload

__all__ = [
    "ERAS",
    "WORKLOADS",
    "LoadResult",
    "LoadSpec",
    "ProgressResult",
    "TaskResult",
    "Workload",
    "run_load",
    "run_progress",
    "run_tasks",
    "workload",
]
