"""The tasks flow: submit task-augmented ``tools/call`` s and poll ``tasks/get`` until each
task completed, then fetch its result (2025-11-25: ``tasks/result``; 2026-07-28: the tasks
extension inlines it in ``tasks/get``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
    """Submit ``count`` tasks of ``tool`` (``echo`` with a distinct text each) from
    ``clients`` clients, poll each to completion, fetch and check its result."""
    raise NotImplementedError
