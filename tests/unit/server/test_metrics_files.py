"""The fleet's metrics directory (server/metrics_files.py) on real files written by
prometheus-client in real processes: a fold of dead processes' files into archives leaves
the scrape's output exactly as it was, deletes their files and keeps the others; the sums
are exact whatever the order; a scrape running during folds never sees a dead process
twice or not at all; a fold that cannot read a file changes nothing."""

from __future__ import annotations

import math
import random
import struct
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import mark_process_dead

from server.metrics_files import (
    LOCK_FILE,
    FleetFilesCollector,
    exact_partials,
    fold_dead_processes,
)
from tests.fixtures.metrics import Samples, parse, read_dir, total, write_in_a_process

WORKERS = (1, 2, 3, 4, 5, 6, 7, 8)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """A directory with the files of ``len(WORKERS)`` processes that have exited, and
    their pids (process ``i`` wrote with ``n = WORKERS[i]``, in order)."""
    directory = tmp_path_factory.mktemp("metrics")
    return directory, [write_in_a_process(directory, n) for n in WORKERS]


@pytest.fixture
def directory(written: tuple[Path, list[int]], tmp_path: Path) -> Path:
    """A fresh copy of the written files for one test."""
    source, _ = written
    copy = tmp_path / "metrics"
    copy.mkdir()
    for path in source.glob("*.db"):
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


@pytest.fixture
def pids(written: tuple[Path, list[int]]) -> list[int]:
    return written[1]


def scrape(directory: Path) -> Samples:
    registry = CollectorRegistry()
    registry.register(FleetFilesCollector(directory))
    return parse(generate_latest(registry).decode())


def names(directory: Path) -> set[str]:
    """The files in ``directory`` but the lock file (made by the first scrape or fold)."""
    return {path.name for path in directory.iterdir()} - {LOCK_FILE}


def test_a_fold_leaves_the_output_exactly_as_it_was(directory: Path, pids: list[int]) -> None:
    dead, live = pids[:5], pids[5:]
    for pid in dead:  # as the supervisor does at each exit: live gauges stop counting
        mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
    before = scrape(directory)
    report = fold_dead_processes(directory, dead)
    after = scrape(directory)
    assert after == before  # every sample, to the last bit
    files = names(directory)
    assert report.folded_files == len(dead) * 7  # 3 summed kinds, 4 folded gauge modes
    for pid in dead:
        assert not {f for f in files if f.endswith(f"_{pid}.db") and "_all_" not in f}
        assert f"gauge_all_{pid}.db" in files  # its series carry its pid: kept
    for pid in live:
        assert f"counter_{pid}.db" in files and f"histogram_{pid}.db" in files
    assert {"counter_archive.db", "histogram_archive.db", "summary_archive.db"} <= files
    assert {f"gauge_{mode}_archive.db" for mode in ("sum", "min", "max", "mostrecent")} <= files
    assert not [f for f in files if f.endswith(".pending")]


def test_the_sums_are_right_and_the_librarys_own_reading_agrees(
    directory: Path, pids: list[int]
) -> None:
    fold_dead_processes(directory, pids[:3])
    fold_dead_processes(directory, pids[3:6])  # into the existing archives
    ours, library = scrape(directory), read_dir(directory)
    assert total(ours, "t_calls_total", tool="a") == sum(WORKERS)
    assert total(ours, "t_calls_total", tool="never") == 0  # the zero series is still there
    b_exact = sum(Fraction(0.1 * (i + 1) / 3) for n in WORKERS for i in range(n))
    assert total(ours, "t_calls_total", tool="b") == float(b_exact)
    assert total(ours, "t_seconds_count", tool="a") == sum(WORKERS)
    inf = frozenset({("tool", "a"), ("le", "+Inf")})
    assert ours[("t_seconds_bucket", inf)] == sum(WORKERS)
    assert ours[("t_sizes_count", frozenset())] == len(WORKERS)
    assert ours[("t_sum", frozenset())] == sum(WORKERS)
    assert ours[("t_min", frozenset())] == min(WORKERS)
    assert ours[("t_max", frozenset())] == max(WORKERS)
    assert ours[("t_mostrecent", frozenset())] == WORKERS[-1]  # the last one written
    assert total(ours, "t_all") == sum(WORKERS)  # one series per process, pid label
    # The library's collector, reading the same files (archive remainders included), adds
    # the same up to float rounding.
    assert ours.keys() == library.keys()
    for key, value in ours.items():
        assert math.isclose(library[key], value, rel_tol=1e-12), key


def test_every_process_folded_one_by_one_leaves_only_archives(
    directory: Path, pids: list[int]
) -> None:
    before = scrape(directory)
    for pid in pids:
        fold_dead_processes(directory, [pid])
    assert scrape(directory) == before
    left = names(directory)
    assert {f for f in left if "_all_" not in f and "_livesum_" not in f} <= {
        f for f in left if "_archive" in f
    }
    # A remainder file per kind at most here: the exact sums need few doubles.
    assert len([f for f in left if "_archive" in f]) <= 3 * 3 + 4


def test_a_scrape_during_folds_never_counts_a_process_twice_or_not_at_all(
    directory: Path, pids: list[int]
) -> None:
    expected = scrape(directory)
    errors: list[BaseException] = []

    def fold_one_by_one() -> None:
        try:
            for pid in pids:
                fold_dead_processes(directory, [pid])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    folder = threading.Thread(target=fold_one_by_one)
    folder.start()
    scrapes = 0
    while folder.is_alive() or scrapes < 3:
        assert scrape(directory) == expected
        scrapes += 1
    folder.join()
    assert errors == []
    assert not [f for f in names(directory) if f.startswith("counter_") and "archive" not in f]


def test_a_fold_that_cannot_read_a_file_changes_nothing(directory: Path, pids: list[int]) -> None:
    before, files = scrape(directory), names(directory)
    # A dead process's file whose first entry claims more than the file holds.
    corrupt = struct.pack("ii", 64, 0) + struct.pack("i", 1000) + bytes(52)
    (directory / f"summary_{pids[1]}.db").write_bytes(corrupt)
    with pytest.raises(RuntimeError):
        fold_dead_processes(directory, pids[:3])
    assert names(directory) == files
    (directory / f"summary_{pids[1]}.db").unlink()  # the scrape would refuse it too
    assert scrape(directory).keys() <= before.keys()


def test_a_fold_of_unknown_processes_does_nothing(directory: Path) -> None:
    before, files = scrape(directory), names(directory)
    report = fold_dead_processes(directory, [999_999_999])
    assert report.folded_files == 0
    assert names(directory) == files
    assert scrape(directory) == before


# --- exact sums --------------------------------------------------------------------------


def random_values(seed: int) -> Iterator[list[float]]:
    rng = random.Random(seed)
    for _ in range(300):
        yield [rng.lognormvariate(-3, 4) * rng.choice((1, 1, 1, -1)) for _ in range(20)]


def test_partials_keep_the_exact_sum() -> None:
    for values in random_values(1):
        partials = exact_partials(values)
        assert 1 <= len(partials) <= 4
        assert sum(map(Fraction, partials)) == sum(map(Fraction, values))
        # What a scrape computes, with other files' values added, does not change.
        others = values[:3]
        assert math.fsum([*partials, *others]) == math.fsum([*values, *others])


def test_fsum_rounds_the_exact_sum_once() -> None:
    # The scrape's sums rest on this: the result depends on the values, not their order.
    for values in random_values(2):
        assert math.fsum(values) == float(sum(map(Fraction, values)))


def test_partials_of_edge_values() -> None:
    assert exact_partials([]) == [0.0]
    assert exact_partials([1.5, -1.5]) == [0.0]
    assert exact_partials([1e16, 1.0]) == [1e16, 1.0]  # 1e16 + 1 is not a double
    assert exact_partials([2.0**52, 2.0**52 - 1]) == [2.0**53 - 1]  # counts, still exact
    assert exact_partials([2.0**52, 2.0**52 + 1]) == [2.0**53, 1.0]
    assert exact_partials([math.inf, 1.0]) == [math.inf]
    assert math.isnan(exact_partials([math.inf, -math.inf])[0])
    assert math.isnan(exact_partials([math.nan, 1.0])[0])
    assert exact_partials([1.7e308, 1.7e308]) == [math.inf]
