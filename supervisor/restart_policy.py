"""When to restart a child that exited: exponential backoff that resets once a child has
run long enough to count as healthy. Pure: time comes in as arguments."""

from __future__ import annotations

from typing import Final

__all__ = ["CRASH_LOOP_DEATHS", "RestartPolicy"]

CRASH_LOOP_DEATHS: Final = 5
"""Quick deaths in a row that make a crash loop."""


class RestartPolicy:
    """Backoff 0.1 s, 0.2 s, 0.4 s … up to ``max_backoff_s`` for a child that keeps dying
    young; a child that ran ``stable_after_s`` or longer restarts after the base delay.

    Args:
        max_backoff_s: ceiling of the delay.
        base_s: the first delay.
        stable_after_s: run time after which a crash is no longer part of a crash loop.
    """

    def __init__(
        self, *, max_backoff_s: float, base_s: float = 0.1, stable_after_s: float = 10.0
    ) -> None:
        self.max_backoff_s = max_backoff_s
        self._base = base_s
        self._stable_after = stable_after_s
        self.consecutive_failures = 0

    def delay_after_exit(self, ran_for_s: float) -> float:
        """Record an exit after ``ran_for_s`` seconds and return how long to wait."""
        if ran_for_s >= self._stable_after:
            self.consecutive_failures = 0
        # The exponent is capped so an endless crash loop stays at the ceiling, not overflows.
        delay = min(self._base * 2.0 ** min(self.consecutive_failures, 32), self.max_backoff_s)
        self.consecutive_failures += 1
        return delay

    @property
    def is_crash_looping(self) -> bool:
        """True after five quick deaths in a row (reported, not silently spun)."""
        return self.consecutive_failures >= CRASH_LOOP_DEATHS

    def crash_looping_with(self, running_for_s: float) -> bool:
        """Whether the slot is in a crash loop now: five quick deaths in a row, and its
        current child (running for ``running_for_s``; 0 when none runs) has not yet run
        long enough to count as stable, which will end the loop at its exit."""
        return self.is_crash_looping and running_for_s < self._stable_after

    @property
    def crash_loop_began(self) -> bool:
        """True right after the death that made it a crash loop: the moment to report it,
        once, rather than at every restart that follows."""
        return self.consecutive_failures == CRASH_LOOP_DEATHS
