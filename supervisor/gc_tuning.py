"""The garbage collector's settings for a long-running front or worker (ADR-0021).

CPython's cyclic collector runs a young-generation pass every 700 net allocations of
container objects, and every so often a full pass over every tracked object. A front
holding hundreds of requests allocates thousands of objects a request (trio tasks, cancel
scopes, h11 events, coroutine frames), so it ran many passes a request, and each full pass
walked everything the process imported and built at start. Once the process is ready:

- what start-up built is moved out of the collector's sight (``gc.freeze``): modules,
  the tool catalog, configuration — they live as long as the process;
- the young generation is collected every :data:`YOUNG_THRESHOLD` allocations instead of
  700, so most short-lived request objects are freed by reference counting before a pass
  ever looks at them.

Reference counting still frees everything without cycles at once; only cyclic garbage
waits a little longer.
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["YOUNG_THRESHOLD", "tune_gc_for_serving"]

YOUNG_THRESHOLD: Final = 50_000
"""Net container allocations between young-generation passes (CPython's default: 700)."""


def tune_gc_for_serving() -> None:
    """Freeze what start-up built and space the collector's passes out; call once, when
    the process is ready to serve."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
