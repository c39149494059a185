"""The front: Streamable HTTP on trio + hypercorn, or stdio.

It validates and dispatches requests, serves listings from memory, and puts tool calls on
the Redis call lane. It never imports :mod:`workers`.
"""

from server.auth_config import AuthConfig
from server.config import FrontConfig
from server.drain import drain_budget_s
from server.front_main import serve
from server.limits_config import LimitsConfig, ToolRate
from server.listen_socket import bind_address
from server.metrics_files import METRICS_FILE_PATTERNS, ArchiveCommitError, fold_dead_processes
from server.redis_client import (
    RedisClient,
    RedisCommandError,
    RedisReply,
    open_redis,
    parse_redis_url,
)
from server.stdio_main import serve_stdio
from server.tool_catalog import CatalogTool, ToolCatalog

__all__ = [
    "METRICS_FILE_PATTERNS",
    "ArchiveCommitError",
    "AuthConfig",
    "CatalogTool",
    "FrontConfig",
    "LimitsConfig",
    "RedisClient",
    "RedisCommandError",
    "RedisReply",
    "ToolCatalog",
    "ToolRate",
    "bind_address",
    "drain_budget_s",
    "fold_dead_processes",
    "open_redis",
    "parse_redis_url",
    "serve",
    "serve_stdio",
]
