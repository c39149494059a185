"""One ``mcpfleet up`` per data directory: the supervisor holds an exclusive lock on
``<data_dir>/run/lock`` for its whole life, taken before it touches anything there (the
metrics directory it empties, the embedded Redis's files). A second ``up`` on the same
directory is refused, naming the process that holds it (its pid is written in the file).

``flock`` rather than a pid file alone: the kernel drops the lock when the holder dies, so
a supervisor killed with SIGKILL leaves no stale lock. The descriptor is close-on-exec, so
children never hold it: a worker outliving a killed supervisor does not keep the next
``up`` out.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from supervisor.config import ConfigError

__all__ = ["lock_data_dir"]

_held: list[int] = []
"""The lock's descriptor, kept open for the life of the process (closing it unlocks)."""


def lock_data_dir(data_dir: str) -> None:
    """Lock ``data_dir`` for this process (creating ``run/`` under it) and write this
    process's pid in the lock file.

    Raises:
        ConfigError: another process holds the lock (the message names the directory and
            its pid), or the lock file cannot be made.
    """
    path = Path(data_dir).resolve() / "run" / "lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot lock the data dir {path.parent.parent}: {exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"the data dir {path.parent.parent} is in use by another `mcpfleet up` "
            f"(pid {holder}); stop it first, or give this one another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held.append(fd)
