"""Keeping the fleet's metrics directory small (ADR-0012): the supervisor hears every child
exit, and folds the exited processes' files into the directory's archives
(``fold_dead_processes``, server/metrics_files.py), so the directory holds about one set of
files per live process, not one per process that ever ran, and a scrape reads only those.

Folds run in a thread (they read and write files, and wait for a scrape in progress), at
most one every ``interval_s``: exits in between are batched, so a crash loop or a burst of
recycles costs one fold, not one per exit. A fold that fails never stops the fleet: one
that changed nothing is logged and its processes' files are left as they are (they still
count); one that failed midway (``ArchiveCommitError``) is logged as an error and folding
stops for the rest of the run, so a possible miscount is never compounded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Final

import structlog
import trio

from server import ArchiveCommitError, fold_dead_processes

__all__ = ["COMPACT_INTERVAL_S", "MetricsCompactor"]

log = structlog.get_logger()

COMPACT_INTERVAL_S: Final = 1.0
"""Least time between two folds: exits within it wait for the next one."""


class MetricsCompactor:
    """Folds the files of the fleet's exited processes.

    Args:
        directory: the fleet's metrics directory.
        live_pids: the pids of the children running now. A pid reused by a new child
            before its predecessor's files were folded is left out: the new process writes
            to the same files (continuing from their values), so they are not dead.
        interval_s: least time between two folds.
    """

    def __init__(
        self,
        directory: Path,
        live_pids: Callable[[], Collection[int]],
        *,
        interval_s: float = COMPACT_INTERVAL_S,
    ) -> None:
        self._directory = directory
        self._live_pids = live_pids
        self._interval_s = interval_s
        self._dead: set[int] = set()
        self._wake = trio.Event()

    def process_exited(self, pid: int) -> None:
        """Note that ``pid`` exited: its files are folded by the next fold."""
        self._dead.add(pid)
        self._wake.set()

    async def run(
        self, *, task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Fold exited processes' files until the scope it reports is cancelled (or a fold
        failed midway). A fold in progress when cancelled finishes first."""
        with trio.CancelScope() as scope:
            task_status.started(scope)
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                if not await self._fold():
                    return
                await trio.sleep(self._interval_s)

    async def _fold(self) -> bool:
        """Fold what exited so far; False if folding must stop."""
        pids = self._dead - set(self._live_pids())
        self._dead.clear()
        if not pids:
            return True
        started = trio.current_time()
        try:
            report = await trio.to_thread.run_sync(fold_dead_processes, self._directory, pids)
        except ArchiveCommitError as exc:
            log.error("metrics.fold_broken", error=str(exc), pids=sorted(pids))
            return False
        except Exception as exc:  # noqa: BLE001  # the files stay and still count
            log.warning("metrics.fold_failed", error=repr(exc), pids=sorted(pids))
            return True
        log.debug(
            "metrics.folded",
            processes=len(pids),
            files=report.folded_files,
            archive_files=report.archive_files,
            took_s=round(trio.current_time() - started, 4),
        )
        return True
