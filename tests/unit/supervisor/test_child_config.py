"""What each child is handed (``supervisor/child_config.py``): fronts the whole
configuration, workers the configuration without ``[auth]`` and an environment without
the ``MCPFLEET_AUTH_*`` variables, both in files only the fleet's user can read."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec

from server import AuthConfig, LimitsConfig
from supervisor.child_config import worker_config, worker_environ, write_child_configs
from supervisor.config import FleetConfig
from supervisor.entrypoints import read_child_config

SECRET = "top-secret-" + "s" * 60
CONFIG = FleetConfig(
    app="examples.demo:app",
    redis_url="redis://:redis-password@127.0.0.1:16399/0",
    auth=AuthConfig(jwt_secret=SECRET, issuer="https://i", audience="https://m/mcp"),
    limits=LimitsConfig(rate=5),
)


def test_a_worker_gets_the_configuration_without_auth() -> None:
    config = worker_config(CONFIG)
    assert config.auth == AuthConfig()
    assert not config.auth.enabled
    # Everything else is the workers' as it was: they need Redis and the rest.
    assert msgspec.structs.replace(config, auth=CONFIG.auth) == CONFIG


def test_the_worker_file_carries_no_secret_and_the_front_file_all(tmp_path: Path) -> None:
    paths = write_child_configs(CONFIG, tmp_path)
    worker_bytes = Path(paths.worker).read_bytes()
    assert SECRET.encode() not in worker_bytes
    assert read_child_config(paths.worker).auth.jwt_secret is None
    assert read_child_config(paths.worker).redis_url == CONFIG.redis_url
    assert read_child_config(paths.front) == CONFIG
    for path in paths:
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600


def test_files_left_readable_by_an_older_run_are_made_private(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    for name in ("fleet.json", "worker.json"):
        (tmp_path / "run" / name).write_bytes(b"{}")
        (tmp_path / "run" / name).chmod(0o644)
    for path in write_child_configs(CONFIG, tmp_path):
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600


def test_a_worker_environment_lacks_the_auth_variables() -> None:
    environ = {
        "MCPFLEET_AUTH_JWT_SECRET": SECRET,
        "MCPFLEET_AUTH__JWT_SECRET": SECRET,
        "MCPFLEET_AUTH_ISSUER": "https://i",
        "MCPFLEET_REDIS_URL": "redis://127.0.0.1:16399/0",
        "PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics",
        "PATH": "/usr/bin",
    }
    assert worker_environ(environ) == {
        "MCPFLEET_REDIS_URL": "redis://127.0.0.1:16399/0",
        "PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics",
        "PATH": "/usr/bin",
    }
