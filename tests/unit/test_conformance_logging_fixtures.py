"""The conformance suite's logging fixtures (``examples/conformance_logging.py``): the names
the suite calls, and the entries each one logs."""

from __future__ import annotations

import asyncio
import threading

from examples.conformance_logging import register
from workers import ToolContext, Toolset
from workers.call_log import CallLog


def _run(tool: str) -> tuple[object, list[tuple[str, str | None, bytes]]]:
    app = Toolset("fixtures", "0")
    register(app)
    sent: list[tuple[str, str | None, bytes]] = []
    ctx = ToolContext._for_runtime(
        request_id="r",
        tool=tool,
        progress_sink=None,
        cancel_flag=threading.Event(),
        call_log=CallLog(
            tool=tool, request_id="r", minimum="debug", sink=lambda *e: sent.append(e)
        ),
    )
    result = asyncio.run(app.tools[tool].fn(ctx=ctx))
    return result, sent


def test_register_adds_the_names_the_suite_calls() -> None:
    app = Toolset("fixtures", "0")
    register(app)
    assert list(app.tools) == ["test_tool_with_logging", "test_logging_tool"]
    assert all(not tool.args.struct.__struct_fields__ for tool in app.tools.values())


def test_tool_with_logging_sends_three_info_entries() -> None:
    result, sent = _run("test_tool_with_logging")
    assert result == "Tool with logging executed successfully"
    assert sent == [
        ("info", "test_tool_with_logging", b'"Tool execution started"'),
        ("info", "test_tool_with_logging", b'"Tool processing data"'),
        ("info", "test_tool_with_logging", b'"Tool execution completed"'),
    ]


def test_logging_tool_logs_at_several_levels() -> None:
    result, sent = _run("test_logging_tool")
    assert result == "Logging tool executed"
    assert [level for level, _, _ in sent] == ["debug", "info", "warning", "error"]
