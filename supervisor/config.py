"""``FleetConfig``: the one typed settings object every process receives.

Layers, in rising precedence: ``mcpfleet.toml`` (or ``--config PATH`` / ``MCPFLEET_CONFIG``),
``MCPFLEET_*`` environment variables, command-line flags. Unknown keys and bad values are
errors naming the key. Children get the resolved object as JSON, never pickled.

Environment names: ``MCPFLEET_<KEY>`` for top-level keys and ``MCPFLEET_<SECTION>__<KEY>``
for sectioned ones (``MCPFLEET_FRONT__MAX_BODY_BYTES=1048576``); list values are JSON arrays.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec

from proto import FleetError
from server import FrontConfig
from workers.runtime import WorkerConfig

__all__ = ["ConfigError", "FleetConfig", "SupervisorConfig", "load_config"]

ENV_PREFIX: Final = "MCPFLEET_"
CONFIG_ENV: Final = "MCPFLEET_CONFIG"
DEFAULT_CONFIG_FILE: Final = "mcpfleet.toml"

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
WorkerCount = Annotated[int, msgspec.Meta(ge=1, le=512)]
FrontCount = Annotated[int, msgspec.Meta(ge=1, le=64)]
FleetName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class ConfigError(FleetError):
    """Invalid configuration; the message names the source and the key."""


class SupervisorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the supervisor manages its children (``[supervisor]``)."""

    stop_timeout_s: PositiveFloat = 5.0
    """On shutdown, how long a child may take beyond its own drain budget
    (``front.graceful_timeout_s`` / ``worker.drain_timeout_s``) before SIGKILL."""

    ready_timeout_s: PositiveFloat = 30.0
    """How long a child may take to report ready before it is killed and restarted."""

    restart_backoff_max_s: PositiveFloat = 10.0
    """Ceiling of the exponential backoff between restarts of a crashing child."""

    orphan_sweep_interval_s: PositiveFloat = 15.0
    """How often to settle calls held by workers with no live heartbeat (also at start)."""


class FleetConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything a fleet needs; each component is handed only its own section."""

    app: str | None = None
    """The tool app as ``module:attribute`` (a ``workers.Toolset``)."""

    redis_url: str | None = None
    """External Redis (``redis://``, ``rediss://``, ``unix://``); none → embedded Redis."""

    fleet: FleetName = "default"
    """Key namespace, so several fleets can share one Redis."""

    data_dir: str = ".mcpfleet"
    """State directory: embedded Redis files, runtime files."""

    workers: WorkerCount = 2
    """Number of worker processes."""

    fronts: FrontCount = 1
    """Number of HTTP front processes, all on ``front.http`` (each binds it with
    ``SO_REUSEPORT``; ADR-0015). ``mcpfleet up --stdio`` has exactly one front."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Threshold of the JSON logs every process writes to stderr."""

    front: FrontConfig = msgspec.field(default_factory=FrontConfig)
    worker: WorkerConfig = msgspec.field(default_factory=WorkerConfig)
    supervisor: SupervisorConfig = msgspec.field(default_factory=SupervisorConfig)


_SECTIONS: Final = frozenset({"front", "worker", "supervisor"})


def load_config(
    *,
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    config_path: str | None = None,
    cwd: Path | None = None,
) -> FleetConfig:
    """Resolve the configuration from file, environment and flags.

    Args:
        flags: values from the command line, keyed like the TOML (``{"front": {"http": …}}``
            for sections); ``None`` values are ignored.
        environ: the environment (default ``os.environ``).
        config_path: explicit config file (``--config``); it must exist.
        cwd: where ``mcpfleet.toml`` is looked for by default.

    Raises:
        ConfigError: unreadable file, unknown key or invalid value, naming where.
    """
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    path_text = config_path or env.get(CONFIG_ENV)
    path = Path(path_text) if path_text else (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
    if path_text or path.is_file():
        _merge(merged, _check_layer(_read_toml(path), f"config file {path}"))
    _merge(merged, _env_layer(env))
    _merge(merged, _check_layer(_drop_none(flags), "command line"))
    return _convert(merged, "configuration")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        parsed: Any = value
        if value[:1] in ("[", "{"):
            try:
                parsed = msgspec.json.decode(value)
            except msgspec.DecodeError:
                raise ConfigError(f"environment variable {name} is not valid JSON") from None
        section, sep, field = key.partition("__")
        if sep:
            if section not in _SECTIONS:
                raise ConfigError(f"unknown environment variable {name}: no section {section!r}")
            single: dict[str, Any] = {section: {field: parsed}}
        else:
            single = {key: parsed}
        _merge(layer, _check_layer(single, f"environment variable {name}"))
    return layer


def _check_layer(layer: dict[str, Any], source: str) -> dict[str, Any]:
    _convert(layer, source)
    return layer


def _convert(layer: dict[str, Any], source: str) -> FleetConfig:
    try:
        return msgspec.convert(layer, FleetConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid {source}: {exc}") from None


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, Mapping):
            into[key] = dict(value)
        else:
            into[key] = value


def _drop_none(flags: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flags.items():
        if isinstance(value, Mapping):
            nested = _drop_none(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out
