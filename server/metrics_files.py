"""The fleet's metrics directory (ADR-0012): reading every process's prometheus-client
multiprocess files for a scrape, and folding the files of processes that are gone into
one archive per kind, so the directory holds about one set of files per LIVE process.

The library writes ``<kind>_<pid>.db`` (``gauge_<mode>_<pid>.db`` for gauges) per process;
its collector globs ``*.db`` and adds them up. A dead process's counters and histograms
must keep counting, so its files used to stay until the next ``mcpfleet up``, and every
scrape read them all (about 1.5 s per scrape at a thousand files). Here:

- **Folding** (the supervisor, when it has seen processes exit): the values of the dead
  processes' files are added to ``<kind>_archive.db`` (counters, histograms, summaries),
  and the dead files deleted. The archive holds each series' sum *exactly*: the exact sum
  of doubles is often not a double, so it is stored as a few non-overlapping doubles, one
  per file (``<kind>_archive.db``, ``<kind>_archive-1.db``, …; the first is the sum
  rounded, the rest its remainder, usually none). Gauges of the aggregating modes (``sum``,
  ``min``, ``max``, ``mostrecent``) fold into ``gauge_<mode>_archive.db`` by their mode;
  ``live*`` gauges are deleted at exit (``mark_process_dead``), and ``all`` gauges stay,
  one file per process, since their series carry the process's pid.
- **Reading** (a front's scrape): counters, histograms and summaries are added up with
  ``math.fsum``, which rounds the exact sum once. A scrape's value is therefore the exact
  sum of every value written, rounded: the same whatever order the directory lists its
  files in, and the same before and after a fold (the archive keeps the exact sum). A
  counter never dips, which Prometheus would take for a reset; the library's collector adds
  floats in directory order, so a fold (or a new file) could move a ``_sum`` by an ulp
  either way. Gauges and other kinds are left to the library's collector.
- **One at a time**: a fold holds an exclusive ``flock`` on :data:`LOCK_FILE` in the
  directory while it reads, writes and deletes; a scrape holds it shared while it lists and
  reads. So no scrape sees a dead process's values twice (archive and its own file) or not
  at all. New archives are written under a name the collector does not list, then renamed.

``prometheus_client`` is imported inside the functions (server/metrics.py says why).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Final

import msgspec

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = [
    "LOCK_FILE",
    "METRICS_FILE_PATTERNS",
    "ArchiveCommitError",
    "FleetFilesCollector",
    "FoldReport",
    "exact_partials",
    "fold_dead_processes",
]

LOCK_FILE: Final = "compaction.lock"
"""The lock file in the metrics directory: shared while a scrape reads, exclusive while a
fold rewrites (not a ``*.db`` name, so the library's collector never reads it)."""

_SUMMED: Final = ("counter", "histogram", "summary")
"""Kinds whose values add up across processes (every process's count is part of the total)."""

_GAUGE_FOLDS: Final = ("sum", "min", "max", "mostrecent")
"""Gauge modes whose dead values still count (not ``live*``) and merge into one value per
series (not ``all``, whose series carry each process's pid)."""

_ARCHIVE: Final = "archive"
"""The pid part of an archive's file name: not a number, so it names no process (the
library's collector reads it as the pid label of gauges, which these modes drop)."""

_PENDING_SUFFIX: Final = ".pending"
"""Suffix of an archive being written: outside the collector's ``*.db`` glob."""

METRICS_FILE_PATTERNS: Final = ("*.db", f"*.db{_PENDING_SUFFIX}")
"""Every file of values in the directory: each process's, the archives, and archives being
written (left behind if the supervisor died during a fold)."""

_EXACT_INTEGERS: Final = float(2**53)
"""Every integer below this in magnitude is a double."""

_KeyValues = dict[str, list[tuple[float, float]]]
"""Each series' key in a file (the library's JSON key) → its (value, timestamp) per file."""

_Archive = dict[str, tuple[float, float]]
"""One archive file's contents: each series' key → its (value, timestamp)."""


class ArchiveCommitError(Exception):
    """A fold failed after it had begun replacing files: some dead process's values may
    now count twice or not at all, until the directory is emptied at the next start."""


class FoldReport(msgspec.Struct, frozen=True):
    """What one fold did.

    Attributes:
        folded_files: dead processes' files merged into archives and deleted.
        archive_files: archive files in the directory afterwards.
    """

    folded_files: int
    archive_files: int


# --- exact sums ------------------------------------------------------------------------


def exact_partials(values: Iterable[float]) -> list[float]:
    """The exact sum of ``values`` as non-overlapping doubles, largest first: the first is
    the sum correctly rounded, the others what rounding left, so that ``math.fsum`` of them
    (and of any other values) is the same as over ``values`` themselves. Never empty (a zero
    sum is ``[0.0]``); a sum with an infinity or NaN is that one value.
    """
    numbers = list(values)
    if not all(math.isfinite(number) for number in numbers):
        return [_rounded_sum(numbers)]
    if all(number.is_integer() for number in numbers):  # counts: the common case, and fast
        total = _rounded_sum(numbers)
        if abs(total) < _EXACT_INTEGERS:  # the exact sum is a double: fsum gave it
            return [total]
    rest = sum((Fraction(number) for number in numbers), Fraction(0))
    partials: list[float] = []
    try:
        while rest:
            # float() of a Fraction rounds correctly; the remainder is exact and smaller
            # than half an ulp of what was taken, so this ends within a few rounds.
            taken = float(rest)
            partials.append(taken)
            rest -= Fraction(taken)
    except OverflowError:  # past the largest double: the library would say inf too
        return [_rounded_sum(numbers)]
    return partials or [0.0]


def _rounded_sum(values: list[float]) -> float:
    """``math.fsum`` (the exact sum, rounded once), or the plain float sum where fsum
    refuses (an infinity against the other infinity, an intermediate overflow)."""
    try:
        return math.fsum(values)
    except (ValueError, OverflowError):
        return sum(values, 0.0)


# --- the lock ------------------------------------------------------------------------------


@contextmanager
def _locked(directory: Path, operation: int) -> Iterator[None]:
    """Hold the directory's lock (``fcntl.LOCK_SH`` or ``LOCK_EX``), blocking until it is
    free; released when the descriptor closes."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)


# --- reading for a scrape -------------------------------------------------------------


class FleetFilesCollector:
    """A prometheus-client collector of every process's files in ``directory``: counters,
    histograms and summaries added up exactly (module docstring), everything else as the
    library's ``MultiProcessCollector`` does. Reads under the directory's shared lock."""

    def __init__(self, directory: str | Path) -> None:
        self._directory = Path(directory)

    def collect(self) -> Iterator[Metric]:
        """The fleet's metric families, read afresh."""
        from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

        with _locked(self._directory, fcntl.LOCK_SH):
            summed: list[tuple[str, Path]] = []
            others: list[str] = []
            for path in self._directory.glob("*.db"):
                kind = path.name.split("_", 1)[0]
                if kind in _SUMMED:
                    summed.append((kind, path))
                else:
                    others.append(str(path))
            families = _read_summed(summed)
            # The library's own merge for gauges (its FileNotFoundError rule for live ones
            # deleted meanwhile included).
            rest = list(MultiProcessCollector.merge(others, accumulate=True))  # type: ignore[no-untyped-call]  # untyped library
        yield from (family.to_metric() for family in families.values())
        yield from rest


_LabelsKey = tuple[tuple[str, str], ...]


class _Family:
    """One metric's values across files, before they are added up."""

    def __init__(self, name: str, help_text: str, kind: str) -> None:
        self.name, self.help_text, self.kind = name, help_text, kind
        self.samples: dict[tuple[str, _LabelsKey], list[float]] = {}
        self.buckets: dict[_LabelsKey, dict[float, list[float]]] = {}

    def add(self, name: str, labels: Mapping[str, str], value: float) -> None:
        le = labels.get("le") if self.kind == "histogram" else None
        if le is None:
            key = (name, tuple(sorted(labels.items())))
            self.samples.setdefault(key, []).append(value)
            return
        series = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        self.buckets.setdefault(series, {}).setdefault(float(le), []).append(value)

    def to_metric(self) -> Metric:
        from prometheus_client.metrics_core import Metric  # noqa: PLC0415
        from prometheus_client.utils import floatToGoString  # noqa: PLC0415

        # Metric with dict labels, as the library's multiprocess collector builds them: the
        # typed families need one label-name list per metric, and processes of two
        # versions of an app may disagree.
        metric = Metric(self.name, self.help_text, self.kind)
        for (name, labels), values in self.samples.items():
            metric.add_sample(name, dict(labels), _rounded_sum(values))
        for labels, by_bound in self.buckets.items():
            below: list[float] = []  # every observation at or under the bound so far
            for bound in sorted(by_bound):
                below.extend(by_bound[bound])
                le = (("le", floatToGoString(bound)),)  # type: ignore[no-untyped-call]
                metric.add_sample(f"{self.name}_bucket", dict(labels + le), _rounded_sum(below))
            metric.add_sample(f"{self.name}_count", dict(labels), _rounded_sum(below))
        return metric


def _read_summed(files: list[tuple[str, Path]]) -> dict[str, _Family]:
    from prometheus_client.mmap_dict import MmapedDict  # noqa: PLC0415

    families: dict[str, _Family] = {}
    parsed: dict[str, tuple[str, str, dict[str, str], str]] = {}
    for kind, path in files:
        for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]  # untyped library
            entry = parsed.get(key)
            if entry is None:
                entry = parsed[key] = _parse_key(key)
            metric_name, name, labels, help_text = entry
            family = families.get(metric_name)
            if family is None:
                family = families[metric_name] = _Family(metric_name, help_text, kind)
            family.add(name, labels, value)
    return families


def _parse_key(key: str) -> tuple[str, str, dict[str, str], str]:
    """The library's key of a series: JSON ``[metric name, sample name, labels, help]``."""
    metric_name, name, labels, help_text = json.loads(key)
    return str(metric_name), str(name), {str(k): str(v) for k, v in labels.items()}, str(help_text)


# --- folding dead processes -------------------------------------------------------------


def fold_dead_processes(directory: str | Path, pids: Iterable[int]) -> FoldReport:
    """Merge the files of the processes ``pids`` (all exited, none to be written again)
    into the directory's archives and delete them, under the directory's exclusive lock.

    Counters, histograms and summaries keep their exact sums: :class:`FleetFilesCollector`
    gives the same values before and after. Gauges of the modes ``sum``, ``min``, ``max``
    and ``mostrecent`` merge as the library's collector merges them (a ``sum`` gauge may
    move by rounding, as it does with the order of the files).

    Raises:
        OSError, RuntimeError, ValueError: a file could not be read or an archive written;
            nothing was changed.
        ArchiveCommitError: replacing the files failed midway (see its docstring).
    """
    root = Path(directory)
    dead = sorted(set(pids))
    with _locked(root, fcntl.LOCK_EX):
        plans = [
            *(_plan_summed(root, kind, dead) for kind in _SUMMED),
            *(_plan_gauge(root, mode, dead) for mode in _GAUGE_FOLDS),
        ]
        plans = [plan for plan in plans if plan.dead_files]
        written: list[Path] = []
        try:
            for plan in plans:
                for path in plan.write():
                    written.append(path)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        try:
            for plan in plans:
                plan.commit()
        except OSError as exc:
            raise ArchiveCommitError(f"metrics archive left half-replaced: {exc}") from exc
        archives = sum(1 for _ in root.glob(f"*_{_ARCHIVE}*.db"))
    return FoldReport(sum(len(plan.dead_files) for plan in plans), archives)


class _Plan:
    """The new archive files of one kind (contents by file name) and the files they replace."""

    def __init__(
        self, root: Path, archives: dict[str, _Archive], old: list[Path], dead: list[Path]
    ) -> None:
        self.root, self.archives, self.old_archives, self.dead_files = root, archives, old, dead

    def write(self) -> Iterator[Path]:
        """Write each new archive under its pending name (yielded as soon as it exists)."""
        from prometheus_client.mmap_dict import MmapedDict  # noqa: PLC0415

        for name, entries in self.archives.items():
            pending = self.root / (name + _PENDING_SUFFIX)
            pending.unlink(missing_ok=True)
            yield pending
            store = MmapedDict(str(pending))  # type: ignore[no-untyped-call]  # untyped library
            try:
                for key, (value, timestamp) in entries.items():
                    store.write_value(key, value, timestamp)  # type: ignore[no-untyped-call]
            finally:
                store.close()  # type: ignore[no-untyped-call]

    def commit(self) -> None:
        """Rename the new archives into place, then delete the replaced and dead files."""
        for name in self.archives:
            os.replace(self.root / (name + _PENDING_SUFFIX), self.root / name)
        for path in self.old_archives:
            if path.name not in self.archives:
                path.unlink(missing_ok=True)
        for path in self.dead_files:
            path.unlink(missing_ok=True)


def _existing(paths: Iterable[Path]) -> list[Path]:
    return [path for path in paths if path.exists()]


def _read_values(files: Iterable[Path]) -> _KeyValues:
    from prometheus_client.mmap_dict import MmapedDict  # noqa: PLC0415

    values: _KeyValues = {}
    for path in files:
        for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]  # untyped library
            values.setdefault(key, []).append((value, timestamp))
    return values


def _plan_summed(root: Path, kind: str, dead: list[int]) -> _Plan:
    dead_files = _existing(root / f"{kind}_{pid}.db" for pid in dead)
    old = sorted(root.glob(f"{kind}_{_ARCHIVE}*.db"))
    if not dead_files:
        return _Plan(root, {}, old, [])
    archives: dict[str, _Archive] = {}
    for key, entries in _read_values([*old, *dead_files]).items():
        for index, partial in enumerate(exact_partials(value for value, _ in entries)):
            name = f"{kind}_{_ARCHIVE}.db" if index == 0 else f"{kind}_{_ARCHIVE}-{index}.db"
            archives.setdefault(name, {})[key] = (partial, 0.0)
    return _Plan(root, archives, old, dead_files)


def _plan_gauge(root: Path, mode: str, dead: list[int]) -> _Plan:
    dead_files = _existing(root / f"gauge_{mode}_{pid}.db" for pid in dead)
    archive = root / f"gauge_{mode}_{_ARCHIVE}.db"
    old = _existing([archive])
    if not dead_files:
        return _Plan(root, {}, old, [])
    merged = {
        key: _merge_gauge(mode, entries)
        for key, entries in _read_values([*old, *dead_files]).items()
    }
    return _Plan(root, {archive.name: merged}, old, dead_files)


def _merge_gauge(mode: str, entries: list[tuple[float, float]]) -> tuple[float, float]:
    """One (value, timestamp) standing for ``entries`` under the gauge's ``mode``, as the
    library's collector would pick or add them."""
    if mode == "sum":
        return _rounded_sum([value for value, _ in entries]), 0.0
    if mode == "min":
        return min(entries, key=lambda entry: entry[0])
    if mode == "max":
        return max(entries, key=lambda entry: entry[0])
    return max(entries, key=lambda entry: entry[1])  # mostrecent: the latest timestamp
