"""The collector's settings for serving (ADR-0021), checked in a fresh interpreter so the
test run's own collector is left alone."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from supervisor.gc_tuning import YOUNG_THRESHOLD, tune_gc_for_serving
before = gc.get_threshold()
kept = [[] for _ in range(1000)]  # built at start-up: frozen with the rest
tune_gc_for_serving()
print(json.dumps({
    "before": before,
    "after": gc.get_threshold(),
    "young": YOUNG_THRESHOLD,
    "frozen": gc.get_freeze_count(),
    "kept_tracked": gc.is_tracked(kept[0]),
    "kept_collectable": any(o is kept[0] for o in gc.get_objects()),
}))
"""


def test_start_up_objects_are_frozen_and_young_passes_spaced_out() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    probe = json.loads(out)
    assert probe["before"][0] == 700  # CPython's default, so the change is ours
    assert probe["after"] == [probe["young"], *probe["before"][1:]]
    assert probe["frozen"] > 1000  # the modules, and what start-up built
    # Still tracked, but out of every generation the collector walks.
    assert probe["kept_tracked"] and not probe["kept_collectable"]
