"""The front: Streamable HTTP (and later stdio) on trio + hypercorn.

It validates and dispatches requests, serves listings from memory, and puts tool calls on
the Redis call lane. It never imports :mod:`workers`.
"""

from server.config import FrontConfig
from server.front_main import serve
from server.redis_client import (
    RedisClient,
    RedisCommandError,
    RedisReply,
    open_redis,
    parse_redis_url,
)
from server.tool_catalog import CatalogTool, ToolCatalog

__all__ = [
    "CatalogTool",
    "FrontConfig",
    "RedisClient",
    "RedisCommandError",
    "RedisReply",
    "ToolCatalog",
    "open_redis",
    "parse_redis_url",
    "serve",
]
