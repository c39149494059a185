"""``ToolContext``: what a running handler may ask of the fleet (progress, cancellation).

Built only by the worker runtime. Every method is safe to call from a sync handler running
in a worker thread and from an async handler on the worker's event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, final

from proto import FleetError

__all__ = ["CancelledByClientError", "ToolContext"]

ProgressSink = Callable[[float, float | None, str | None], None]

_PROGRESS_MIN_INTERVAL_S: Final = 0.05
_RUNTIME_TOKEN: Final = object()


class CancelledByClientError(FleetError):
    """Raised by :meth:`ToolContext.check_cancelled` once the call was cancelled."""


@final
class ToolContext:
    """Per-call context handed to a handler that declares a parameter of this type.

    Attributes:
        request_id: the id correlating logs of this call from front to worker.
        tool: the name of the tool being run.
    """

    __slots__ = ("_cancel", "_last_progress", "_last_sent_at", "_sink", "request_id", "tool")

    def __init__(
        self,
        *,
        request_id: str,
        tool: str,
        progress_sink: ProgressSink | None,
        cancel_flag: threading.Event,
        _token: object = None,
    ) -> None:
        if _token is not _RUNTIME_TOKEN:
            raise TypeError("ToolContext is created by the mcpfleet worker runtime")
        self.request_id = request_id
        self.tool = tool
        self._sink = progress_sink
        self._cancel = cancel_flag
        self._last_progress: float | None = None
        self._last_sent_at = 0.0

    @classmethod
    def _for_runtime(
        cls,
        *,
        request_id: str,
        tool: str,
        progress_sink: ProgressSink | None,
        cancel_flag: threading.Event,
    ) -> ToolContext:
        return cls(
            request_id=request_id,
            tool=tool,
            progress_sink=progress_sink,
            cancel_flag=cancel_flag,
            _token=_RUNTIME_TOKEN,
        )

    def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        """Report progress; a no-op when the caller asked for none.

        Values that do not increase are dropped (the spec requires increasing progress), and
        reports closer than 50 ms apart are coalesced, except the one reaching ``total``.
        """
        if self._sink is None:
            return
        if self._last_progress is not None and done <= self._last_progress:
            return
        now = time.monotonic()
        is_final = total is not None and done >= total
        if not is_final and now - self._last_sent_at < _PROGRESS_MIN_INTERVAL_S:
            return
        self._last_progress = done
        self._last_sent_at = now
        self._sink(done, total, message)

    @property
    def cancelled(self) -> bool:
        """True once the client cancelled the call or its deadline passed."""
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`CancelledByClientError` if the call was cancelled.

        Sync handlers call this between steps of long work; async handlers are cancelled
        at their next ``await`` anyway.
        """
        if self._cancel.is_set():
            raise CancelledByClientError("the call was cancelled")
