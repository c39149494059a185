"""Why a child exited: the supervisor's own reason wins, else the exit code tells."""

from __future__ import annotations

import pytest

from supervisor.child_slot import ExitReason, exit_reason


@pytest.mark.parametrize(
    ("code", "requested", "expected"),
    [
        (0, None, ExitReason.EXITED),
        (1, None, ExitReason.CRASHED),
        (3, None, ExitReason.CRASHED),
        (-9, None, ExitReason.KILLED),
        (-15, None, ExitReason.KILLED),
        (-9, ExitReason.HUNG, ExitReason.HUNG),
        (0, ExitReason.RECYCLED, ExitReason.RECYCLED),
        (0, ExitReason.STOPPED, ExitReason.STOPPED),
        (-9, ExitReason.NOT_READY, ExitReason.NOT_READY),
    ],
)
def test_exit_reason(code: int, requested: ExitReason | None, expected: ExitReason) -> None:
    assert exit_reason(code, requested) is expected
