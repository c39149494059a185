"""``load_config``: defaults, the file/env/flag layers and their precedence, and errors that
name the source and the key. Every call passes ``environ`` and ``cwd`` explicitly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from supervisor.config import (
    ConfigError,
    FleetConfig,
    ScalingConfig,
    WorkerRange,
    load_config,
    parse_worker_range,
)


def _load(
    tmp_path: Path,
    *,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    config_path: str | None = None,
) -> FleetConfig:
    return load_config(
        flags=flags or {}, environ=environ or {}, config_path=config_path, cwd=tmp_path
    )


def _write(tmp_path: Path, text: str, name: str = "mcpfleet.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, **kwargs)
    return str(info.value)


def test_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert config == FleetConfig()
    assert config.app is None
    assert config.redis_url is None
    assert config.fleet == "default"
    assert config.workers == 2
    assert config.fronts == "auto"
    assert config.log_level == "info"
    assert config.front.http == "127.0.0.1:8000"
    assert config.front.max_body_bytes == 4 * 1024 * 1024
    assert config.front.max_batch_requests == 64
    assert config.front.list_page_size == 100
    assert config.front.allowed_origins == ()
    assert config.front.accept_grace_s == 0.0
    assert config.front.graceful_timeout_s == 10.0
    assert config.worker.default_timeout_s == 60.0
    assert config.supervisor.restart_backoff_max_s == 10.0


def test_file_layer(tmp_path: Path) -> None:
    _write(
        tmp_path,
        """
app = "examples.demo:app"
fleet = "blue"
workers = 3

[front]
max_body_bytes = 1024
allowed_origins = ["https://app.example.com"]

[supervisor]
stop_timeout_s = 2.5
""",
    )
    config = _load(tmp_path)
    assert config.app == "examples.demo:app"
    assert config.fleet == "blue"
    assert config.workers == 3
    assert config.front.max_body_bytes == 1024
    assert config.front.allowed_origins == ("https://app.example.com",)
    assert config.front.path == "/mcp"  # untouched keys keep their defaults
    assert config.supervisor.stop_timeout_s == 2.5


def test_explicit_config_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "workers = 7\n", name="other.toml")
    _write(tmp_path, "workers = 3\n")
    assert _load(tmp_path, config_path=str(path)).workers == 7


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = _write(tmp_path, "workers = 5\n", name="from-env.toml")
    assert _load(tmp_path, environ={"MCPFLEET_CONFIG": str(path)}).workers == 5


def test_env_layer(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        environ={
            "MCPFLEET_WORKERS": "4",
            "MCPFLEET_FLEET": "green",
            "MCPFLEET_FRONT__MAX_BODY_BYTES": "2048",
            "MCPFLEET_FRONT__ALLOWED_ORIGINS": '["https://a.example", "https://b.example"]',
            "MCPFLEET_WORKER__DEFAULT_TIMEOUT_S": "1.5",
            "UNRELATED": "ignored",
            "PATH": "/usr/bin",
        },
    )
    assert config.workers == 4
    assert config.fleet == "green"
    assert config.front.max_body_bytes == 2048
    assert config.front.allowed_origins == ("https://a.example", "https://b.example")
    assert config.worker.default_timeout_s == 1.5


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    _write(tmp_path, 'workers = 3\nfleet = "file"\nlog_level = "debug"\n')
    environ = {"MCPFLEET_WORKERS": "4", "MCPFLEET_FLEET": "env"}
    config = _load(tmp_path, environ=environ, flags={"workers": 5})
    assert config.workers == 5
    assert config.fleet == "env"
    assert config.log_level == "debug"
    assert _load(tmp_path, environ=environ).workers == 4


def test_sections_merge_key_by_key_across_layers(tmp_path: Path) -> None:
    _write(tmp_path, '[front]\nhttp = "0.0.0.0:9000"\npath = "/file"\n')
    config = _load(
        tmp_path,
        environ={"MCPFLEET_FRONT__PATH": "/env", "MCPFLEET_FRONT__MAX_BODY_BYTES": "10"},
        flags={"front": {"max_body_bytes": 20}},
    )
    assert config.front.http == "0.0.0.0:9000"
    assert config.front.path == "/env"
    assert config.front.max_body_bytes == 20


def test_none_flags_are_ignored(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        environ={"MCPFLEET_WORKERS": "4", "MCPFLEET_FRONT__HTTP": "127.0.0.1:1"},
        flags={"workers": None, "app": None, "front": {"http": None}},
    )
    assert config.workers == 4
    assert config.front.http == "127.0.0.1:1"
    assert config.app is None


def test_missing_default_file_is_fine(tmp_path: Path) -> None:
    assert _load(tmp_path / "does-not-exist") == FleetConfig()


# --- errors ------------------------------------------------------------------------------


def test_unknown_top_level_key_in_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "workers = 2\nbogus_key = 1\n")
    message = _error(tmp_path)
    assert str(path) in message
    assert "bogus_key" in message


def test_unknown_section_key_in_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[front]\nno_such_setting = 1\n")
    message = _error(tmp_path)
    assert str(path) in message
    assert "no_such_setting" in message
    assert "front" in message


def test_invalid_value_type_in_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'workers = "many"\n')
    message = _error(tmp_path)
    assert str(path) in message
    assert "workers" in message


def test_bad_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, "workers = [\n")
    message = _error(tmp_path)
    assert str(path) in message
    assert "TOML" in message


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    message = _error(tmp_path, config_path=str(missing))
    assert str(missing) in message


def test_missing_config_file_named_by_environment(tmp_path: Path) -> None:
    missing = tmp_path / "gone.toml"
    message = _error(tmp_path, environ={"MCPFLEET_CONFIG": str(missing)})
    assert str(missing) in message


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        pytest.param({"MCPFLEET_BOGUS__X": "1"}, ["MCPFLEET_BOGUS__X", "bogus"], id="no-section"),
        pytest.param({"MCPFLEET_BOGUS": "1"}, ["MCPFLEET_BOGUS", "bogus"], id="unknown-key"),
        pytest.param(
            {"MCPFLEET_FRONT__NOPE": "1"}, ["MCPFLEET_FRONT__NOPE", "nope"], id="unknown-in-section"
        ),
        pytest.param({"MCPFLEET_WORKERS": "abc"}, ["MCPFLEET_WORKERS", "workers"], id="not-int"),
        pytest.param({"MCPFLEET_WORKERS": "0"}, ["MCPFLEET_WORKERS", "workers"], id="too-few"),
        pytest.param({"MCPFLEET_FRONTS": "65"}, ["MCPFLEET_FRONTS", "fronts"], id="many-fronts"),
        pytest.param(
            {"MCPFLEET_FRONT__MAX_BODY_BYTES": "-1"},
            ["MCPFLEET_FRONT__MAX_BODY_BYTES", "max_body_bytes"],
            id="negative-bytes",
        ),
        pytest.param(
            {"MCPFLEET_FRONT__ALLOWED_ORIGINS": '["unterminated"'},
            ["MCPFLEET_FRONT__ALLOWED_ORIGINS"],
            id="bad-json",
        ),
        pytest.param(
            {"MCPFLEET_LOG_LEVEL": "loud"}, ["MCPFLEET_LOG_LEVEL", "log_level"], id="bad-literal"
        ),
        pytest.param(
            {"MCPFLEET_FLEET": "has space"}, ["MCPFLEET_FLEET", "fleet"], id="bad-fleet-name"
        ),
    ],
)
def test_env_errors_name_the_variable_and_key(
    tmp_path: Path, environ: dict[str, str], names: list[str]
) -> None:
    message = _error(tmp_path, environ=environ)
    for name in names:
        assert name in message


@pytest.mark.parametrize(
    ("flags", "key"),
    [
        ({"workers": 0}, "workers"),
        ({"workers": 513}, "workers"),
        ({"fronts": 0}, "fronts"),
        ({"fronts": 65}, "fronts"),
        ({"front": {"accept_grace_s": -1.0}}, "accept_grace_s"),
        ({"front": {"max_body_bytes": 0}}, "max_body_bytes"),
        ({"front": {"max_batch_requests": 0}}, "max_batch_requests"),
        ({"front": {"list_page_size": 0}}, "list_page_size"),
        ({"front": {"list_page_size": 10_001}}, "list_page_size"),
        ({"supervisor": {"stop_timeout_s": -1.0}}, "stop_timeout_s"),
        ({"not_a_flag": 1}, "not_a_flag"),
    ],
)
def test_flag_errors_name_the_command_line_and_key(
    tmp_path: Path, flags: dict[str, Any], key: str
) -> None:
    message = _error(tmp_path, flags=flags)
    assert "command line" in message
    assert key in message


def test_a_bad_layer_is_reported_even_when_a_higher_layer_overrides_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "workers = 0\n")
    message = _error(tmp_path, flags={"workers": 3})
    assert str(path) in message


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "stored"),
    [
        (4, 4, 4, 4),
        ("4", 4, 4, 4),
        ("2-8", 2, 8, "2-8"),
        (" 2 - 8 ", 2, 8, "2-8"),
        ("3-3", 3, 3, 3),
        ("1-512", 1, 512, "1-512"),
    ],
)
def test_workers_is_a_count_or_a_range(
    tmp_path: Path, value: int | str, minimum: int, maximum: int, stored: int | str
) -> None:
    config = _load(tmp_path, flags={"workers": value})
    assert config.workers == stored
    assert config.worker_range == WorkerRange(minimum, maximum)
    assert config.worker_range.is_fixed is (minimum == maximum)


def test_workers_range_from_the_file_and_the_environment(tmp_path: Path) -> None:
    _write(tmp_path, 'workers = "2-8"\n')
    assert _load(tmp_path).worker_range == WorkerRange(2, 8)
    from_env = _load(tmp_path, environ={"MCPFLEET_WORKERS": "1-3"})
    assert from_env.worker_range == WorkerRange(1, 3)


def test_a_resolved_range_survives_the_trip_to_the_children(tmp_path: Path) -> None:
    config = _load(tmp_path, flags={"workers": "2-8"})
    again = msgspec.json.decode(msgspec.json.encode(config), type=FleetConfig)
    assert again == config
    assert again.worker_range == WorkerRange(2, 8)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "workers must be between 1 and 512, got '0'"),
        ("513", "workers must be between 1 and 512"),
        ("0-3", "the minimum must be at least 1"),
        ("3-2", "the minimum 3 is above the maximum 2"),
        ("1-600", "the maximum must be at most 512"),
        ("two", "workers must be a count N or a range MIN-MAX"),
        ("2-", "workers must be a count N or a range MIN-MAX"),
        ("-2", "workers must be a count N or a range MIN-MAX"),
        ("1-2-3", "workers must be a count N or a range MIN-MAX"),
    ],
)
def test_bad_worker_ranges_are_errors_naming_the_source(
    tmp_path: Path, value: str, message: str
) -> None:
    error = _error(tmp_path, environ={"MCPFLEET_WORKERS": value})
    assert "MCPFLEET_WORKERS" in error
    assert message in error
    assert message in _error(tmp_path, flags={"workers": value})


def test_parse_worker_range_directly() -> None:
    assert parse_worker_range("5-9") == WorkerRange(5, 9)
    with pytest.raises(ValueError, match="above the maximum"):
        parse_worker_range("9-5")


def test_scaling_section_defaults_and_layers(tmp_path: Path) -> None:
    defaults = _load(tmp_path).scaling
    assert defaults == ScalingConfig()
    assert defaults.interval_s == 0.25
    assert defaults.up_wait_s == 0.5
    assert defaults.idle_s == 30.0
    assert defaults.calls_per_worker == 0
    _write(tmp_path, "[scaling]\nidle_s = 60\nup_cooldown_s = 4\n")
    config = _load(
        tmp_path,
        environ={"MCPFLEET_SCALING__IDLE_S": "2.5", "MCPFLEET_SCALING__CALLS_PER_WORKER": "8"},
    )
    assert config.scaling.idle_s == 2.5
    assert config.scaling.up_cooldown_s == 4.0
    assert config.scaling.calls_per_worker == 8


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MCPFLEET_SCALING__INTERVAL_S", "0"),
        ("MCPFLEET_SCALING__UP_WAIT_S", "-1"),
        ("MCPFLEET_SCALING__IDLE_S", "0"),
        ("MCPFLEET_SCALING__CALLS_PER_WORKER", "-1"),
        ("MCPFLEET_SCALING__NOPE", "1"),
        ("MCPFLEET_SUPERVISOR__STATUS_INTERVAL_S", "0"),
        # Bounds that keep a tiny value from flooding Redis.
        ("MCPFLEET_SCALING__INTERVAL_S", "0.01"),
        ("MCPFLEET_SUPERVISOR__STATUS_INTERVAL_S", "0.05"),
        ("MCPFLEET_WORKER__HEARTBEAT_INTERVAL_S", "0.05"),
    ],
)
def test_bad_scaling_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    error = _error(tmp_path, environ={name: value})
    assert name in error
    assert name.rsplit("__", 1)[1].lower() in error


def test_the_interval_lower_bounds_are_accepted(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        environ={
            "MCPFLEET_SCALING__INTERVAL_S": "0.05",
            "MCPFLEET_SUPERVISOR__STATUS_INTERVAL_S": "0.1",
            "MCPFLEET_WORKER__HEARTBEAT_INTERVAL_S": "0.1",
            "MCPFLEET_SUPERVISOR__HUNG_AFTER_S": "0.2",
        },
    )
    assert config.scaling.interval_s == 0.05
    assert config.supervisor.status_interval_s == 0.1
    assert config.worker.heartbeat_interval_s == 0.1


# --- recovery and recycling (ADR-0014) -----------------------------------------------------


def test_recovery_keys_default_to_off_and_derived(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert (config.worker.max_calls, config.worker.max_rss_mb) == (0, 0)
    assert config.supervisor.hung_after_s is None
    # Four heartbeat intervals: 12 s at the default 3 s, and it follows the interval.
    assert config.supervisor.hung_threshold_s(config.worker.heartbeat_interval_s) == 12.0
    assert config.supervisor.hung_threshold_s(0.5) == 2.0


def test_recovery_keys_from_env(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        environ={
            "MCPFLEET_WORKER__MAX_CALLS": "1000",
            "MCPFLEET_WORKER__MAX_RSS_MB": "512",
            "MCPFLEET_SUPERVISOR__HUNG_AFTER_S": "7.5",
        },
    )
    assert (config.worker.max_calls, config.worker.max_rss_mb) == (1000, 512)
    assert config.supervisor.hung_threshold_s(config.worker.heartbeat_interval_s) == 7.5


@pytest.mark.parametrize("hung_after_s", ["3", "2", "15", "20"])
def test_hung_after_must_lie_between_one_interval_and_the_heartbeat_ttl(
    tmp_path: Path, hung_after_s: str
) -> None:
    message = _error(tmp_path, environ={"MCPFLEET_SUPERVISOR__HUNG_AFTER_S": hung_after_s})
    assert "supervisor.hung_after_s" in message
    assert "worker.heartbeat_interval_s (3)" in message and "TTL (15)" in message


def test_hung_after_is_checked_against_the_interval_from_another_layer(tmp_path: Path) -> None:
    # 1 s alone would be below the default 3 s interval; the file brings 0.3 s.
    _write(tmp_path, "[worker]\nheartbeat_interval_s = 0.3\n")
    config = _load(tmp_path, environ={"MCPFLEET_SUPERVISOR__HUNG_AFTER_S": "1"})
    assert config.supervisor.hung_after_s == 1.0


@pytest.mark.parametrize("key", ["MAX_CALLS", "MAX_RSS_MB"])
def test_recycling_limits_are_not_negative(tmp_path: Path, key: str) -> None:
    message = _error(tmp_path, environ={f"MCPFLEET_WORKER__{key}": "-1"})
    assert f"$.worker.{key.lower()}" in message


def test_the_metrics_path_is_a_path_of_its_own_or_empty(tmp_path: Path) -> None:
    assert _load(tmp_path).front.metrics_path == "/metrics"
    off = _load(tmp_path, environ={"MCPFLEET_FRONT__METRICS_PATH": ""})
    assert off.front.metrics_path == ""
    moved = _load(tmp_path, environ={"MCPFLEET_FRONT__METRICS_PATH": "/internal/metrics"})
    assert moved.front.metrics_path == "/internal/metrics"
    assert "start with '/'" in _error(tmp_path, flags={"front": {"metrics_path": "metrics"}})
    assert "taken" in _error(tmp_path, flags={"front": {"metrics_path": "/mcp"}})
    assert "taken" in _error(tmp_path, flags={"front": {"metrics_path": "/ready"}})


AUTH_SECRET = "s" * 40
AUTH_PROTECTED = {"MCPFLEET_AUTH_ISSUER": "https://i", "MCPFLEET_AUTH_AUDIENCE": "https://m/mcp"}
"""Beside a key, what every [auth] needs: an authorization server and an audience."""


def test_auth_is_off_by_default(tmp_path: Path) -> None:
    assert not _load(tmp_path).auth.enabled


def test_the_documented_auth_environment_names(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        environ={
            "MCPFLEET_AUTH_JWT_SECRET": AUTH_SECRET,
            "MCPFLEET_AUTH_ALGORITHMS": "HS256, RS256",
            "MCPFLEET_AUTH_JWKS_URL": "https://login.example.com/jwks",
            "MCPFLEET_AUTH_ISSUER": "https://login.example.com/",
            "MCPFLEET_AUTH_AUDIENCE": "https://mcp.example.com/mcp",
            "MCPFLEET_AUTH__LEEWAY_S": "30",
        },
    )
    auth = config.auth
    assert auth.enabled
    assert auth.jwt_secret == AUTH_SECRET
    assert auth.algorithms == ("HS256", "RS256")
    assert auth.jwks_url == "https://login.example.com/jwks"
    assert auth.issuer == "https://login.example.com/"
    assert auth.audience == "https://mcp.example.com/mcp"
    assert auth.leeway_s == 30
    file_config = _load(
        tmp_path,
        environ={"MCPFLEET_AUTH_PUBLIC_KEY_FILE": "/keys/issuer.pem", **AUTH_PROTECTED},
    )
    assert file_config.auth.public_key_file == "/keys/issuer.pem"


def test_auth_keys_are_checked_together_across_layers(tmp_path: Path) -> None:
    # The file names the algorithms, the environment the secret: checked once merged.
    _write(tmp_path, '[auth]\nalgorithms = ["HS512"]\nissuer = "https://i"\naudience = "a"\n')
    message = _error(tmp_path, environ={"MCPFLEET_AUTH_JWT_SECRET": AUTH_SECRET})
    assert "[auth] jwt_secret is 40 bytes; HS512 takes a secret of at least 64" in message
    assert AUTH_SECRET not in message
    ok = _load(tmp_path, environ={"MCPFLEET_AUTH_JWT_SECRET": "s" * 64})
    assert ok.auth.allowed_algorithms == ("HS512",)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MCPFLEET_AUTH_ALGORITHMS": "none"}, "'none' is never accepted"),
        ({"MCPFLEET_AUTH_ISSUER": "https://i"}, "[auth] is configured without a key"),
        (
            {"MCPFLEET_AUTH_PUBLIC_KEY_FILE": "k.pem", "MCPFLEET_AUTH_ALGORITHMS": "HS256"},
            "need jwt_secret",
        ),
        ({"MCPFLEET_AUTH__NO_SUCH_KEY": "1"}, "no_such_key"),
    ],
)
def test_bad_auth_settings_name_the_problem(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    assert message in _error(tmp_path, environ=environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"MCPFLEET_AUTH_JWT_SECRET": "s" * 64, "MCPFLEET_AUTH_ISSUER": "https://i"},
            "[auth] no audience to check tokens against: set audience",
        ),
        (
            {"MCPFLEET_AUTH_JWT_SECRET": "s" * 64, "MCPFLEET_AUTH_AUDIENCE": "a"},
            "[auth] no authorization server for the protected-resource metadata: set issuer",
        ),
    ],
)
def test_a_protected_resource_without_audience_or_authorization_server_is_refused(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    assert message in _error(tmp_path, environ=environ)


def test_the_audience_check_is_skipped_only_when_asked(tmp_path: Path) -> None:
    environ = {"MCPFLEET_AUTH_JWT_SECRET": "s" * 64, "MCPFLEET_AUTH_ISSUER": "https://i"}
    assert "insecure_skip_audience = true" in _error(tmp_path, environ=environ)
    _write(tmp_path, "[auth]\ninsecure_skip_audience = true\n")
    config = _load(tmp_path, environ=environ)
    assert config.auth.insecure_skip_audience
    assert config.auth.expected_audience is None
    env_flag = {**environ, "MCPFLEET_AUTH__INSECURE_SKIP_AUDIENCE": "true"}
    assert _load(tmp_path, environ=env_flag).auth.insecure_skip_audience


@pytest.mark.parametrize(
    "secret",
    ["[" + "s" * 63, "{" + "s" * 63, '["' + "s" * 62 + '"]', '{"a": "' + "s" * 60 + '"}'],
)
@pytest.mark.parametrize("name", ["MCPFLEET_AUTH_JWT_SECRET", "MCPFLEET_AUTH__JWT_SECRET"])
def test_a_text_value_is_never_read_as_json(tmp_path: Path, name: str, secret: str) -> None:
    # A secret may start with [ or {: only keys holding lists, tables or structs take JSON.
    config = _load(tmp_path, environ={name: secret, **AUTH_PROTECTED})
    assert config.auth.jwt_secret == secret
    assert _load(tmp_path, environ={"MCPFLEET_APP": "[mod:app"}).app == "[mod:app"


def test_list_and_table_values_are_json_and_algorithms_may_be_a_list(tmp_path: Path) -> None:
    environ = {
        "MCPFLEET_AUTH_JWT_SECRET": "s" * 64,
        "MCPFLEET_AUTH_JWKS_URL": "https://login.example.com/jwks",
        "MCPFLEET_AUTH__TOOL_SCOPES": '{"deploy": ["ops:deploy"]}',
        "MCPFLEET_AUTH_AUDIENCE": '["https://a/mcp", "https://b/mcp"]',
        "MCPFLEET_AUTH_ISSUER": "https://i",
    }
    comma = _load(tmp_path, environ={**environ, "MCPFLEET_AUTH_ALGORITHMS": "HS256,RS256"})
    listed = _load(tmp_path, environ={**environ, "MCPFLEET_AUTH_ALGORITHMS": '["HS256", "RS256"]'})
    for config in (comma, listed):
        assert config.auth.algorithms == ("HS256", "RS256")
        assert config.auth.tool_scopes == {"deploy": ("ops:deploy",)}
        assert config.auth.audience == ("https://a/mcp", "https://b/mcp")
    bad = {"MCPFLEET_AUTH__SCOPES_SUPPORTED": '["a"'}
    assert "MCPFLEET_AUTH__SCOPES_SUPPORTED is not valid JSON" in _error(tmp_path, environ=bad)


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 2), (8, 2), (None, 1)])
def test_auto_fronts_is_one_per_core_up_to_two(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, expected: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    config = FleetConfig()
    assert config.front_count() == expected
    assert config.front_count(stdio=True) == 1  # stdio serves one client through one front
    assert FleetConfig(fronts=3).front_count() == 3


def test_fronts_take_a_number_or_auto_from_the_environment(tmp_path: Path) -> None:
    assert _load(tmp_path, environ={"MCPFLEET_FRONTS": "auto"}).fronts == "auto"
    assert _load(tmp_path, environ={"MCPFLEET_FRONTS": "3"}).fronts == 3
    assert "MCPFLEET_FRONTS" in _error(tmp_path, environ={"MCPFLEET_FRONTS": "many"})
