"""``serve``: run one front process: Redis client, reply subscription, HTTP server.

Services start before readiness: ``on_ready`` fires only once the reply channel is
subscribed and the listening socket is bound. SIGTERM/SIGINT start a graceful shutdown
(hypercorn stops accepting, in-flight requests get ``graceful_timeout_s``; GET and listen
streams end at once, listen streams with their final response).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import hypercorn.trio
import structlog
import trio
from hypercorn.config import Config as HypercornConfig

from server.config import FrontConfig
from server.event_store import EventStore
from server.front_services import open_front_services, watch_stop_signals
from server.get_stream import GetStreams
from server.http_app import HttpApp
from server.listen_stream import ListenStreams
from server.metrics_endpoint import MetricsEndpoint
from server.readiness import Readiness
from server.session_store import SessionStore
from server.tool_catalog import ToolCatalog

__all__ = ["build_hypercorn_config", "serve"]

log = structlog.get_logger()


def build_hypercorn_config(config: FrontConfig) -> HypercornConfig:
    """hypercorn's settings from ours, in one place."""
    hc = HypercornConfig()
    hc.bind = [config.http]
    hc.keep_alive_timeout = config.keep_alive_timeout_s
    hc.keep_alive_max_requests = config.keep_alive_max_requests
    hc.graceful_timeout = config.graceful_timeout_s
    hc.accesslog = None
    hc.errorlog = None
    hc.backlog = 1024
    # The request head (bodies stream past it; the app bounds them with 413): h11 answers
    # 431 beyond it, h2 refuses larger header lists.
    hc.h11_max_incomplete_size = config.max_header_bytes
    hc.h2_max_header_list_size = config.max_header_bytes
    return hc


async def serve(
    config: FrontConfig,
    *,
    catalog: ToolCatalog,
    redis_url: str,
    fleet: str,
    front_id: str,
    on_ready: Callable[[list[str]], None] = lambda binds: None,
) -> None:
    """Serve HTTP until SIGTERM/SIGINT, then shut down gracefully and return.

    Args:
        config: the front's settings.
        catalog: the tools served.
        redis_url: the fleet's Redis.
        fleet: the fleet's key namespace.
        front_id: unique id of this front process (names its reply channel).
        on_ready: called with the bound addresses once the front can serve.
    """
    shutdown = trio.Event()
    async with (
        open_front_services(
            config, catalog=catalog, redis_url=redis_url, fleet=fleet, front_id=front_id
        ) as services,
        trio.open_nursery() as nursery,
    ):
        redis, keys, subscriber = services.redis, services.keys, services.subscriber
        events = EventStore(
            redis, keys, max_events=config.event_store_max_events, ttl_s=config.event_store_ttl_s
        )
        sessions = SessionStore(redis, keys, idle_ttl_s=config.session_idle_ttl_s)
        app = HttpApp(
            services.dispatcher,
            config,
            sessions=sessions,
            events=events,
            get_streams=GetStreams(
                redis=redis,
                keys=keys,
                store=events,
                sessions=sessions,
                subscriber=subscriber,
                config=config,
                draining=shutdown,
                changes=services.changes,
                task_status=services.task_status,
            ),
            listen_streams=ListenStreams(
                changes=services.changes, config=config, draining=shutdown
            ),
            front_id=front_id,
            readiness=Readiness(
                redis,
                keys,
                subscribed=lambda: subscriber.connected,
                draining=shutdown.is_set,
            ),
            metrics=MetricsEndpoint(services.metrics, services.queues),
            background=nursery,
        )
        nursery.start_soon(watch_stop_signals, shutdown)
        async with trio.open_nursery() as http_nursery:
            binds = await http_nursery.start(
                partial(
                    hypercorn.trio.serve,
                    app,  # type: ignore[arg-type]  # our ASGI callable is typed loosely
                    build_hypercorn_config(config),
                    shutdown_trigger=shutdown.wait,
                )
            )
            log.info("front.ready", binds=binds, tools=len(catalog))
            on_ready(binds)
        # hypercorn returned: in-flight requests finished or graceful_timeout_s passed.
        log.info("front.stopped")
        nursery.cancel_scope.cancel()
