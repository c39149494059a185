"""The conformance suite's list-change fixtures (2026-07-28 scenario ``server-stateless``),
registered on the fixture app (``examples/conformance.py`` calls :func:`register`).

The suite opens a ``subscriptions/listen`` stream, calls ``test_trigger_tool_change`` or
``test_trigger_prompt_change`` (no arguments), and expects
``notifications/tools/list_changed`` / ``notifications/prompts/list_changed`` on the stream
(and no tools change on a stream that asked only for prompts). Each trigger really changes
its list: it toggles an item registered turned off (ADR-0010), so every call flips it, on
whichever worker it runs, and the fleet announces the change to every listening client.
"""

from __future__ import annotations

from typing import Final

from workers import ToolContext, Toolset

__all__ = ["TOGGLED_PROMPT", "TOGGLED_TOOL", "register"]

TOGGLED_TOOL: Final = "test_toggled_tool"
"""The tool ``test_trigger_tool_change`` turns on and off (registered off)."""

TOGGLED_PROMPT: Final = "test_toggled_prompt"
"""The prompt ``test_trigger_prompt_change`` turns on and off (registered off)."""


def test_trigger_tool_change(ctx: ToolContext) -> str:
    """Change the tool list: turn test_toggled_tool on if it is off, off if it is on."""
    ctx.toggle(tools=TOGGLED_TOOL)
    return f"Toggled {TOGGLED_TOOL}: the tool list changed"


def test_trigger_prompt_change(ctx: ToolContext) -> str:
    """Change the prompt list: turn test_toggled_prompt on if it is off, off if it is on."""
    ctx.toggle(prompts=TOGGLED_PROMPT)
    return f"Toggled {TOGGLED_PROMPT}: the prompt list changed"


def test_toggled_tool() -> str:
    """A tool that comes and goes (test_trigger_tool_change)."""
    return "Here while toggled on."


def test_toggled_prompt() -> str:
    """A prompt that comes and goes (test_trigger_prompt_change)."""
    return "Here while toggled on."


def register(app: Toolset) -> None:
    """Add the two triggers and the items they toggle to ``app``."""
    app.tool(test_trigger_tool_change)
    app.tool(test_trigger_prompt_change)
    app.tool(name=TOGGLED_TOOL, read_only=True, enabled=False)(test_toggled_tool)
    app.prompt(name=TOGGLED_PROMPT, enabled=False)(test_toggled_prompt)
