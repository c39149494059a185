"""Ending the reply router's waits (the front's grace period is over): every waiting call
is woken without a reply, marked ended, and reported with its deadline for the workers;
calls already answered are left alone."""

from __future__ import annotations

import msgspec

from proto import ResultReply
from server.reply_router import ReplyRouter


def test_ending_the_waits_wakes_every_unanswered_call_and_reports_it() -> None:
    router = ReplyRouter()
    assert not router.closed
    with (
        router.expect(1, deadline_ms=1000) as waiting,
        router.expect(2, deadline_ms=2000) as answered,
    ):
        answered.reply = ResultReply(call_id=2, result=msgspec.Raw(b"{}"))
        answered.done.set()
        assert router.end_waits() == [(1, 1000)]
        assert router.closed
        assert waiting.done.is_set() and waiting.ended and waiting.reply is None
        assert not answered.ended
        assert router.end_waits() == []  # each call is reported once
