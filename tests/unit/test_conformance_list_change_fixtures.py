"""The conformance suite's list-change fixtures (``examples/conformance_list_changes.py``,
on ``examples.conformance:app``): the triggers the suite calls by name, and the items they
toggle, registered turned off so each call really changes a list."""

from __future__ import annotations

import threading

from examples import conformance_list_changes as fixtures
from examples.conformance import app
from examples.conformance_list_changes import TOGGLED_PROMPT, TOGGLED_TOOL
from proto import VisibilityRequest
from workers import ToolContext

Requested = tuple[VisibilityRequest, dict[str, tuple[str, ...]]]


def _context(requested: list[Requested]) -> ToolContext:
    return ToolContext._for_runtime(
        request_id="r",
        tool="trigger",
        progress_sink=None,
        cancel_flag=threading.Event(),
        visibility=lambda request, items: requested.append((request, dict(items))),
    )


def test_the_triggers_take_no_arguments() -> None:
    for name in ("test_trigger_tool_change", "test_trigger_prompt_change"):
        assert app.tools[name].enabled
        assert app.tools[name].args.schema.get("properties", {}) == {}


def test_the_toggled_items_start_turned_off() -> None:
    assert app.tools[TOGGLED_TOOL].enabled is False
    assert app.prompts[TOGGLED_PROMPT].enabled is False


def test_each_trigger_toggles_its_item() -> None:
    requested: list[Requested] = []
    fixtures.test_trigger_tool_change(_context(requested))  # not collected: an attribute
    fixtures.test_trigger_prompt_change(_context(requested))
    assert requested == [
        (VisibilityRequest.TOGGLE, {"tools": (TOGGLED_TOOL,)}),
        (VisibilityRequest.TOGGLE, {"prompts": (TOGGLED_PROMPT,)}),
    ]
