"""When a ``tools/call`` becomes a task in each protocol (mcp-protocol.md 10.1, 10.2), and how
a tool's task support shows in each revision's listing."""

from __future__ import annotations

import msgspec
import pytest
from msgspec import UNSET

from proto import (
    ALL_VERSIONS,
    MethodNotFoundError,
    MissingClientCapabilityError,
    TaskSupport,
    Tool,
)
from server.config import FrontConfig
from server.task_methods import task_mode
from server.tool_catalog import CatalogTool
from workers import ToolDefinitionError, Toolset


class NoArgs(msgspec.Struct):
    pass


def tool(support: TaskSupport) -> CatalogTool:
    listing = Tool(name=f"t-{support}", input_schema=msgspec.Raw(b'{"type":"object"}'))
    return CatalogTool(listing, NoArgs, 1.0, task_support=support)


def legacy(support: TaskSupport, task: object, version: str = "2025-11-25") -> bool:
    return task_mode(
        tool(support), version=version, task_param=task, extension_declared=False, modern=False
    )


def modern(support: TaskSupport, declared: bool, task: object = UNSET) -> bool:
    return task_mode(
        tool(support),
        version="2026-07-28",
        task_param=task,
        extension_declared=declared,
        modern=True,
    )


def test_2025_11_25_the_client_asks_within_the_tools_support() -> None:
    assert legacy(TaskSupport.OPTIONAL, {}) is True
    assert legacy(TaskSupport.REQUIRED, {"ttl": 5}) is True
    assert legacy(TaskSupport.OPTIONAL, UNSET) is False
    assert legacy(TaskSupport.FORBIDDEN, UNSET) is False
    with pytest.raises(MethodNotFoundError):
        legacy(TaskSupport.FORBIDDEN, {})
    with pytest.raises(MethodNotFoundError):
        legacy(TaskSupport.REQUIRED, UNSET)


def test_earlier_revisions_ignore_the_task_param() -> None:
    assert legacy(TaskSupport.OPTIONAL, {}, "2025-06-18") is False
    assert legacy(TaskSupport.FORBIDDEN, {}, "2025-03-26") is False
    with pytest.raises(MethodNotFoundError):
        legacy(TaskSupport.REQUIRED, {}, "2025-06-18")


def test_2026_07_28_the_server_decides_once_the_extension_is_declared() -> None:
    assert modern(TaskSupport.OPTIONAL, declared=True) is True
    assert modern(TaskSupport.REQUIRED, declared=True) is True
    assert modern(TaskSupport.OPTIONAL, declared=False) is False
    # A legacy task param never turns a plain tool into a task there.
    assert modern(TaskSupport.FORBIDDEN, declared=True, task={}) is False
    with pytest.raises(MissingClientCapabilityError) as refused:
        modern(TaskSupport.REQUIRED, declared=False)
    assert refused.value.data == {
        "requiredCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}
    }


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_execution_is_listed_at_2025_11_25_only(version: str) -> None:
    for support in TaskSupport:
        entry = msgspec.json.decode(msgspec.json.encode(tool(support).listing_for(version)))
        if version == "2025-11-25" and support is not TaskSupport.FORBIDDEN:
            assert entry["execution"] == {"taskSupport": support.value}
        else:
            assert "execution" not in entry


def test_task_retention_settings_are_checked() -> None:
    config = FrontConfig()
    assert (config.task_ttl_ms, config.task_poll_interval_ms) == (3_600_000, 1000)
    with pytest.raises(msgspec.ValidationError, match="task_ttl_ms must not exceed"):
        msgspec.convert({"task_ttl_ms": 10_000, "task_max_ttl_ms": 5_000}, FrontConfig)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"task_poll_interval_ms": 0}, FrontConfig)


def test_the_input_grace_is_bounded() -> None:
    assert FrontConfig().task_input_grace_ms == 300
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"task_input_grace_ms": 60_000}, FrontConfig)


def test_input_before_task_needs_a_task_support() -> None:
    app = Toolset("t", "0")
    with pytest.raises(ToolDefinitionError, match="input_before_task needs a task_support"):
        app.tool(name="bad", input_before_task=True)(lambda: "x")
    app.tool(name="ok", task_support="required", input_before_task=True)(lambda: "x")
    assert app.tools["ok"].input_before_task
