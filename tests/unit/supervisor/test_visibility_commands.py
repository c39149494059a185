"""Which fleet ``mcpfleet tools|prompts|resources`` acts on: the configured Redis, or the
fleet ``mcpfleet up`` runs from the data directory."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from supervisor.config import ConfigError, FleetConfig
from supervisor.visibility_commands import running_fleet


def test_a_configured_redis_is_used_as_is(tmp_path: Path) -> None:
    config = FleetConfig(redis_url="redis://elsewhere:6380/0", fleet="blue", data_dir=str(tmp_path))
    assert running_fleet(config) is config


def test_without_one_the_fleet_running_from_the_data_directory(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    running = FleetConfig(
        app="examples.demo:app", redis_url="redis://:pw@127.0.0.1:5555/0", fleet="green"
    )
    (tmp_path / "run" / "fleet.json").write_bytes(msgspec.json.encode(running))
    found = running_fleet(FleetConfig(data_dir=str(tmp_path)))
    assert (found.redis_url, found.fleet, found.app) == (
        "redis://:pw@127.0.0.1:5555/0",
        "green",
        "examples.demo:app",
    )
    other_app = running_fleet(FleetConfig(data_dir=str(tmp_path), app="mine:app"))
    assert other_app.app == "mine:app"


def test_no_redis_and_no_running_fleet_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--redis URL") as info:
        running_fleet(FleetConfig(data_dir=str(tmp_path)))
    assert "fleet.json" in str(info.value)


def test_an_unreadable_running_configuration_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "fleet.json").write_bytes(b"{not json")
    with pytest.raises(ConfigError, match="cannot read the running fleet's configuration"):
        running_fleet(FleetConfig(data_dir=str(tmp_path)))
