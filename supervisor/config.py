"""``FleetConfig``: the one typed settings object every process receives.

Layers, in rising precedence: ``mcpfleet.toml`` (or ``--config PATH`` / ``MCPFLEET_CONFIG``),
``MCPFLEET_*`` environment variables, command-line flags. Unknown keys and bad values are
errors naming the key. Children get the resolved object as JSON, never pickled.

Environment names: ``MCPFLEET_<KEY>`` for top-level keys and ``MCPFLEET_<SECTION>__<KEY>``
for sectioned ones (``MCPFLEET_FRONT__MAX_BODY_BYTES=1048576``), plus the documented
aliases of ``ENV_ALIASES``. The value of a key that holds a list, a table or a struct is
JSON (``MCPFLEET_FRONT__ALLOWED_ORIGINS='["https://a"]'``); every other value is taken as
written, so a secret that starts with ``[`` or ``{`` stays that secret.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec

from proto import FleetError
from server import AuthConfig, FrontConfig, LimitsConfig
from workers.runtime import HEARTBEAT_TTL_INTERVALS, WorkerConfig

__all__ = [
    "ConfigError",
    "FleetConfig",
    "ScalingConfig",
    "SupervisorConfig",
    "WorkerRange",
    "load_config",
    "parse_worker_range",
]

ENV_PREFIX: Final = "MCPFLEET_"
CONFIG_ENV: Final = "MCPFLEET_CONFIG"
DEFAULT_CONFIG_FILE: Final = "mcpfleet.toml"

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
MAX_WORKERS: Final = 512
WorkerCount = Annotated[int, msgspec.Meta(ge=1, le=MAX_WORKERS)]
FrontCount = Annotated[int, msgspec.Meta(ge=1, le=64)]
AUTO_FRONTS_MAX: Final = 2
"""``fronts = "auto"``: one front per core, at most this many (ADR-0019)."""
ScalingInterval = Annotated[float, msgspec.Meta(ge=0.05)]
"""At least 50 ms: each check costs Redis two to four round trips."""
StatusInterval = Annotated[float, msgspec.Meta(ge=0.1)]
"""At least 100 ms: each status write is a Redis round trip."""
FleetName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]

HUNG_AFTER_INTERVALS: Final = 4
"""Default ``supervisor.hung_after_s``, in heartbeat intervals (ADR-0014)."""


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
    """Ceiling of the exponential backoff between restarts of a crashing child; also how
    long before a recycle whose replacement failed to start is tried again."""

    orphan_sweep_interval_s: PositiveFloat = 15.0
    """How often to settle calls held by workers with no live heartbeat (also at start)."""

    status_interval_s: StatusInterval = 1.0
    """How often the supervisor writes its status document for ``mcpfleet status`` (it
    expires after three intervals, so a dead supervisor shows as not running); at least
    0.1 s."""

    hung_after_s: PositiveFloat | None = None
    """A ready worker whose process is alive but whose latest heartbeat is older than this
    is hung: it is killed (SIGKILL) and replaced, its calls and tasks settled as after any
    exit. None: four heartbeat intervals (12 s by default), above any healthy jitter and
    below the heartbeat key's TTL of five, so the supervisor acts before the orphan sweep
    would take the calls of a process still alive. Must lie strictly between one and five
    ``worker.heartbeat_interval_s`` (ADR-0014)."""

    def hung_threshold_s(self, heartbeat_interval_s: float) -> float:
        """``hung_after_s``, or its default for workers beating every
        ``heartbeat_interval_s``."""
        if self.hung_after_s is not None:
            return self.hung_after_s
        return HUNG_AFTER_INTERVALS * heartbeat_interval_s


class ScalingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When the supervisor grows and shrinks the worker pool between ``workers``' MIN and
    MAX (``[scaling]``, ADR-0013). It does nothing when MIN equals MAX."""

    interval_s: ScalingInterval = 0.25
    """How often the supervisor reads the load signals from Redis and decides (at least
    0.05 s)."""

    up_wait_s: NonNegativeFloat = 0.5
    """Scale up once the oldest call no worker has taken waited this long (every worker
    runs ``worker.max_concurrent_calls``), or once calls have been waiting for a free sync
    thread inside the workers (none idle) this long."""

    up_task_wait_s: NonNegativeFloat = 1.0
    """Scale up once the oldest queued durable task waited this long (every task slot is
    busy). Ignored when ``worker.task_slots`` is 0."""

    calls_per_worker: NonNegativeInt = 0
    """Waiting calls one more worker is counted to take: a scale-up adds waiting calls /
    this (rounded up) workers, as many as MAX allows, less those still starting. 0: what
    one worker runs at once, the smaller of ``worker.max_concurrent_calls`` and
    ``worker.sync_threads``."""

    up_cooldown_s: NonNegativeFloat = 2.0
    """Least time between two scale-ups, so the workers just added take their share
    before the backlog is counted again."""

    idle_s: PositiveFloat = 30.0
    """Scale down once, for this long, some worker has had nothing in flight (no call, no
    task) and nothing has waited past the scale-up thresholds; any such wait restarts
    the count, so a scale-down never follows a scale-up sooner."""

    down_cooldown_s: NonNegativeFloat = 5.0
    """Least time between two scale-downs; each retires one idle worker, which drains."""


class WorkerRange(msgspec.Struct, frozen=True):
    """Bounds of the worker pool: it starts ``minimum`` workers and may grow to
    ``maximum``."""

    minimum: int
    maximum: int

    @property
    def is_fixed(self) -> bool:
        """True when the pool never scales (MIN = MAX)."""
        return self.minimum == self.maximum


def parse_worker_range(value: int | str) -> WorkerRange:
    """Read ``workers``: a count (``4``, ``"4"``) or a range (``"2-8"``).

    Raises:
        ValueError: not a count or ``MIN-MAX``, or outside 1 <= MIN <= MAX <= 512; the
            message names ``workers`` and the value.
    """
    if isinstance(value, int):
        low, dash, high = value, "", value
    else:
        first, dash, second = value.partition("-")
        try:
            low = int(first.strip())
            high = int(second.strip()) if dash else low
        except ValueError:
            raise ValueError(
                f"workers must be a count N or a range MIN-MAX (like 2-8), got {value!r}"
            ) from None
    if not dash and not 1 <= low <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, got {value!r}")
    if low < 1:
        raise ValueError(f"workers: the minimum must be at least 1, got {value!r}")
    if high > MAX_WORKERS:
        raise ValueError(f"workers: the maximum must be at most {MAX_WORKERS}, got {value!r}")
    if low > high:
        raise ValueError(f"workers: the minimum {low} is above the maximum {high}")
    return WorkerRange(low, high)


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

    workers: WorkerCount | str = 2
    """Worker processes: a fixed count ``N``, or ``"MIN-MAX"`` for a pool the supervisor
    scales between the two (``[scaling]``); 1 <= MIN <= MAX <= 512. Stored as an int when
    fixed, else as ``"MIN-MAX"``; read it through :attr:`worker_range`."""

    fronts: FrontCount | Literal["auto"] = "auto"
    """Number of HTTP front processes, all on ``front.http`` (each binds it with
    ``SO_REUSEPORT``; ADR-0015). ``"auto"``: two on a machine with two cores or more, else
    one (ADR-0019: the front is the first process to fill a core). ``mcpfleet up --stdio``
    has exactly one front; read it through :meth:`front_count`."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Threshold of the JSON logs every process writes to stderr."""

    front: FrontConfig = msgspec.field(default_factory=FrontConfig)
    worker: WorkerConfig = msgspec.field(default_factory=WorkerConfig)
    supervisor: SupervisorConfig = msgspec.field(default_factory=SupervisorConfig)
    scaling: ScalingConfig = msgspec.field(default_factory=ScalingConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)

    def __post_init__(self) -> None:
        # Validated here so every way of building the config checks it (msgspec turns
        # the ValueError into its ValidationError), and normalized so equal settings
        # compare equal: "4" and "4-4" are 4, " 2 - 8 " is "2-8".
        bounds = parse_worker_range(self.workers)
        normal: int | str = (
            bounds.minimum
            if bounds.minimum == bounds.maximum
            else f"{bounds.minimum}-{bounds.maximum}"
        )
        if normal != self.workers:
            msgspec.structs.force_setattr(self, "workers", normal)

    def front_count(self, *, stdio: bool = False) -> int:
        """How many front processes ``mcpfleet up`` starts: one on stdio, ``fronts`` when a
        number, else one per core up to :data:`AUTO_FRONTS_MAX`."""
        if stdio:
            return 1
        if isinstance(self.fronts, int):
            return self.fronts
        return max(1, min(AUTO_FRONTS_MAX, os.cpu_count() or 1))

    @property
    def worker_range(self) -> WorkerRange:
        """The worker pool's bounds (MIN = MAX for a fixed pool)."""
        return parse_worker_range(self.workers)


_SECTIONS: Final = frozenset({"front", "worker", "supervisor", "scaling", "auth", "limits"})

ENV_ALIASES: Final[Mapping[str, tuple[str, str]]] = {
    # [auth] (ADR-0016)
    "MCPFLEET_AUTH_JWT_SECRET": ("auth", "jwt_secret"),
    "MCPFLEET_AUTH_JWKS_URL": ("auth", "jwks_url"),
    "MCPFLEET_AUTH_PUBLIC_KEY_FILE": ("auth", "public_key_file"),
    "MCPFLEET_AUTH_ALGORITHMS": ("auth", "algorithms"),
    "MCPFLEET_AUTH_ISSUER": ("auth", "issuer"),
    "MCPFLEET_AUTH_AUDIENCE": ("auth", "audience"),
    # [limits] (ADR-0017)
    "MCPFLEET_RATE_LIMIT_RATE": ("limits", "rate"),
    "MCPFLEET_RATE_LIMIT_BURST": ("limits", "burst"),
    "MCPFLEET_MAX_QUEUED": ("limits", "max_queued"),
}
"""Documented environment names outside the ``MCPFLEET_<SECTION>__<KEY>`` scheme (issue
7's ``MCPFLEET_AUTH_JWT_SECRET`` and friends) → the (section, key) they set. Either
spelling works; the documented one is what docs/configuration.md shows."""


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
    return _check_consistent(_convert(merged, "configuration"))


def _check_consistent(config: FleetConfig) -> FleetConfig:
    """Checks across sections, on the merged result (a single layer may set one key of a
    pair and rely on another layer for the other).

    Raises:
        ConfigError: ``supervisor.hung_after_s`` outside its bounds; ``[auth]`` or
            ``[limits]`` keys that contradict each other.
    """
    auth_problem = config.auth.problem()
    if auth_problem is not None:
        raise ConfigError(f"invalid configuration: [auth] {auth_problem}")
    limits_problem = config.limits.inconsistency()
    if limits_problem is not None:
        raise ConfigError(f"invalid configuration: {limits_problem}")
    interval_s = config.worker.heartbeat_interval_s
    hung_after_s = config.supervisor.hung_after_s
    if hung_after_s is not None and not (
        interval_s < hung_after_s < HEARTBEAT_TTL_INTERVALS * interval_s
    ):
        raise ConfigError(
            f"invalid configuration: supervisor.hung_after_s ({hung_after_s:g}) must lie "
            f"between worker.heartbeat_interval_s ({interval_s:g}) and the heartbeat's TTL "
            f"({HEARTBEAT_TTL_INTERVALS * interval_s:g}), both excluded"
        )
    return config


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
        alias = ENV_ALIASES.get(name)
        section, sep, field = (alias[0], "__", alias[1]) if alias else key.partition("__")
        parsed: Any = value
        if value[:1] in ("[", "{") and _holds_json((section, field) if sep else (key,)):
            try:
                parsed = msgspec.json.decode(value)
            except msgspec.DecodeError:
                raise ConfigError(f"environment variable {name} is not valid JSON") from None
        if sep:
            if section not in _SECTIONS:
                raise ConfigError(f"unknown environment variable {name}: no section {section!r}")
            single: dict[str, Any] = {section: {field: parsed}}
        else:
            single = {key: parsed}
        _merge(layer, _check_layer(single, f"environment variable {name}"))
    return layer


_JSON_TYPES: Final = (
    msgspec.inspect.ListType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.TupleType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.DictType,
    msgspec.inspect.StructType,
)
"""The types whose environment value is JSON: none has a plain-text spelling (a
comma-separated ``algorithms`` is the field's own ``str`` alternative, split by
``AuthConfig``)."""


@functools.cache
def _holds_json(path: tuple[str, ...]) -> bool:
    """Whether the key at ``path`` (``("auth", "algorithms")``, ``("workers",)``) may hold
    a list, a table or a struct: only then is its environment value read as JSON. An
    unknown key is not (its value stays text, and the unknown key is reported)."""
    kind: msgspec.inspect.Type = msgspec.inspect.type_info(FleetConfig)
    for name in path:
        if not isinstance(kind, msgspec.inspect.StructType):
            return False
        found = [f.type for f in kind.fields if f.name == name]
        if not found:
            return False
        kind = found[0]
    alternatives = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
    return any(isinstance(alternative, _JSON_TYPES) for alternative in alternatives)


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
