"""The progress flow: one call of a progress-reporting tool with a ``progressToken``; for
each ``notifications/progress`` received, latency = receipt time - the time the worker
reported it. The bench app's ``progress_probe`` tool puts ``time.time_ns()`` at report time
into each notification's message (worker and client share one clock on one machine)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from bench.loadgen.closed_loop import percentile
from bench.loadgen.http_wire import Connection, ConnectionClosed, Endpoint, WireError
from bench.loadgen.mcp_flows import Session, SetupError, close_session, open_session
from bench.loadgen.workloads import ERAS, ExpectTextPrefix


@dataclass
class ProgressResult:
    """Report -> receipt latencies of one or more progress-reporting calls."""

    era: str
    steps: int
    interval_ms: float
    notifications: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-able dict."""
        return asdict(self)


def run_progress(
    url: str,
    era: str,
    steps: int,
    interval_ms: float,
    *,
    calls: int = 1,
    tool: str = "progress_probe",
) -> ProgressResult:
    """Call ``tool(steps=, interval_ms=)`` ``calls`` times in a row with a progress token
    and measure each notification's report -> receipt latency. ``interval_ms`` should be at
    least 50 (mcpfleet coalesces closer reports). Never raises on bad replies (counted in
    ``errors``; a notification whose message is not a ``time_ns`` stamp is ``bad_stamp``).

    Raises:
        ValueError: an unknown era or steps/calls below 1.
    """
    if era not in ERAS:
        raise ValueError(f"era must be one of {ERAS}, not {era!r}")
    if steps < 1 or calls < 1:
        raise ValueError("steps and calls must be at least 1")
    conn = Connection(Endpoint.from_url(url), timeout_s=60.0 + steps * interval_ms / 1000)
    probe = _Probe()
    try:
        session = open_session(conn, era)
    except (OSError, WireError, ConnectionClosed, SetupError) as exc:
        conn.close()
        probe.error("setup", repr(exc))
        return probe.result(era, steps, interval_ms)
    try:
        for _ in range(calls):
            try:
                probe.call(conn, session, tool, steps, interval_ms)
            except (OSError, WireError, ConnectionClosed) as exc:
                probe.error("connection", repr(exc))
                conn.close()
    finally:
        close_session(conn, session)
        conn.close()
    return probe.result(era, steps, interval_ms)


class _Probe:
    """Latencies and errors of the probe calls so far."""

    def __init__(self) -> None:
        self.latencies_ns: list[int] = []
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {detail}")

    def call(
        self, conn: Connection, session: Session, tool: str, steps: int, interval_ms: float
    ) -> None:
        """One probe call: every progress notification timed, the final result checked."""
        request_id = session.take_id()
        token = f"probe-{request_id}"
        params = {"name": tool, "arguments": {"steps": steps, "interval_ms": interval_ms}}
        request = session.request(
            "tools/call", params, request_id=request_id, name=tool, progress_token=token
        )
        answered = False
        for received_ns, data in conn.stream(request):
            try:
                message = msgspec.json.decode(data)
            except msgspec.DecodeError:
                self.error("bad_json", data[:200].decode(errors="replace"))
                continue
            if not isinstance(message, dict):
                self.error("bad_reply", str(message)[:200])
            elif message.get("method") == "notifications/progress":
                self._progress(message, token, received_ns)
            elif "id" in message:
                answered = True
                self._final(message, request_id, steps)
        if not answered:
            self.error("no_response", f"no response to {request_id}")

    def _progress(self, message: dict[str, Any], token: str, received_ns: int) -> None:
        params = message.get("params") or {}
        if params.get("progressToken") != token:
            self.error("wrong_token", str(params)[:200])
            return
        try:
            reported_ns = int(params.get("message", ""))
        except ValueError:
            self.error("bad_stamp", str(params)[:200])
            return
        self.latencies_ns.append(received_ns - reported_ns)

    def _final(self, message: dict[str, Any], request_id: int, steps: int) -> None:
        if message.get("id") != request_id:
            self.error("id_mismatch", f"sent {request_id}, got {message.get('id')!r}")
            return
        if "error" in message:
            error = message["error"]
            self.error(f"jsonrpc_{error.get('code')}", str(error)[:200])
            return
        result = message.get("result")
        if not isinstance(result, dict) or result.get("isError"):
            self.error("tool_error", str(result)[:200])
            return
        reason = ExpectTextPrefix(f"probed {steps} steps")(result)
        if reason is not None:
            self.error("check", reason)

    def result(self, era: str, steps: int, interval_ms: float) -> ProgressResult:
        latencies = sorted(ns / 1e6 for ns in self.latencies_ns)
        return ProgressResult(
            era=era,
            steps=steps,
            interval_ms=interval_ms,
            notifications=len(latencies),
            p50_ms=percentile(latencies, 0.50),
            p99_ms=percentile(latencies, 0.99),
            max_ms=latencies[-1] if latencies else 0.0,
            errors=dict(self.errors),
            error_samples=self.samples,
        )
