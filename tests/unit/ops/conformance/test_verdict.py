"""Judging a conformance run: expected, unexpected and stale failures."""

from __future__ import annotations

import json
from pathlib import Path

from ops.conformance.expected_failures import ExpectedFailure
from ops.conformance.verdict import Check, ScenarioResult, judge, load_results


def _result(scenario: str, *checks: tuple[str, str]) -> ScenarioResult:
    return ScenarioResult(scenario, tuple(Check(i, s, f"{i} said {s}") for i, s in checks))


def _entry(entry: str) -> ExpectedFailure:
    return ExpectedFailure(entry, 4, "not built")


def test_a_passing_run_with_no_entries_is_ok() -> None:
    verdict = judge("v", [_result("ping", ("ping", "SUCCESS"), ("note", "INFO"))], [])
    assert verdict.ok
    assert verdict.passed == ["ping"]


def test_a_failure_or_warning_outside_the_list_is_unexpected() -> None:
    results = [_result("ping", ("ping", "FAILURE")), _result("tools-list", ("t", "WARNING"))]
    verdict = judge("v", results, [])
    assert not verdict.ok
    assert [(f.scenario, f.check.id, f.group) for f in verdict.unexpected] == [
        ("ping", "ping", "lifecycle"),
        ("tools-list", "t", "tools"),
    ]


def test_an_unknown_status_fails_and_skipped_does_not() -> None:
    verdict = judge("v", [_result("ping", ("a", "ERROR"), ("b", "SKIPPED"))], [])
    assert [f.check.id for f in verdict.unexpected] == ["a"]


def test_a_listed_scenario_excuses_all_its_failing_checks() -> None:
    results = [_result("prompts-list", ("a", "FAILURE"), ("b", "WARNING"), ("c", "SUCCESS"))]
    verdict = judge("v", results, [_entry("prompts-list")])
    assert verdict.ok
    assert [f.check.id for f in verdict.expected] == ["a", "b"]


def test_a_listed_check_excuses_only_itself() -> None:
    results = [_result("caching", ("prompts", "FAILURE"), ("tools", "FAILURE"))]
    verdict = judge("v", results, [_entry("caching:prompts")])
    assert [f.check.id for f in verdict.expected] == ["prompts"]
    assert [f.check.id for f in verdict.unexpected] == ["tools"]


def test_a_listed_scenario_that_passes_is_stale() -> None:
    verdict = judge("v", [_result("prompts-list", ("a", "SUCCESS"))], [_entry("prompts-list")])
    assert not verdict.ok
    assert [(e.entry, why) for e, why in verdict.stale] == [("prompts-list", "the scenario passes")]


def test_a_listed_check_that_passes_is_stale_and_an_absent_one_is_tolerated() -> None:
    results = [_result("caching", ("a", "SUCCESS"), ("b", "SKIPPED"))]
    entries = [_entry("caching:a"), _entry("caching:b"), _entry("caching:gone")]
    verdict = judge("v", results, entries)
    assert [e.entry for e, _ in verdict.stale] == ["caching:a"]


def test_an_entry_for_a_scenario_that_did_not_run_is_stale() -> None:
    verdict = judge("v", [], [_entry("prompts-list"), _entry("caching:a")])
    assert sorted(e.entry for e, _ in verdict.stale) == ["caching:a", "prompts-list"]


def test_repeated_check_ids_count_once_with_the_most_severe_status() -> None:
    results = [_result("caching", ("a", "SUCCESS"), ("a", "FAILURE"), ("a", "SUCCESS"))]
    verdict = judge("v", results, [])
    assert [f.check.status for f in verdict.unexpected] == ["FAILURE"]


def test_load_results_reads_each_scenario_and_flags_silent_ones(tmp_path: Path) -> None:
    ran = tmp_path / "server-tools-call-simple-text-2026-11-21T08-54-29-258Z"
    ran.mkdir()
    checks = [{"id": "x", "status": "FAILURE", "errorMessage": "Unknown tool: test_simple_text"}]
    (ran / "checks.json").write_text(json.dumps(checks))
    results = {
        r.scenario: r for r in load_results(tmp_path, ["tools-call-simple-text", "crashed-one"])
    }
    assert results["tools-call-simple-text"].checks == (
        Check("x", "FAILURE", "Unknown tool: test_simple_text"),
    )
    assert [c.status for c in results["crashed-one"].checks] == ["FAILURE"]
