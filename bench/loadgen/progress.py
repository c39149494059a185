"""The progress flow: one call of a progress-reporting tool with a ``progressToken``; for
each ``notifications/progress`` received, latency = receipt time - the time the worker
reported it. The bench app's ``progress_probe`` tool puts ``time.time_ns()`` at report time
into each notification's message (worker and client share one clock on one machine)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ProgressResult:
    """Report -> receipt latencies of one or more progress-reporting calls."""

    era: str
    steps: int
    interval_ms: float
    notifications: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-able dict."""
        return asdict(self)


def run_progress(
    url: str,
    era: str,
    steps: int,
    interval_ms: float,
    *,
    calls: int = 1,
    tool: str = "progress_probe",
) -> ProgressResult:
    """Call ``tool(steps=, interval_ms=)`` ``calls`` times in a row with a progress token
    and measure each notification's report -> receipt latency. ``interval_ms`` should be at
    least 50 (mcpfleet coalesces closer reports)."""
    raise NotImplementedError
