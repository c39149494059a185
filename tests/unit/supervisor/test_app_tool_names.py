"""The settings that name the app's tools (``auth.tool_scopes``, ``limits.tool_rates``) are
checked against the tools it registers before ``mcpfleet up`` starts anything: a misspelt
name would leave the tool it meant open or unlimited."""

from __future__ import annotations

import pytest

from server import AuthConfig, LimitsConfig, ToolRate
from supervisor.app_loader import check_auth, check_limits
from supervisor.config import ConfigError
from workers import Toolset

app = Toolset("mcpfleet-tool-names", "0.0.1")


@app.tool()
async def report() -> str:
    """A tool the settings may name."""
    return "done"


def test_tool_rates_must_name_registered_tools() -> None:
    check_limits(LimitsConfig(tool_rates={"report": ToolRate(rate=1)}), app)
    check_limits(LimitsConfig(), app)
    limits = LimitsConfig(tool_rates={"report": ToolRate(rate=1), "reprot": ToolRate(rate=1)})
    unknown = r"\[limits\] tool_rates names tools the app does not register: reprot$"
    with pytest.raises(ConfigError, match=unknown):
        check_limits(limits, app)


def test_tool_scopes_must_name_registered_tools() -> None:
    check_auth(AuthConfig(tool_scopes={"report": ("ops:read",)}), app)
    with pytest.raises(ConfigError, match=r"\[auth\] tool_scopes names .*: a, b$"):
        check_auth(AuthConfig(tool_scopes={"b": (), "a": (), "report": ()}), app)
