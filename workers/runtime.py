"""Worker machinery, apart from the tool-author API: what the supervisor needs to run a
worker process."""

from workers.config import WorkerConfig
from workers.toolset import ToolDefinition
from workers.worker_main import run_worker

__all__ = ["ToolDefinition", "WorkerConfig", "run_worker"]
