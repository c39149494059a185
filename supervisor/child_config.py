"""What the supervisor hands each child: its configuration, in a file only the fleet's user
can read (named on the command line by path, since ``ps`` shows every argument), and its
environment.

Fronts get the whole resolved configuration. Workers get it without ``[auth]``: they never
verify a token (the front does, and hands them the principal), and the tool code they run
should not hold the shared secret. For the same reason the ``MCPFLEET_AUTH_*`` variables
are left out of a worker's environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final, NamedTuple

import msgspec

from server import AuthConfig
from supervisor.config import ENV_PREFIX, FleetConfig

__all__ = ["ChildConfigs", "worker_config", "worker_environ", "write_child_configs"]

FRONT_CONFIG_FILE: Final = "fleet.json"
"""The fronts' file; also what ``mcpfleet status`` and the list commands read the Redis
URL from."""
WORKER_CONFIG_FILE: Final = "worker.json"

_AUTH_ENV_PREFIX: Final = f"{ENV_PREFIX}AUTH_"
"""Every environment name that sets an ``[auth]`` key: the documented aliases
(``MCPFLEET_AUTH_JWT_SECRET``…) and ``MCPFLEET_AUTH__<KEY>``."""


class ChildConfigs(NamedTuple):
    """Paths of the configuration files each role reads (``--config-json``)."""

    front: str
    worker: str


def worker_config(config: FleetConfig) -> FleetConfig:
    """``config`` as a worker gets it: ``[auth]`` at its defaults (off, no secret, no key)."""
    return msgspec.structs.replace(config, auth=AuthConfig())


def worker_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the variables that set ``[auth]`` keys (the secret among them)."""
    return {name: value for name, value in environ.items() if not name.startswith(_AUTH_ENV_PREFIX)}


def write_child_configs(config: FleetConfig, data_dir: Path) -> ChildConfigs:
    """Write the fronts' and the workers' configuration under ``<data_dir>/run``, each
    readable by this user only (it may hold the Redis password, the fronts' the JWT
    secret)."""
    run_dir = data_dir / "run"
    run_dir.mkdir(exist_ok=True)
    return ChildConfigs(
        front=_write_private(run_dir / FRONT_CONFIG_FILE, config),
        worker=_write_private(run_dir / WORKER_CONFIG_FILE, worker_config(config)),
    )


def _write_private(path: Path, config: FleetConfig) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)  # a file left by an older run keeps its mode otherwise
        fh.write(msgspec.json.encode(config))
    return str(path)
