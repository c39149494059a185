"""The supervisor's metrics compactor (supervisor/metrics_compactor.py) on real files of
exited processes: exits that arrive together are folded together; a pid a running child
has taken again is left alone; a fold that fails is logged and folding goes on."""

from __future__ import annotations

import struct
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio
from structlog.testing import capture_logs

from supervisor.metrics_compactor import MetricsCompactor
from tests.fixtures.metrics import write_in_a_process
from tests.fixtures.waiting import wait_until_async

Logs = list[MutableMapping[str, Any]]


@pytest.fixture
def logs() -> Iterator[Logs]:
    with capture_logs() as captured:
        yield captured
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def exited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """The files of four processes that have exited, and their pids."""
    directory = tmp_path_factory.mktemp("written")
    return directory, [write_in_a_process(directory, n) for n in (1, 2, 3, 4)]


@pytest.fixture
def directory(exited: tuple[Path, list[int]], tmp_path: Path) -> Path:
    copy = tmp_path / "metrics"
    copy.mkdir()
    for path in exited[0].glob("*.db"):
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


@pytest.fixture
def pids(exited: tuple[Path, list[int]]) -> list[int]:
    return exited[1]


def counter_files(directory: Path) -> set[str]:
    return {path.name for path in directory.glob("counter_*.db")}


def folds(logs: Logs) -> list[int]:
    """How many processes each fold took, in order."""
    return [entry["processes"] for entry in logs if entry["event"] == "metrics.folded"]


async def test_exits_arriving_together_are_folded_together(
    directory: Path, pids: list[int], logs: Logs
) -> None:
    first, *rest = pids
    compactor = MetricsCompactor(directory, lambda: (), interval_s=0.05)
    async with trio.open_nursery() as nursery:
        scope = await nursery.start(compactor.run)
        compactor.process_exited(first)
        await wait_until_async(
            lambda: f"counter_{first}.db" not in counter_files(directory),
            deadline_s=10,
            what="the first exit folded",
        )
        for pid in rest:  # no checkpoint between them: one batch
            compactor.process_exited(pid)
        await wait_until_async(
            lambda: all("archive" in name for name in counter_files(directory)),
            deadline_s=10,
            what="every exit folded",
        )
        scope.cancel()
    assert folds(logs) == [1, len(rest)]


async def test_a_pid_a_running_child_took_again_is_left_alone(
    directory: Path, pids: list[int], logs: Logs
) -> None:
    reused, gone = pids[0], pids[1]
    compactor = MetricsCompactor(directory, lambda: {reused})
    async with trio.open_nursery() as nursery:
        scope = await nursery.start(compactor.run)
        compactor.process_exited(reused)
        compactor.process_exited(gone)
        await wait_until_async(lambda: folds(logs) != [], deadline_s=10, what="a fold")
        scope.cancel()
    assert folds(logs) == [1]
    files = counter_files(directory)
    assert f"counter_{reused}.db" in files
    assert f"counter_{gone}.db" not in files


async def test_a_fold_that_fails_is_logged_and_folding_goes_on(
    directory: Path, pids: list[int], logs: Logs
) -> None:
    broken, fine = pids[0], pids[1]
    corrupt = struct.pack("iii", 64, 0, 1000) + bytes(52)  # an entry past the end
    (directory / f"histogram_{broken}.db").write_bytes(corrupt)
    compactor = MetricsCompactor(directory, lambda: (), interval_s=0.01)
    async with trio.open_nursery() as nursery:
        scope = await nursery.start(compactor.run)
        compactor.process_exited(broken)
        await wait_until_async(
            lambda: any(entry["event"] == "metrics.fold_failed" for entry in logs),
            deadline_s=10,
            what="the failed fold logged",
        )
        compactor.process_exited(fine)
        await wait_until_async(lambda: folds(logs) == [1], deadline_s=10, what="the next fold")
        scope.cancel()
    files = counter_files(directory)
    assert f"counter_{broken}.db" in files  # left as it was: it still counts
    assert f"counter_{fine}.db" not in files
