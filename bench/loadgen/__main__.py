"""``python -m bench.loadgen``: one closed-loop run (or the tasks / progress flow) against a
running server; ``--json`` prints the result as one JSON object on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench.loadgen.closed_loop import LoadSpec, run_load
from bench.loadgen.progress import run_progress
from bench.loadgen.tasks import run_tasks
from bench.loadgen.workloads import ERAS, workload


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("--url", required=True, help="the MCP endpoint (http://host:port/mcp)")
    parser.add_argument("--era", choices=ERAS, default="2026-07-28")
    parser.add_argument("--flow", choices=("load", "tasks", "progress"), default="load")
    parser.add_argument("--workload", default="echo", help="echo, cpu_burn, wait, blocking_wait")
    parser.add_argument("--amount", type=int, default=None, help="the workload's ms argument")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--processes", type=int, default=1, help="generator processes")
    parser.add_argument("--count", type=int, default=100, help="tasks flow: tasks to submit")
    parser.add_argument("--tool", default=None, help="tasks/progress flow: the tool called")
    parser.add_argument("--steps", type=int, default=10, help="progress flow: reports per call")
    parser.add_argument("--interval-ms", type=float, default=50.0, help="progress flow")
    parser.add_argument("--calls", type=int, default=1, help="progress flow: calls in a row")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run what ``args`` asks for; the result as a JSON-able dict."""
    if args.flow == "tasks":
        return run_tasks(
            args.url, args.era, args.count, args.clients, tool=args.tool or "echo"
        ).to_json()
    if args.flow == "progress":
        return run_progress(
            args.url,
            args.era,
            args.steps,
            args.interval_ms,
            calls=args.calls,
            tool=args.tool or "progress_probe",
        ).to_json()
    spec = LoadSpec(
        url=args.url,
        era=args.era,
        workload=workload(args.workload, args.amount),
        clients=args.clients,
        duration_s=args.duration,
        warmup_s=args.warmup,
        processes=args.processes,
    )
    return run_load(spec).to_json()


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the run had no error, 1 otherwise."""
    args = parse_args(argv)
    result = run(args)
    if args.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0 if not result.get("errors") else 1


if __name__ == "__main__":
    raise SystemExit(main())
