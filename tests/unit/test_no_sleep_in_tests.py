"""Tests never pause on a timer: only the deadline-bounded waits in ``tests/fixtures/waiting.py``
may. Waiting on a condition is what makes a test both fast and reliable. The test tools in
``tests/fixtures/tools.py``, ``tests/fixtures/task_tools.py``,
``tests/fixtures/recovery_tools.py``, ``tests/fixtures/drain_tools.py`` and
``tests/fixtures/scoped_tools.py`` are served by workers and model slow work; they are not
tests."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ALLOWED = TESTS / "fixtures" / "waiting.py"
TOOLS = TESTS / "fixtures" / "tools.py"
TASK_TOOLS = TESTS / "fixtures" / "task_tools.py"
RECOVERY_TOOLS = TESTS / "fixtures" / "recovery_tools.py"
DRAIN_TOOLS = TESTS / "fixtures" / "drain_tools.py"
SCOPED_TOOLS = TESTS / "fixtures" / "scoped_tools.py"
NEEDLE = "sle" + "ep("  # built so this file does not match itself


def test_no_test_file_sleeps() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert Path(__file__).resolve() in files
    offenders = []
    for path in files:
        if path in (ALLOWED, TOOLS, TASK_TOOLS, RECOVERY_TOOLS, DRAIN_TOOLS, SCOPED_TOOLS):
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if NEEDLE in line:
                offenders.append(f"{path.relative_to(TESTS.parent)}:{lineno}: {line.strip()}")
    assert offenders == []


def test_the_allowed_files_exist() -> None:
    assert ALLOWED.is_file()
    assert TOOLS.is_file()
    assert TASK_TOOLS.is_file()
    assert RECOVERY_TOOLS.is_file()
    assert DRAIN_TOOLS.is_file()
    assert SCOPED_TOOLS.is_file()
