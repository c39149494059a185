"""Progress relayed to the client only while it increases (mcp-protocol.md 9.1, checklist
31), also across a call's runs: a call redelivered after its worker was lost (ADR-0014)
starts counting again on the new worker."""

from __future__ import annotations

import json

from proto import ProgressMessage
from server.dispatch import _progress_reporter


def test_progress_that_does_not_increase_is_dropped() -> None:
    sent: list[bytes] = []
    reporter = _progress_reporter("tok", sent.append)
    assert reporter is not None
    token, on_progress = reporter
    assert token == "tok"
    # First run: 1, 2; lost; second run: 1, 2 again (dropped), then 3.
    for value in (1.0, 2.0, 1.0, 2.0, 3.0):
        on_progress(ProgressMessage(call_id=1, progress=value, total=3.0))
    values = [json.loads(m)["params"]["progress"] for m in sent]
    assert values == [1.0, 2.0, 3.0]


def test_no_token_or_no_stream_means_no_progress() -> None:
    assert _progress_reporter(7, None) is None
