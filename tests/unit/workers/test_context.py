"""``ToolContext``: runtime-only construction, progress rules, cancellation."""

from __future__ import annotations

import threading
import time

import pytest

from proto import FleetError, Principal, VisibilityRequest
from tests.fixtures.waiting import wait_until
from workers import CancelledByClientError, ToolContext
from workers.call_log import CallLog

Report = tuple[float, float | None, str | None]


def _context(
    sink: list[Report] | None = None, cancel: threading.Event | None = None
) -> ToolContext:
    return ToolContext._for_runtime(
        request_id="req-1",
        tool="echo",
        progress_sink=None if sink is None else lambda d, t, m: sink.append((d, t, m)),
        cancel_flag=cancel or threading.Event(),
    )


def test_cannot_be_built_directly() -> None:
    with pytest.raises(TypeError):
        ToolContext(request_id="r", tool="t", progress_sink=None, cancel_flag=threading.Event())
    with pytest.raises(TypeError):
        ToolContext(
            request_id="r",
            tool="t",
            progress_sink=None,
            cancel_flag=threading.Event(),
            _token=object(),
        )


def test_runtime_context_attributes() -> None:
    ctx = _context()
    assert ctx.request_id == "req-1"
    assert ctx.tool == "echo"


def test_first_report_is_sent_with_its_values() -> None:
    sent: list[Report] = []
    _context(sent).progress(1, 10, "one of ten")
    assert sent == [(1, 10, "one of ten")]


@pytest.mark.parametrize("second", [5.0, 4.9, 0.0, -1.0])
def test_progress_that_does_not_increase_is_dropped(second: float) -> None:
    sent: list[Report] = []
    ctx = _context(sent)
    ctx.progress(5, 100)
    ctx.progress(second, 100)
    assert sent == [(5, 100, None)]


def test_final_report_passes_even_right_after_another() -> None:
    sent: list[Report] = []
    ctx = _context(sent)
    ctx.progress(1, 10)
    ctx.progress(10, 10, "done")
    assert sent == [(1, 10, None), (10, 10, "done")]


def test_report_beyond_total_counts_as_final() -> None:
    sent: list[Report] = []
    ctx = _context(sent)
    ctx.progress(1, 10)
    ctx.progress(12, 10)
    assert sent[-1] == (12, 10, None)


def test_a_final_report_that_does_not_increase_is_still_dropped() -> None:
    sent: list[Report] = []
    ctx = _context(sent)
    ctx.progress(10, 10)
    ctx.progress(10, 10)
    ctx.progress(9, 9)
    assert sent == [(10, 10, None)]


def test_sent_reports_are_strictly_increasing() -> None:
    sent: list[Report] = []
    ctx = _context(sent)
    for done in [1, 3, 2, 3, 7, 7, 8, 5, 20]:
        ctx.progress(done, 20)
    values = [done for done, _, _ in sent]
    assert values == sorted(set(values))
    assert values[0] == 1
    assert values[-1] == 20


def test_a_second_report_within_50_ms_is_coalesced_away() -> None:
    sent: list[Report] = []
    ctx = _context(sent)
    before = time.monotonic()
    ctx.progress(1, 10)
    sent_by = time.monotonic()
    ctx.progress(2, 10, "too soon")
    assert time.monotonic() - before < 0.05  # else this run cannot tell
    assert sent == [(1, 10, None)]
    wait_until(lambda: time.monotonic() - sent_by > 0.05, deadline_s=1, what="50 ms")
    ctx.progress(3, 10, "later")
    assert sent == [(1, 10, None), (3, 10, "later")]


def test_no_sink_is_a_no_op() -> None:
    ctx = _context(None)
    assert ctx.progress(1, 2, "x") is None
    assert ctx.progress(2, 2) is None


def test_cancellation_follows_the_flag() -> None:
    flag = threading.Event()
    ctx = _context(cancel=flag)
    assert ctx.cancelled is False
    assert ctx.check_cancelled() is None
    flag.set()
    assert ctx.cancelled is True
    with pytest.raises(CancelledByClientError) as info:
        ctx.check_cancelled()
    assert isinstance(info.value, FleetError)


def test_log_goes_to_the_calls_log() -> None:
    sent: list[tuple[str, str | None, bytes]] = []
    call_log = CallLog(
        tool="echo", request_id="req-1", minimum="info", sink=lambda *e: sent.append(e)
    )
    ctx = ToolContext._for_runtime(
        request_id="req-1",
        tool="echo",
        progress_sink=None,
        cancel_flag=threading.Event(),
        call_log=call_log,
    )
    ctx.log("debug", "below the client's level")
    ctx.log("info", "hello", {"n": 1})
    assert sent == [("info", "echo", b'{"message":"hello","data":{"n":1}}')]
    with pytest.raises(ValueError, match="unknown log level"):
        ctx.log("loud", "x")  # type: ignore[arg-type]


def test_log_without_a_client_sink_is_still_fine() -> None:
    assert _context().log("warning", "only the worker sees this") is None


def test_the_principal_is_the_calls() -> None:
    ctx = ToolContext._for_runtime(
        request_id="r",
        tool="t",
        progress_sink=None,
        cancel_flag=threading.Event(),
        principal=Principal.local("alice"),
    )
    assert ctx.principal == Principal.local("alice")
    assert ctx.principal.name == "local:alice"


def test_a_call_without_a_principal_is_anonymous() -> None:
    # From a front that predates principals.
    assert _context().principal == Principal.anonymous()
    assert _context().principal.is_anonymous


def test_resource_updated_announces_the_uri() -> None:
    announced: list[str] = []
    ctx = ToolContext._for_runtime(
        request_id="r",
        tool="t",
        progress_sink=None,
        cancel_flag=threading.Event(),
        announce=announced.append,
    )
    ctx.resource_updated("test://a")
    ctx.resource_updated("test://a")  # every change is announced: each may matter
    assert announced == ["test://a", "test://a"]
    with pytest.raises(ValueError, match="URI"):
        ctx.resource_updated("")
    _context().resource_updated("test://b")  # nowhere to announce: nothing happens


Requested = tuple[VisibilityRequest, dict[str, tuple[str, ...]]]


def _switching(requested: list[Requested]) -> ToolContext:
    return ToolContext._for_runtime(
        request_id="r",
        tool="t",
        progress_sink=None,
        cancel_flag=threading.Event(),
        visibility=lambda request, items: requested.append((request, dict(items))),
    )


def test_enable_disable_and_toggle_name_items_by_list() -> None:
    requested: list[Requested] = []
    ctx = _switching(requested)
    ctx.enable(tools="beta")  # one item: a string, not its characters
    ctx.disable(prompts=["plan", "draft"], resources=("items://{id}",))
    ctx.toggle(tools=iter(["a", "b"]))
    assert requested == [
        (VisibilityRequest.ENABLE, {"tools": ("beta",)}),
        (VisibilityRequest.DISABLE, {"prompts": ("plan", "draft"), "resources": ("items://{id}",)}),
        (VisibilityRequest.TOGGLE, {"tools": ("a", "b")}),
    ]


def test_a_request_naming_nothing_is_not_sent() -> None:
    requested: list[Requested] = []
    _switching(requested).enable()
    _switching(requested).disable(tools=[])
    assert requested == []


@pytest.mark.parametrize("items", ["", [""], [3]])
def test_items_are_named_by_non_empty_strings(items: object) -> None:
    with pytest.raises(ValueError, match="non-empty strings"):
        _switching([]).disable(tools=items)  # type: ignore[arg-type]  # what untyped code passes


def test_without_a_fleet_a_request_does_nothing() -> None:
    _context().disable(tools="anything")  # a context built without the runtime's sink
