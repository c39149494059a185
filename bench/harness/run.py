"""``make bench``: mcpfleet and the official SDK side by side, in one interleaved run.

Installs the peers (``bench/.venvs``), starts every server, checks each answers every tool
correctly in both eras, then measures every configuration once per repetition in a rotated
order, each load run preceded by an unmeasured warm-up, with the server's CPU (/proc) and
Redis commands sampled around the measured part. Writes ``bench/results/<run id>.json``,
``.md`` and ``latest.md``.

    python -m bench.harness                  # the full run (what `make bench` does)
    python -m bench.harness --smoke --out DIR  # seconds; the SDK from this interpreter
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench.harness import report
from bench.harness.accounting import Meter, Usage
from bench.harness.checks import check_server
from bench.harness.machine import describe
from bench.harness.peers import (
    ROOT,
    SDK_REQUIREMENTS,
    RunningServer,
    ensure_venv,
    mcpfleet_server,
    sdk_server,
)
from bench.harness.schedule import Config, Plan, expected_seconds, full_plan, rotated, smoke_plan
from bench.loadgen import LoadSpec, run_load, run_progress, run_tasks, workload

FLEET_APP = "bench.apps.mcpfleet_tools:app"
FLEET_WORKERS = 2
# Tasks are polled every 10 ms, as a client eager for its result would; polling back to back
# would measure the poll loop, and the spec's suggested interval (1 s) would measure the wait.
TASK_POLL_INTERVAL_MS = 10.0
TASK_WARMUP = 20
PROGRESS_INTERVAL_MS = 50.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.harness", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (CI): seconds")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--repetitions", type=int, default=None, help="default 5 (smoke 1)")
    parser.add_argument("--duration", type=float, default=None, help="measured s (5; smoke 0.5)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up s (1; smoke 0.2)")
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per tasks run")
    parser.add_argument("--only", default=None, help="keep configurations whose key has this")
    parser.add_argument("--generator-processes", type=int, default=1)
    parser.add_argument(
        "--sdk-python",
        default=None,
        help="run the SDK peer on this interpreter instead of bench/.venvs/sdk"
        " (smoke: this interpreter)",
    )
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    """The configurations and timings the arguments ask for."""
    servers = ("sdk", "mcpfleet")
    configs = smoke_plan(servers) if args.smoke else full_plan(servers, tasks=args.tasks)
    if args.only:
        configs = [c for c in configs if args.only in c.key]
    return Plan(
        configs=tuple(configs),
        repetitions=args.repetitions or (1 if args.smoke else 5),
        duration_s=args.duration or (0.5 if args.smoke else 5.0),
        warmup_s=args.warmup if args.warmup is not None else (0.2 if args.smoke else 1.0),
    )


@contextmanager
def servers(sdk_python: str) -> Iterator[dict[str, RunningServer]]:
    """Every server, started and answering; stopped on exit."""
    with ExitStack() as stack:
        running = {
            "sdk": stack.enter_context(sdk_server(sdk_python)),
            "mcpfleet": stack.enter_context(mcpfleet_server(FLEET_APP, FLEET_WORKERS)),
        }
        yield running


def _with_usage(sample: dict[str, Any], usage: Usage, calls: int, idle: dict[str, float]) -> None:
    """Add the server's CPU and Redis commands over ``calls`` calls to ``sample``."""
    per = 1000 / calls if calls else 0.0
    sample["server_cpu_s"] = round(usage.cpu_total_s, 4)
    sample["server_cpu_s_by_role"] = usage.cpu_s
    sample["server_cpu_s_per_1000"] = round(usage.cpu_total_s * per, 4)
    sample["server_cpu_s_per_1000_by_role"] = {r: round(s * per, 4) for r, s in usage.cpu_s.items()}
    if not usage.redis_commands:
        return
    elapsed = sample["elapsed_s"]
    sample["redis_commands"] = usage.redis_commands
    sample["redis_commands_per_call"] = round(usage.redis_total / calls, 3) if calls else 0.0
    background = sum(idle.values()) * elapsed
    sample["redis_commands_per_call_net"] = (
        round(max(usage.redis_total - background, 0.0) / calls, 3) if calls else 0.0
    )
    sample["redis_commands_per_call_by_command"] = {
        name: round(count / calls, 3) for name, count in usage.redis_commands.items() if calls
    }


def measure(config: Config, server: RunningServer, plan: Plan, args: argparse.Namespace,
            idle: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """One measured run of ``config``: warm-up, then the metered part; the raw sample."""
    if config.kind == "load":

        def spec(seconds: float) -> LoadSpec:
            return LoadSpec(
                url=server.url, era=config.era, workload=workload(config.workload, config.amount),
                clients=config.clients, duration_s=seconds, warmup_s=0.0,
                processes=args.generator_processes,
            )  # fmt: skip

        if plan.warmup_s > 0:
            run_load(spec(plan.warmup_s))
        meter, started = Meter.start(server.root_pid, server.redis_url), time.perf_counter()
        result: dict[str, Any] = run_load(spec(plan.duration_s)).to_json()
        calls = int(result["requests"])
    elif config.kind == "tasks":
        count = config.amount or 1
        run_tasks(server.url, config.era, min(TASK_WARMUP, count), config.clients,
                  poll_interval_ms=TASK_POLL_INTERVAL_MS)  # fmt: skip
        meter, started = Meter.start(server.root_pid, server.redis_url), time.perf_counter()
        result = run_tasks(server.url, config.era, count, config.clients,
                           poll_interval_ms=TASK_POLL_INTERVAL_MS).to_json()  # fmt: skip
        calls = int(result["completed"])
    else:
        meter, started = Meter.start(server.root_pid, server.redis_url), time.perf_counter()
        result = run_progress(server.url, config.era, config.amount or 1,
                              PROGRESS_INTERVAL_MS).to_json()  # fmt: skip
        calls = 1
    usage = meter.stop()
    result["elapsed_s"] = round(time.perf_counter() - started, 3)
    _with_usage(result, usage, calls, idle)
    return result


def idle_redis_rate(server: RunningServer, seconds: float) -> dict[str, float]:
    """Redis commands per second a server runs on its own, per command (heartbeats, the
    autoscaler's reads): subtracted from a run's count for the ``net`` figures."""
    if not server.redis_url:
        return {}
    meter = Meter.start(server.root_pid, server.redis_url)
    time.sleep(seconds)
    usage = meter.stop()
    return {name: count / seconds for name, count in usage.redis_commands.items()}


def _print_sample(config: Config, sample: dict[str, Any]) -> None:
    errors = sum((sample.get("errors") or {}).values())
    if config.kind == "load":
        line = (f"{sample['rps']:8.0f} req/s  p50 {sample['p50_ms']:7.2f} ms  "
                f"p99 {sample['p99_ms']:7.2f} ms  CPU {sample['server_cpu_s_per_1000']:.3f}"
                " s/1000")  # fmt: skip
    elif config.kind == "tasks":
        line = f"{sample['tasks_per_s']:8.0f} tasks/s  p50 {sample['p50_ms']:7.2f} ms"
    else:
        line = f"{sample['notifications']} reports  p50 {sample['p50_ms']:7.3f} ms"
    print(f"  {config.key:<48} {line}  errors {errors}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every call of every run was answered correctly."""
    args = parse_args(argv)
    plan = make_plan(args)
    if not plan.configs:
        raise SystemExit("no configuration left to measure")
    started, load_before = time.perf_counter(), os.getloadavg()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    estimate = expected_seconds(plan)
    print(f"bench: {len(plan.configs)} configurations x {plan.repetitions} repetitions, "
          f"~{estimate / 60:.1f} min of measuring (+ start-up)", flush=True)  # fmt: skip
    if args.sdk_python:
        sdk_python = args.sdk_python
    elif args.smoke:
        sdk_python = sys.executable
    else:
        sdk_python = str(ensure_venv("sdk", SDK_REQUIREMENTS))
    samples: dict[Config, list[dict[str, Any]]] = {config: [] for config in plan.configs}
    with servers(sdk_python) as running:
        checks = {name: check_server(name, server.url) for name, server in running.items()}
        print("bench: every tool answered correctly on every server in both eras", flush=True)
        idle = idle_redis_rate(running["mcpfleet"], 0.5 if args.smoke else 2.0)
        redis_version = _redis_version(running["mcpfleet"])
        for repetition in range(plan.repetitions):
            print(f"bench: repetition {repetition + 1}/{plan.repetitions}", flush=True)
            for config in rotated(plan.configs, repetition):
                sample = measure(config, running[config.server], plan, args, idle)
                sample["repetition"] = repetition
                samples[config].append(sample)
                _print_sample(config, sample)
        machine = describe({n: s.python for n, s in running.items()}, redis_version)
    results = [report.ConfigResult(config, samples[config]) for config in plan.configs]
    meta = {
        "run_id": run_id,
        "started_utc": run_id,
        "elapsed_s": round(time.perf_counter() - started, 1),
        # Other work on the machine moves absolute numbers: the 1-minute load average at
        # the start and at the end says whether the run had the machine to itself.
        "load_average_1m": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
        "machine": machine,
        "plan": {
            "mode": "smoke" if args.smoke else "full",
            "repetitions": plan.repetitions,
            "duration_s": plan.duration_s,
            "warmup_s": plan.warmup_s,
            "generator_processes": args.generator_processes,
            "task_poll_interval_ms": TASK_POLL_INTERVAL_MS,
            "progress_interval_ms": PROGRESS_INTERVAL_MS,
            "fleet": {"app": FLEET_APP, "workers": FLEET_WORKERS, "fronts": 1},
            "sdk": {"mode": "stateless_http, json_response, uvicorn", "python": sdk_python},
            "interpreter": platform.python_implementation(),
        },
        "checks": checks,
        "redis_idle_commands_per_s": {k: round(v, 2) for k, v in idle.items()},
    }
    json_path, md_path = report.write(args.out, run_id, results, meta)
    print(f"bench: wrote {json_path} and {md_path}", flush=True)
    print(md_path.read_text())
    return 0 if not any(r.errors for r in results) else 1


def _redis_version(server: RunningServer) -> str | None:
    if not server.redis_url:
        return None
    client = redis.Redis.from_url(server.redis_url)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()
