"""The conformance suite's task fixtures (``examples/conformance_tasks.py``, on
``examples.conformance:app``): the names the ``tasks-*`` scenarios call, with the task support
each needs (mcp-protocol.md 10.4); the scenarios themselves run in ``make conformance``."""

from __future__ import annotations

import asyncio

from examples import conformance_tasks as fixtures
from examples.conformance import app
from proto import TaskSupport


def test_each_fixture_is_registered_with_the_task_support_it_needs() -> None:
    expected = {
        "greet": TaskSupport.FORBIDDEN,
        "slow_compute": TaskSupport.OPTIONAL,
        "confirm_delete": TaskSupport.OPTIONAL,
        "multi_input": TaskSupport.OPTIONAL,
        "failing_job": TaskSupport.REQUIRED,
        "protocol_error_job": TaskSupport.OPTIONAL,
        "test_tool_with_task": TaskSupport.REQUIRED,
    }
    assert {name: app.tools[name].task_support for name in expected} == expected
    asking_first = [name for name in expected if app.tools[name].input_before_task]
    assert asking_first == ["test_tool_with_task"]


def test_the_plain_fixtures_answer_as_the_scenarios_check() -> None:
    assert fixtures.greet("World") == "Hello, World!"
    assert asyncio.run(fixtures.slow_compute(0, "instant")) == "Computed instant after 0 s"
