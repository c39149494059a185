"""``make conformance``: the official MCP conformance suite against a fleet serving its fixtures.

Installs the pinned Node 22 and suite into ``.conformance/`` when missing, starts a fleet
serving the suite's fixture tools (``examples.conformance:app``; ``mcpfleet up`` as ``make
run`` does, with that app) on a free port, runs the suite's server
scenarios for 2025-11-25 and 2026-07-28, stops the fleet, and judges the results against
``expected_failures.py``. With ``--url`` (or ``CONFORMANCE_URL``) it tests that server instead
and starts nothing.

Exit codes: 0 every failure was expected and every expected failure still fails; 1 otherwise
(unexpected failures, stale expected failures, errors in the fleet's log, or a fleet that did
not stop cleanly); 2 the run itself could not happen (toolchain, fleet start, suite crash).
Results stay in ``.conformance/results/`` (the suite's log and ``checks.json`` per scenario,
the fleet's log).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NoReturn

from ops.conformance.expected_failures import (
    EXPECTED_FAILURES,
    ISSUES,
    ExpectedFailureListError,
    check_expected_failures,
)
from ops.conformance.fleet_process import FleetProcess, FleetStartError, StopOutcome, is_ready
from ops.conformance.scenario_groups import group_of
from ops.conformance.suite_run import SuiteRunError, run_suite
from ops.conformance.toolchain import Toolchain, ToolchainError, ensure_toolchain
from ops.conformance.verdict import Verdict, judge, load_results

PINNED_DIR: Final = Path(__file__).resolve().parent
REPO_ROOT: Final = PINNED_DIR.parents[1]
INSTALL_DIR: Final = REPO_ROOT / ".conformance"
RESULTS_DIR: Final = INSTALL_DIR / "results"
FLEET_LOG: Final = RESULTS_DIR / "fleet.log"
FIXTURE_APP: Final = "examples.conformance:app"
VERSIONS: Final = ("2025-11-25", "2026-07-28")
URL_ENV: Final = "CONFORMANCE_URL"  # not MCPFLEET_*: the fleet refuses unknown keys there

_READY_TIMEOUT_S: Final = 60.0
# The fleet's own worst case after SIGTERM is the fronts' drain (front.graceful_timeout_s
# 10 + 1) and the workers' (worker.drain_timeout_s 30), each plus supervisor.stop_timeout_s
# (5); idle, it takes about a second.
_STOP_TIMEOUT_S: Final = 60.0
_MAX_LOG_ERRORS_SHOWN: Final = 10

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_NOT_RUN: Final = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print the verdict; returns the exit code."""
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        check_expected_failures()
    except ExpectedFailureListError as exc:
        return _not_run(f"expected_failures.py: {exc}")
    started = time.monotonic()
    timings: list[tuple[str, float]] = []
    try:
        toolchain, installed = ensure_toolchain(PINNED_DIR, INSTALL_DIR)
    except ToolchainError as exc:
        return _not_run(str(exc))
    timings.append(("toolchain install" if installed else "toolchain check", _since(started)))
    print(
        f"conformance: @modelcontextprotocol/conformance {toolchain.suite_version} "
        f"on Node {toolchain.node_version} ({_shown(INSTALL_DIR)}/)"
    )
    shutil.rmtree(RESULTS_DIR, ignore_errors=True)
    RESULTS_DIR.mkdir(parents=True)
    outcome = _run(args, toolchain, timings)

    for verdict in outcome.verdicts:
        _print_verdict(verdict, verbose=args.verbose)
    for problem in outcome.fleet_problems:
        print(f"conformance: {problem}")
    timings.append(("total", _since(started)))
    print("\ntimings: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings))
    print(f"results: {_shown(RESULTS_DIR)}/ (per version: suite.log, scenarios/*/checks.json)")
    if outcome.not_run is not None:
        return _not_run(outcome.not_run)
    unexpected = sum(len(v.unexpected) for v in outcome.verdicts)
    stale = sum(len(v.stale) for v in outcome.verdicts)
    if unexpected or stale or outcome.fleet_problems:
        print(
            f"conformance: FAIL ({unexpected} unexpected failing checks, {stale} stale "
            f"expected failures, {len(outcome.fleet_problems)} fleet problems)"
        )
        return EXIT_FAILED
    print("conformance: PASS (every failure is an expected one)")
    return EXIT_OK


@dataclass
class _Outcome:
    verdicts: list[Verdict] = field(default_factory=list)
    fleet_problems: list[str] = field(default_factory=list)
    not_run: str | None = None


def _run(
    args: argparse.Namespace, toolchain: Toolchain, timings: list[tuple[str, float]]
) -> _Outcome:
    """Start the fleet (unless ``--url``), run each version, stop the fleet whatever happens."""
    outcome = _Outcome()
    fleet: FleetProcess | None = None
    try:
        if args.url:
            url = args.url
            if not is_ready(url):
                print(f"conformance: warning: {url} does not answer /health/ready with 200")
            print(f"conformance: testing the server at {url}")
        else:
            mark = time.monotonic()
            fleet = FleetProcess(repo_root=REPO_ROOT, app=FIXTURE_APP, log_path=FLEET_LOG)
            url = fleet.start(_READY_TIMEOUT_S)
            timings.append(("fleet start", _since(mark)))
            print(f"conformance: fleet {FIXTURE_APP} ready at {url}")
        for version in args.versions:
            run = run_suite(toolchain, url=url, version=version, results_dir=RESULTS_DIR)
            timings.append((f"suite {version}", run.seconds))
            results = load_results(run.output_dir, run.announced)
            outcome.verdicts.append(judge(version, results, EXPECTED_FAILURES.get(version, ())))
    except (FleetStartError, SuiteRunError) as exc:
        outcome.not_run = str(exc)
    finally:
        if fleet is not None:
            stopped = fleet.stop(_STOP_TIMEOUT_S)
            if stopped is not None and stopped.signalled:
                timings.append(("fleet stop", stopped.seconds))
            outcome.fleet_problems = _fleet_problems(stopped, FLEET_LOG)
    return outcome


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.conformance",
        description="Run the official MCP conformance suite against the fixture fleet.",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV) or None,
        help=f"test this MCP endpoint instead of starting the fixture fleet (env {URL_ENV})",
    )
    parser.add_argument(
        "--version",
        dest="versions",
        action="append",
        choices=VERSIONS,
        help="protocol version to run (repeatable; default: all of them)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list each expected failure with the suite's message",
    )
    args = parser.parse_args(argv)
    args.versions = tuple(args.versions or VERSIONS)
    return args


def _print_verdict(verdict: Verdict, *, verbose: bool) -> None:
    print(
        f"\n== {verdict.version}: {len(verdict.scenarios)} scenarios, {len(verdict.passed)} "
        f"pass, {len(verdict.unexpected)} unexpected failing checks, "
        f"{len(verdict.stale)} stale expected failures"
    )
    unexpected_in = {f.scenario for f in verdict.unexpected}
    expected_in = {f.scenario for f in verdict.expected} - unexpected_in
    print(f"   {'group':<16}{'scenarios':>10}{'pass':>6}{'expected':>10}{'unexpected':>12}")
    for group in sorted({group_of(s) for s in verdict.scenarios}):
        members = [s for s in verdict.scenarios if group_of(s) == group]
        print(
            f"   {group:<16}{len(members):>10}"
            f"{sum(s in verdict.passed for s in members):>6}"
            f"{sum(s in expected_in for s in members):>10}"
            f"{sum(s in unexpected_in for s in members):>12}"
        )
    if verdict.unexpected:
        print("   unexpected failures (fix the server, or list them with their issue):")
        for f in verdict.unexpected:
            print(f"     {f.check.status} [{f.group}] {f.scenario}:{f.check.id}: {f.check.message}")
    if verdict.stale:
        print("   stale expected failures (remove them from ops/conformance/expected_failures.py):")
        for entry, reason in verdict.stale:
            print(f"     {entry.entry} (issue {entry.issue}): {reason}")
    by_issue = Counter(f.expected.issue for f in verdict.expected if f.expected is not None)
    counts = ", ".join(f"issue {i} ({ISSUES[i]}) {n}" for i, n in sorted(by_issue.items()))
    print(f"   expected failing checks: {counts or 'none'}")
    if verbose:
        for f in verdict.expected:
            issue = f.expected.issue if f.expected is not None else "?"
            print(f"     issue {issue} {f.scenario}:{f.check.id}: {f.check.message}")


def _fleet_problems(stopped: StopOutcome | None, log_path: Path) -> list[str]:
    """A fleet that did not exit 0 on SIGTERM, or that logged errors, has a bug to look at."""
    problems = []
    if stopped is not None and stopped.signalled and (stopped.killed or stopped.exit_code != 0):
        how = "was killed after the stop timeout" if stopped.killed else "exited"
        problems.append(f"the fleet {how} with code {stopped.exit_code} after SIGTERM")
    if log_path.is_file():
        errors = [
            line
            for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            if _is_error_event(line)
        ]
        if errors:
            shown = "\n  ".join(errors[:_MAX_LOG_ERRORS_SHOWN])
            problems.append(f"the fleet logged {len(errors)} error events:\n  {shown}")
    return problems


def _is_error_event(line: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get("level") in ("error", "critical")


def _not_run(message: str) -> int:
    sys.stdout.flush()  # keep the report and this line in order when both go to one pipe
    print(f"conformance: could not run: {message}", file=sys.stderr)
    return EXIT_NOT_RUN


def _since(mark: float) -> float:
    return time.monotonic() - mark


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _exit_on_sigterm(_signum: int, _frame: object) -> NoReturn:
    # Unwinds through the finally that stops the fleet.
    raise SystemExit(128 + signal.SIGTERM)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the fleet was already stopped on the way out of main()
        print("conformance: interrupted", file=sys.stderr)
        sys.exit(128 + signal.SIGINT)
