"""The tasks flow: submit task-augmented ``tools/call`` s and poll ``tasks/get`` until each
task completed, then fetch its result (2025-11-25: ``tasks/result``; 2026-07-28: the tasks
extension inlines it in ``tasks/get``)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from bench.loadgen.closed_loop import percentile
from bench.loadgen.http_wire import Connection, ConnectionClosed, Endpoint, WireError
from bench.loadgen.mcp_flows import (
    Session,
    SetupError,
    Verdict,
    close_session,
    open_session,
    reply_message,
)
from bench.loadgen.workloads import ERAS, ExpectText

TASK_TTL_MS: Final = 600_000
TERMINAL: Final = frozenset({"completed", "failed", "cancelled"})


@dataclass
class TaskResult:
    """What a tasks run measured.

    ``submit_to_done`` latencies run from sending the task-augmented call to receiving the
    ``tasks/get`` that reported it completed; ``result`` fetching comes after.
    """

    era: str
    tool: str
    tasks: int
    clients: int
    completed: int
    duration_s: float
    tasks_per_s: float
    p50_ms: float
    p99_ms: float
    polls_per_task: float
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-able dict."""
        return asdict(self)


def run_tasks(
    url: str,
    era: str,
    count: int,
    clients: int,
    *,
    tool: str = "echo",
    poll_interval_ms: float = 0.0,
) -> TaskResult:
    """Submit ``count`` tasks of ``tool`` (``echo`` with a distinct text each, so the tool
    must accept ``text`` and run as a task) from ``clients`` clients, each client one task
    at a time: submit, poll ``tasks/get`` (``poll_interval_ms`` apart) until terminal, fetch
    and check the result. Never raises on bad replies (counted in ``errors``).

    Raises:
        ValueError: an unknown era or a count/clients below 1.
    """
    if era not in ERAS:
        raise ValueError(f"era must be one of {ERAS}, not {era!r}")
    if count < 1 or clients < 1:
        raise ValueError("count and clients must be at least 1")
    endpoint = Endpoint.from_url(url)
    tally = _Tally()
    numbers = iter(range(count))
    lock = threading.Lock()

    def next_number() -> int | None:
        with lock:
            return next(numbers, None)

    plan = _Plan(endpoint, era, tool, poll_interval_ms)
    threads = [
        threading.Thread(target=_client, args=(plan, next_number, tally))
        for _ in range(min(clients, count))
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(tally.latencies)
    done = len(latencies)
    return TaskResult(
        era=era,
        tool=tool,
        tasks=count,
        clients=clients,
        completed=done,
        duration_s=elapsed,
        tasks_per_s=done / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
        polls_per_task=tally.polls / done if done else 0.0,
        errors=dict(tally.errors),
        error_samples=tally.samples,
    )


class _Tally:
    """What every client thread found, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.polls = 0
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []

    def done(self, latency_s: float, polls: int) -> None:
        with self.lock:
            self.latencies.append(latency_s)
            self.polls += polls

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.samples) < 5:
                self.samples.append(f"{kind}: {detail}")


class _Failed(Exception):
    """One task went wrong: its kind and detail."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class _Plan:
    """What every client of a tasks run does."""

    endpoint: Endpoint
    era: str
    tool: str
    poll_interval_ms: float


def _client(plan: _Plan, next_number: Callable[[], int | None], tally: _Tally) -> None:
    conn = Connection(plan.endpoint, timeout_s=60.0)
    try:
        session = open_session(conn, plan.era)
    except (OSError, WireError, ConnectionClosed, SetupError) as exc:
        tally.error("setup", repr(exc))
        conn.close()
        return
    try:
        while (number := next_number()) is not None:
            try:
                latency, polls = _one_task(conn, session, plan, f"task-{number}")
            except _Failed as failed:
                tally.error(failed.kind, failed.detail)
            except (OSError, WireError, ConnectionClosed) as exc:
                tally.error("connection", repr(exc))
                conn.close()
            else:
                tally.done(latency, polls)
    finally:
        close_session(conn, session)
        conn.close()


def _one_task(conn: Connection, session: Session, plan: _Plan, text: str) -> tuple[float, int]:
    """Submit, poll to completion, fetch and check; (submit -> completed seconds, polls)."""
    started = time.perf_counter()
    task_id = _submit(conn, session, plan.tool, text)
    polls = 0
    while True:
        polls += 1
        status = _get(conn, session, task_id)
        if status["status"] in TERMINAL:
            break
        if plan.poll_interval_ms > 0:
            time.sleep(plan.poll_interval_ms / 1000)
    latency = time.perf_counter() - started
    if status["status"] != "completed":
        raise _Failed(f"task_{status['status']}", str(status)[:200])
    result = status.get("result") if session.modern else _legacy_result(conn, session, task_id)
    if not isinstance(result, dict):
        raise _Failed("bad_reply", f"no result for task {task_id}: {str(status)[:200]}")
    if result.get("isError"):
        raise _Failed("tool_error", str(result.get("content"))[:200])
    reason = ExpectText(text)(result)
    if reason is not None:
        raise _Failed("check", reason)
    return latency, polls


def _exchange(
    conn: Connection,
    session: Session,
    method: str,
    params: dict[str, Any],
    *,
    name: str | None,
) -> dict[str, Any]:
    request_id = session.take_id()
    request = session.request(method, params, request_id=request_id, name=name, tasks=True)
    verdict: Verdict = reply_message(conn.exchange(request), request_id)
    if verdict.message is None:
        raise _Failed(verdict.kind, f"{method}: {verdict.detail}")
    result: dict[str, Any] = verdict.message["result"]
    return result


def _submit(conn: Connection, session: Session, tool: str, text: str) -> str:
    params: dict[str, Any] = {"name": tool, "arguments": {"text": text}}
    if not session.modern:
        params["task"] = {"ttl": TASK_TTL_MS}
    result = _exchange(conn, session, "tools/call", params, name=tool)
    task = result if session.modern else result.get("task")
    if session.modern and result.get("resultType") != "task":
        raise _Failed("not_a_task", str(result)[:200])
    if not isinstance(task, dict) or not isinstance(task.get("taskId"), str):
        raise _Failed("not_a_task", str(result)[:200])
    task_id: str = task["taskId"]
    return task_id


def _get(conn: Connection, session: Session, task_id: str) -> dict[str, Any]:
    status = _exchange(conn, session, "tasks/get", {"taskId": task_id}, name=task_id)
    if not isinstance(status.get("status"), str):
        raise _Failed("bad_reply", f"tasks/get without status: {str(status)[:200]}")
    return status


def _legacy_result(conn: Connection, session: Session, task_id: str) -> dict[str, Any]:
    return _exchange(conn, session, "tasks/result", {"taskId": task_id}, name=None)
