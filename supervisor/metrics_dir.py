"""The fleet's metrics directory (ADR-0012): where every process of one ``mcpfleet up``
writes its Prometheus values (prometheus-client's multiprocess mode), and a front's
``/metrics`` reads them all.

The supervisor owns it: ``<data_dir>/run/metrics``, emptied at every start (values of an
earlier run, archives of its exited processes included, would otherwise be added to this
one's), and named in ``PROMETHEUS_MULTIPROC_DIR`` in its own environment, which every
child inherits. The variable must be set before
``prometheus_client`` is first imported in a process, since the library picks its mode
then: here, before the app is loaded (an app may import the library), and no module of
ours imports it at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

from proto import METRICS_DIR_ENV
from server import METRICS_FILE_PATTERNS
from supervisor.config import ConfigError

__all__ = ["share_metrics_dir"]


def share_metrics_dir(data_dir: str) -> Path:
    """Empty the fleet's metrics directory under ``data_dir`` (creating it) and name it in
    this process's environment, for itself and the children it starts; returns it.

    Raises:
        ConfigError: the directory cannot be made or emptied.
    """
    path = (Path(data_dir) / "run" / "metrics").resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        for pattern in METRICS_FILE_PATTERNS:
            for leftover in path.glob(pattern):
                leftover.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot prepare the metrics directory {path}: {exc}") from None
    os.environ[METRICS_DIR_ENV] = str(path)
    return path
