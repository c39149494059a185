"""``serve_stdio``: run one front on stdin/stdout instead of HTTP.

The same services as the HTTP front (``server/front_services.py``) behind the stdio
transport (``server/stdio_transport.py``). Input is read only once the front can serve (its
reply subscription is up); messages the client sent earlier wait in the pipe. It returns at
the end of input, or on SIGTERM/SIGINT, after the transport wound down.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
import trio

from server.config import FrontConfig
from server.front_services import open_front_services, watch_stop_signals
from server.limits_config import LimitsConfig
from server.redis_client import open_redis, parse_redis_url
from server.stdio_transport import StdioConnection
from server.tool_catalog import ToolCatalog

__all__ = ["serve_stdio"]

log = structlog.get_logger()


async def serve_stdio(
    config: FrontConfig,
    *,
    limits: LimitsConfig,
    catalog: ToolCatalog,
    redis_url: str,
    fleet: str,
    front_id: str,
    stdin_fd: int,
    stdout_fd: int,
    load_interval_s: float = 1.0,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Serve one MCP connection on the given descriptors until it ends.

    Args:
        config: the front's settings (``max_body_bytes`` bounds a line; ``stdio_*``).
        limits: the rate limits and admission control it enforces (ADR-0017; the local
            user is the caller).
        catalog: the tools served.
        redis_url: the fleet's Redis.
        fleet: the fleet's key namespace.
        front_id: unique id of this front process (names its reply channel).
        stdin_fd: where requests are read (the protocol's stdin).
        stdout_fd: where responses are written (the protocol's stdout).
        load_interval_s: how often its load record is written (``server/front_load.py``).
        on_ready: called once the front can serve, before input is read.

    Raises:
        BackendUnavailableError: Redis cannot be reached at start.
        RedisCommandError: Redis refused the first command (a wrong password).

    Resources: both descriptors are closed on return (the client sees our end of the
    connection close), restored to blocking mode first.
    """
    # Fail fast: the reply subscription retries an unreachable Redis forever, and a client
    # that launched us would wait for answers that never come instead of seeing an error.
    async with open_redis(
        parse_redis_url(redis_url), command_timeout_s=config.redis_command_timeout_s
    ) as redis:
        await redis.execute("PING")
    stop = trio.Event()
    async with (
        open_front_services(
            config,
            limits=limits,
            catalog=catalog,
            redis_url=redis_url,
            fleet=fleet,
            front_id=front_id,
            load_interval_s=load_interval_s,
        ) as services,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(watch_stop_signals, stop)
        connection = StdioConnection(
            services.dispatcher,
            changes=services.changes,
            task_status=services.task_status,
            front_id=front_id,
            max_line_bytes=config.max_body_bytes,
            max_in_flight=config.stdio_max_in_flight,
            max_batch_requests=config.max_batch_requests,
            max_json_depth=config.max_json_depth,
            max_listens=config.max_listen_streams,
            eof_grace_s=config.stdio_eof_grace_s,
        )
        nursery.start_soon(services.publish_load, lambda: connection.open_listens)
        log.info("front.ready", transport="stdio", tools=len(catalog))
        on_ready()
        async with (
            trio.lowlevel.FdStream(stdin_fd) as stdin,
            trio.lowlevel.FdStream(stdout_fd) as stdout,
        ):
            await connection.serve(stdin, stdout, stop=stop)
        log.info("front.stopped")
        nursery.cancel_scope.cancel()
