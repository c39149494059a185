"""The conformance suite's fixtures for durable tasks (the ``tasks-*`` scenarios of the
2026-07-28 extension, mcp-protocol.md 10.4), registered on the fixture app
(``examples/conformance.py`` calls :func:`register`).

- ``greet``: never a task;
- ``slow_compute``: sleeps ``seconds``; a task when the client takes one (``seconds: 0``
  too: the suite accepts either answer);
- ``confirm_delete``, ``multi_input``: tasks asking the user once, and twice at once
  (``tasks/get`` lists the requests, ``tasks/update`` answers them);
- ``failing_job``: only a task; ends with a tool error (``completed`` with ``isError``);
- ``protocol_error_job``: a task that ends ``failed`` with a JSON-RPC error: it asks for
  the client's roots, which no client in those scenarios declares (-32021);
- ``test_tool_with_task``: only a task, asking the user's name by a round of the creating
  call before the client gets the task (``input_before_task``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from workers import ToolContext, ToolError, Toolset, elicitation_request

__all__ = ["register"]

_CONFIRM_FORM: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean", "description": "Delete it?"}},
    "required": ["confirm"],
}

_NAME_FORM: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"name": {"type": "string", "description": "Your name"}},
    "required": ["name"],
}


def greet(name: str) -> str:
    """Greet someone."""
    return f"Hello, {name}!"


async def slow_compute(seconds: float = 1.0, label: str = "") -> str:
    """Wait ``seconds``, then report it."""
    await asyncio.sleep(max(seconds, 0.0))
    return f"Computed {label or 'result'} after {seconds:g} s"


async def confirm_delete(ctx: ToolContext, filename: str = "file.txt") -> str:
    """Ask the user to confirm, then (pretend to) delete the file."""
    answer = await ctx.elicit(f"Delete {filename}?", _CONFIRM_FORM, key="confirm")
    if answer.accepted and (answer.content or {}).get("confirm"):
        return f"Deleted {filename}"
    return f"Kept {filename}"


async def multi_input(ctx: ToolContext) -> str:
    """Ask two things at once."""
    answers = await ctx.ask(
        {
            "first": elicitation_request("First answer?", _NAME_FORM),
            "second": elicitation_request("Second answer?", _NAME_FORM),
        }
    )
    names = [str((answer.content or {}).get("name", "")) for answer in answers.values()]
    return "Answers: " + ", ".join(names)


async def failing_job() -> str:
    """Always fails, as a tool (an execution error)."""
    await asyncio.sleep(0.2)
    raise ToolError("The job failed (as it always does)")


async def protocol_error_job(ctx: ToolContext) -> str:
    """Ends with a JSON-RPC error: it needs the client's roots, which no client of the
    suite's task scenarios declares (-32021, Missing Required Client Capability)."""
    roots = await ctx.list_roots()
    return f"{len(roots)} roots"


async def test_tool_with_task(ctx: ToolContext) -> str:
    """Ask the user's name first, then work on it as a task."""
    answer = await ctx.elicit("What is your name?", _NAME_FORM, key="user_name")
    name = (answer.content or {}).get("name", "stranger")
    await asyncio.sleep(0.1)
    return f"Hello, {name}! (from a task)"


def register(app: Toolset) -> None:
    """Register the task fixtures on ``app``."""
    app.tool(greet)
    app.tool(slow_compute, task_support="optional")
    app.tool(confirm_delete, task_support="optional")
    app.tool(multi_input, task_support="optional")
    app.tool(failing_job, task_support="required")
    app.tool(protocol_error_job, task_support="optional")
    app.tool(test_tool_with_task, task_support="required", input_before_task=True)
