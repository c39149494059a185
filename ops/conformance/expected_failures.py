"""What the fixture fleet (``examples/conformance.py``) is known to fail in the pinned suite,
per protocol version, and why.

Every entry names the issue that will make it pass: **4** = the rest of the server surface
(no entry left), **5** = durable tasks, **7** = auth. The pinned suite has no server-side auth
scenario in either requirement set (its auth scenarios test clients and authorization
servers), so no entry cites 7 yet.

An entry is ``"scenario"`` (the whole scenario may fail) or ``"scenario:check-id"`` (only that
check may fail; the suite prints check ids in its log and in ``checks.json``). Transport and
lifecycle scenarios take only per-check entries (``scenario_groups.STRICT_GROUPS``).

Keep the list honest: ``make conformance`` fails when an entry passes (remove it) and when a
scenario or check outside the list fails (fix the server, or add an entry with its issue).

The suite calls its fixtures by name (``test_simple_text``, ``test_sampling``, ...): each
fixture the tool API can express lives in ``examples/conformance.py`` (and the modules it
registers). None is missing now, and no entry is left: the tasks extension's fixtures are in
``examples/conformance_tasks.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ops.conformance.scenario_groups import STRICT_GROUPS, group_of

__all__ = [
    "EXPECTED_FAILURES",
    "ISSUES",
    "ExpectedFailure",
    "ExpectedFailureListError",
    "check_expected_failures",
]

ISSUES: Final = {4: "server surface", 5: "tasks", 7: "auth"}


class ExpectedFailureListError(Exception):
    """The expected-failure list breaks its own rules."""


@dataclass(frozen=True)
class ExpectedFailure:
    """One scenario or check the fixture fleet may fail, the issue that fixes it, and why."""

    entry: str
    issue: int
    why: str

    @property
    def scenario(self) -> str:
        return self.entry.partition(":")[0]

    @property
    def check_id(self) -> str | None:
        return self.entry.partition(":")[2] or None


_F = ExpectedFailure


_HANDSHAKE_ERA: Final[tuple[ExpectedFailure, ...]] = ()

_MODERN_ERA: Final[tuple[ExpectedFailure, ...]] = ()

EXPECTED_FAILURES: Final[Mapping[str, tuple[ExpectedFailure, ...]]] = {
    "2025-11-25": _HANDSHAKE_ERA,
    "2026-07-28": _MODERN_ERA,
}
"""Per protocol version (the suite's ``--requirements`` revision)."""


def check_expected_failures(
    expected: Mapping[str, tuple[ExpectedFailure, ...]] = EXPECTED_FAILURES,
) -> None:
    """Enforce the list's rules.

    Raises:
        ExpectedFailureListError: an entry cites an unknown issue, excuses a whole transport
            or lifecycle scenario, is listed twice, or sits beside its own scenario's
            wholesale entry.
    """
    for version, entries in expected.items():
        wholesale = {e.scenario for e in entries if e.check_id is None}
        seen: set[str] = set()
        for e in entries:
            where = f"{version} {e.entry!r}"
            if e.issue not in ISSUES:
                raise ExpectedFailureListError(f"{where}: issue {e.issue} is not one of {ISSUES}")
            if e.check_id is None and group_of(e.scenario) in STRICT_GROUPS:
                raise ExpectedFailureListError(
                    f"{where}: a {group_of(e.scenario)} scenario may only have checks excused"
                )
            if e.check_id is not None and e.scenario in wholesale:
                raise ExpectedFailureListError(f"{where}: its scenario is excused as a whole")
            if e.entry in seen:
                raise ExpectedFailureListError(f"{where}: listed twice")
            seen.add(e.entry)
