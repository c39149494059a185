"""``[limits]`` as ``load_config`` resolves it: off by default, from the file, from the
documented environment names of issue 7 (``MCPFLEET_RATE_LIMIT_*``) and the generic
``MCPFLEET_LIMITS__*`` ones, and refused with errors that name the key."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from server import LimitsConfig, ToolRate
from supervisor.config import ConfigError, FleetConfig, load_config


def _load(tmp_path: Path, environ: dict[str, str] | None = None) -> FleetConfig:
    return load_config(flags={}, environ=environ or {}, cwd=tmp_path)


def test_every_limit_is_off_by_default(tmp_path: Path) -> None:
    limits = _load(tmp_path).limits
    assert limits == LimitsConfig()
    assert not limits.limits_rates
    assert (limits.rate, limits.global_rate, limits.tool_rates) == (0.0, 0.0, {})


def test_the_file_sets_rates_and_per_tool_buckets(tmp_path: Path) -> None:
    (tmp_path / "mcpfleet.toml").write_text(
        "[limits]\nrate = 2.5\nburst = 10\nglobal_rate = 100\n"
        "tool_rates = { report = { rate = 0.1, burst = 2 }, search = { rate = 5 } }\n",
        encoding="utf-8",
    )
    limits = _load(tmp_path).limits
    assert (limits.rate, limits.burst, limits.caller_burst) == (2.5, 10, 10)
    assert limits.fleet_burst == 100  # one second's worth
    assert limits.tool_rates == {
        "report": ToolRate(rate=0.1, burst=2),
        "search": ToolRate(rate=5.0),
    }
    assert limits.tool_rates["search"].bucket_burst == 5
    assert limits.limits_rates


def test_the_documented_environment_names(tmp_path: Path) -> None:
    limits = _load(
        tmp_path,
        {
            "MCPFLEET_RATE_LIMIT_RATE": "0.5",
            "MCPFLEET_RATE_LIMIT_BURST": "3",
            "MCPFLEET_LIMITS__TOOL_RATES": '{"report": {"rate": 1}}',
        },
    ).limits
    assert (limits.rate, limits.burst) == (0.5, 3)
    assert limits.tool_rates == {"report": ToolRate(rate=1.0)}


def test_a_fractional_rate_without_burst_holds_one_token(tmp_path: Path) -> None:
    assert _load(tmp_path, {"MCPFLEET_RATE_LIMIT_RATE": "0.2"}).limits.caller_burst == 1


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MCPFLEET_RATE_LIMIT_RATE": "-1"}, "$.limits.rate"),
        ({"MCPFLEET_LIMITS__TOOL_RATES": '{"t": {"rate": 0}}'}, "$.limits.tool_rates"),
        ({"MCPFLEET_LIMITS__TOOL_RATES": '{"t": {"rate": 1, "brust": 2}}'}, "brust"),
        ({"MCPFLEET_LIMITS__TOOL_RATES": '{"": {"rate": 1}}'}, "must not be empty"),
        ({"MCPFLEET_LIMITS__TRUSTED_PROXY_HOPS": "17"}, "$.limits.trusted_proxy_hops"),
        ({"MCPFLEET_LIMITS__RATES": "1"}, "rates"),
    ],
)
def test_bad_limits_name_the_variable_and_the_key(
    tmp_path: Path, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, environ)
    message = str(caught.value)
    assert next(iter(environ)) in message
    assert named in message


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MCPFLEET_RATE_LIMIT_BURST": "5"}, "limits.burst needs a limits.rate"),
        ({"MCPFLEET_LIMITS__GLOBAL_BURST": "5"}, "limits.global_burst needs a limits.global_rate"),
    ],
)
def test_a_burst_without_its_rate_is_refused_once_the_layers_merge(
    tmp_path: Path, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        _load(tmp_path, environ)


def test_limits_reach_the_children_unchanged(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        {"MCPFLEET_RATE_LIMIT_RATE": "4", "MCPFLEET_LIMITS__TOOL_RATES": '{"t": {"rate": 1}}'},
    )
    assert msgspec.json.decode(msgspec.json.encode(config), type=FleetConfig) == config


def test_the_lane_bound_from_its_documented_name_bounds_both_lanes(tmp_path: Path) -> None:
    limits = _load(tmp_path, {"MCPFLEET_MAX_QUEUED": "100"}).limits
    assert (limits.max_queued, limits.call_bound, limits.task_bound) == (100, 100, 100)
    assert limits.retry_after_s == 1
    assert limits.unready_when_full is True


def test_the_task_lane_may_have_a_bound_of_its_own_or_none(tmp_path: Path) -> None:
    own = _load(
        tmp_path, {"MCPFLEET_MAX_QUEUED": "100", "MCPFLEET_LIMITS__MAX_QUEUED_TASKS": "5000"}
    ).limits
    assert (own.call_bound, own.task_bound) == (100, 5000)
    unbounded = _load(
        tmp_path, {"MCPFLEET_MAX_QUEUED": "100", "MCPFLEET_LIMITS__MAX_QUEUED_TASKS": "0"}
    ).limits
    assert (unbounded.call_bound, unbounded.task_bound) == (100, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MCPFLEET_MAX_QUEUED", "-1"),
        ("MCPFLEET_LIMITS__RETRY_AFTER_S", "0"),
        ("MCPFLEET_LIMITS__UNREADY_WHEN_FULL", "maybe"),
    ],
)
def test_bad_lane_settings_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        _load(tmp_path, {name: value})
