"""Worker machinery, apart from the tool-author API: what the supervisor needs to run a
worker process."""

from workers.config import HEARTBEAT_TTL_INTERVALS, RETIRE_ANSWER_S, WorkerConfig
from workers.toolset import ToolDefinition
from workers.worker_main import run_worker

__all__ = [
    "HEARTBEAT_TTL_INTERVALS",
    "RETIRE_ANSWER_S",
    "ToolDefinition",
    "WorkerConfig",
    "run_worker",
]
