"""The expected-failure list keeps its own rules."""

from __future__ import annotations

import pytest

from ops.conformance.expected_failures import (
    EXPECTED_FAILURES,
    ExpectedFailure,
    ExpectedFailureListError,
    check_expected_failures,
)
from ops.conformance.scenario_groups import group_of


def test_the_shipped_list_keeps_the_rules() -> None:
    check_expected_failures()
    assert set(EXPECTED_FAILURES) == {"2025-11-25", "2026-07-28"}


@pytest.mark.parametrize(
    ("entries", "complaint"),
    [
        ([ExpectedFailure("prompts-list", 9, "x")], "issue 9"),
        ([ExpectedFailure("server-stateless", 4, "x")], "may only have checks excused"),
        ([ExpectedFailure("dns-rebinding-protection", 4, "x")], "may only have checks excused"),
        ([ExpectedFailure("brand-new-scenario", 4, "x")], "may only have checks excused"),
        (
            [ExpectedFailure("prompts-list", 4, "x"), ExpectedFailure("prompts-list:a", 4, "x")],
            "excused as a whole",
        ),
        ([ExpectedFailure("caching:a", 4, "x"), ExpectedFailure("caching:a", 4, "x")], "twice"),
    ],
)
def test_a_broken_list_is_refused(entries: list[ExpectedFailure], complaint: str) -> None:
    with pytest.raises(ExpectedFailureListError, match=complaint):
        check_expected_failures({"v": tuple(entries)})


@pytest.mark.parametrize(
    ("scenario", "group"),
    [
        ("server-initialize", "lifecycle"),
        ("server-stateless", "lifecycle"),
        ("http-header-validation", "transport"),
        ("tools-call-with-progress", "tools"),
        ("input-required-result-multi-round", "input-requests"),
        ("tasks-lifecycle", "tasks"),
        ("sep-2164-resource-not-found", "resources"),
        ("something-new", "other"),
    ],
)
def test_groups(scenario: str, group: str) -> None:
    assert group_of(scenario) == group
