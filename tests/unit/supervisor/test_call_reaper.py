"""Which lost calls run again (ADR-0014): an idempotent tool's, with runs and time left."""

from __future__ import annotations

import msgspec
import pytest

from proto import CallMessage
from supervisor.call_reaper import next_run

NOW_MS = 1_800_000_000_000


def _call(*, run: int = 1, max_runs: int = 3, deadline_ms: int = NOW_MS + 30_000) -> CallMessage:
    return CallMessage(
        call_id=7,
        front_id="front-0-abc",
        tool="lookup",
        arguments=msgspec.Raw(b'{"q":1}'),
        protocol_version="2026-07-28",
        deadline_ms=deadline_ms,
        request_id="req-1",
        cancel_key='s "7"',
        run=run,
        max_runs=max_runs,
    )


def test_the_next_run_is_the_same_call_counted_once_more() -> None:
    call = _call()
    following = next_run(call, NOW_MS)
    assert following == msgspec.structs.replace(call, run=2)
    # What the waiting front and a cancel match on is unchanged.
    assert following is not None
    assert (following.call_id, following.front_id, following.cancel_key) == (
        7,
        "front-0-abc",
        's "7"',
    )
    assert following.deadline_ms == call.deadline_ms


@pytest.mark.parametrize(("run", "expected"), [(1, 2), (2, 3), (3, None)])
def test_at_most_max_runs_in_all(run: int, expected: int | None) -> None:
    following = next_run(_call(run=run), NOW_MS)
    assert (None if following is None else following.run) == expected


def test_a_call_that_may_run_once_is_never_redelivered() -> None:
    # Not idempotent, or from a front that predates redelivery (max_runs defaults to 1).
    assert next_run(_call(max_runs=1), NOW_MS) is None


@pytest.mark.parametrize("deadline_ms", [NOW_MS, NOW_MS - 1])
def test_a_call_whose_caller_stopped_waiting_is_not_redelivered(deadline_ms: int) -> None:
    assert next_run(_call(deadline_ms=deadline_ms), NOW_MS) is None
