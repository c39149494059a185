"""``python -m bench.harness``: see :mod:`bench.harness.run`."""

from __future__ import annotations

from bench.harness.run import main

if __name__ == "__main__":
    raise SystemExit(main())
