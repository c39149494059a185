"""Judge one suite run against the expected-failure list.

The suite writes ``<output-dir>/server-<scenario>-<timestamp>/checks.json`` per scenario: a
list of checks, each with an ``id``, a ``status`` (SUCCESS, FAILURE, WARNING, INFO, SKIPPED)
and, when it failed, an ``errorMessage``. The rules follow the suite's own ``--expected-failures``
baseline (which cannot be used directly: with ``--requirements`` it ignores every scenario the
revision does not score, such as ``server-session-lifecycle`` and the tasks extension):

- a check *fails* when its status is FAILURE or WARNING (or one this module does not know);
  SUCCESS, SKIPPED and INFO do not fail; a check id that occurs several times
  counts once, with its most severe status;
- a failing check is *expected* when its scenario is listed whole or the check is listed;
  every other failing check is *unexpected*;
- a listed scenario with no failing check, and a listed check whose status is SUCCESS, are
  *stale* (a listed check that is absent or SKIPPED is tolerated: the scenario may have
  stopped at a failed prerequisite, which reports itself); so is an entry whose scenario did
  not run at that version;
- a scenario the suite announced but wrote no results for fails as a whole (it crashed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ops.conformance.expected_failures import ExpectedFailure
from ops.conformance.scenario_groups import group_of

__all__ = ["Check", "Finding", "ScenarioResult", "Verdict", "judge", "load_results"]

_RESULT_DIR: Final = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")
_SEVERITY: Final = {"WARNING": 2, "SUCCESS": 1, "SKIPPED": 0}
"""Most severe first; FAILURE and any status the suite may add later rank highest (3)."""
_NOT_FAILING: Final = frozenset({"SUCCESS", "SKIPPED", "INFO"})


@dataclass(frozen=True)
class Check:
    """One check of a scenario, as the suite reported it."""

    id: str
    status: str
    message: str


@dataclass(frozen=True)
class ScenarioResult:
    """The checks one scenario reported."""

    scenario: str
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Finding:
    """A failing check, excused by ``expected`` or not."""

    scenario: str
    check: Check
    expected: ExpectedFailure | None

    @property
    def group(self) -> str:
        return group_of(self.scenario)


@dataclass
class Verdict:
    """The outcome of one version's run."""

    version: str
    scenarios: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    unexpected: list[Finding] = field(default_factory=list)
    expected: list[Finding] = field(default_factory=list)
    stale: list[tuple[ExpectedFailure, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unexpected and not self.stale


def load_results(output_dir: Path, announced: Iterable[str]) -> list[ScenarioResult]:
    """Read every scenario's ``checks.json`` under ``output_dir``.

    Args:
        output_dir: the suite's ``--output-dir``.
        announced: the scenarios the suite said it runs; one without results gets a single
            FAILURE check saying so.
    """
    results: dict[str, ScenarioResult] = {}
    for path in sorted(output_dir.glob("*/checks.json")):
        match = _RESULT_DIR.match(path.parent.name)
        if match is None:
            continue
        scenario = match["scenario"]
        raw = json.loads(path.read_text(encoding="utf-8"))
        results[scenario] = ScenarioResult(scenario, tuple(_check(item) for item in raw))
    for scenario in announced:
        if scenario not in results:
            crashed = Check(scenario, "FAILURE", "the scenario wrote no results (see suite.log)")
            results[scenario] = ScenarioResult(scenario, (crashed,))
    return list(results.values())


def _check(item: object) -> Check:
    if not isinstance(item, dict):
        return Check("?", "FAILURE", f"unreadable check {item!r}")
    message = item.get("errorMessage") or item.get("description") or ""
    return Check(str(item.get("id", "?")), str(item.get("status", "?")), str(message))


def judge(
    version: str,
    results: Iterable[ScenarioResult],
    expected: Iterable[ExpectedFailure],
) -> Verdict:
    """Sort one version's failing checks into expected and unexpected, and find stale entries."""
    verdict = Verdict(version)
    wholesale: dict[str, ExpectedFailure] = {}
    per_check: dict[str, dict[str, ExpectedFailure]] = {}
    for entry in expected:
        if entry.check_id is None:
            wholesale[entry.scenario] = entry
        else:
            per_check.setdefault(entry.scenario, {})[entry.check_id] = entry
    ran = set()
    for result in results:
        ran.add(result.scenario)
        verdict.scenarios.append(result.scenario)
        checks = _collapse(result.checks)
        failing = [c for c in checks.values() if c.status not in _NOT_FAILING]
        if not failing:
            verdict.passed.append(result.scenario)
        whole = wholesale.get(result.scenario)
        listed = per_check.get(result.scenario, {})
        if whole is not None and not failing:
            verdict.stale.append((whole, "the scenario passes"))
        for check in failing:
            excuse = whole or listed.get(check.id)
            findings = verdict.expected if excuse else verdict.unexpected
            findings.append(Finding(result.scenario, check, excuse))
        for check_id, entry in listed.items():
            found = checks.get(check_id)
            if found is not None and found.status == "SUCCESS":
                verdict.stale.append((entry, "the check passes"))
    for scenario, entry in wholesale.items():
        if scenario not in ran:
            verdict.stale.append((entry, "the scenario did not run at this version"))
    for scenario, entries in per_check.items():
        if scenario not in ran:
            for entry in entries.values():
                verdict.stale.append((entry, "the scenario did not run at this version"))
    return verdict


def _collapse(checks: Iterable[Check]) -> Mapping[str, Check]:
    """One check per id, the most severe occurrence (INFO checks carry no verdict)."""
    by_id: dict[str, Check] = {}
    for check in checks:
        if check.status == "INFO":
            continue
        seen = by_id.get(check.id)
        if seen is None or _SEVERITY.get(check.status, 3) >= _SEVERITY.get(seen.status, 3):
            by_id[check.id] = check
    return by_id
