"""The conformance suite's logging fixtures, registered on the fixture app
(``examples/conformance.py`` calls :func:`register`). The suite calls them by these names:

- ``test_tool_with_logging`` (scenario ``tools-call-with-logging``, handshake era): after
  ``logging/setLevel debug``, three ``info`` entries about 50 ms apart during the call;
- ``test_logging_tool`` (``server-stateless`` check ``sep-2575-server-no-log-without-loglevel``,
  2026-07-28): logs, and the server must send nothing for a request without a log level.
"""

from __future__ import annotations

import asyncio

from workers import ToolContext, Toolset

__all__ = ["register"]


async def test_tool_with_logging(ctx: ToolContext) -> str:
    """Send three info log messages during execution, about 50 ms apart."""
    ctx.log("info", "Tool execution started")
    await asyncio.sleep(0.05)
    ctx.log("info", "Tool processing data")
    await asyncio.sleep(0.05)
    ctx.log("info", "Tool execution completed")
    return "Tool with logging executed successfully"


async def test_logging_tool(ctx: ToolContext) -> str:
    """Log at every level; a request without a log level must receive none of it."""
    for level in ("debug", "info", "warning", "error"):
        ctx.log(level, f"test_logging_tool: a {level} message")
    return "Logging tool executed"


def register(app: Toolset) -> None:
    """Add the logging fixtures to ``app``."""
    app.tool(test_tool_with_logging)
    app.tool(test_logging_tool)
