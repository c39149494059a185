"""``serve``: run one front process: Redis client, reply subscription, HTTP server.

Services start before readiness: ``on_ready`` fires only once the reply channel is
subscribed and the listening socket is bound, with ``SO_REUSEPORT`` so that every front of
the fleet binds the same port (``server/listen_socket.py``). SIGTERM/SIGINT start a
graceful shutdown (``server/drain.py``): readiness 503 at once, GET and listen streams
end, the front stops accepting, and in-flight requests get ``graceful_timeout_s`` before
those still waiting are answered "The server is shutting down".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import hypercorn.trio
import structlog
import trio
from hypercorn.config import Config as HypercornConfig

from server.auth_config import AuthConfig
from server.config import FrontConfig
from server.drain import FrontDrain
from server.event_store import EventStore
from server.front_services import open_front_services
from server.get_stream import GetStreams
from server.http_app import HttpApp
from server.jwks_cache import JwksCache
from server.jwt_auth import TokenVerifier, load_public_key
from server.limits_config import LimitsConfig
from server.listen_socket import bind_shared_socket
from server.listen_stream import ListenStreams
from server.metrics import FrontMetrics
from server.metrics_endpoint import MetricsEndpoint
from server.readiness import Readiness
from server.resource_server import ResourceServer
from server.session_store import SessionStore
from server.tool_catalog import ToolCatalog

__all__ = ["build_hypercorn_config", "serve"]

log = structlog.get_logger()


def build_hypercorn_config(
    config: FrontConfig, *, listen_fd: int | None = None, hard_timeout_s: float | None = None
) -> HypercornConfig:
    """hypercorn's settings from ours, in one place.

    Args:
        config: the front's settings.
        listen_fd: a bound socket to serve on (hypercorn takes it over) instead of binding
            ``config.http`` itself.
        hard_timeout_s: how long requests may run once it stops accepting (default
            ``config.graceful_timeout_s``).
    """
    hc = HypercornConfig()
    hc.bind = [config.http if listen_fd is None else f"fd://{listen_fd}"]
    hc.keep_alive_timeout = config.keep_alive_timeout_s
    hc.keep_alive_max_requests = config.keep_alive_max_requests
    hc.graceful_timeout = config.graceful_timeout_s if hard_timeout_s is None else hard_timeout_s
    hc.accesslog = None
    hc.errorlog = None
    # No "server: hypercorn-h11": it tells an attacker which software to look up, and h11
    # validates every header sent (its cost pays for one of the security headers).
    hc.include_server_header = False
    hc.backlog = 1024
    # The request head (bodies stream past it; the app bounds them with 413): h11 answers
    # 431 beyond it, h2 refuses larger header lists.
    hc.h11_max_incomplete_size = config.max_header_bytes
    hc.h2_max_header_list_size = config.max_header_bytes
    return hc


async def serve(
    config: FrontConfig,
    *,
    limits: LimitsConfig,
    catalog: ToolCatalog,
    redis_url: str,
    fleet: str,
    front_id: str,
    auth: AuthConfig | None = None,
    load_interval_s: float = 1.0,
    on_ready: Callable[[list[str]], None] = lambda binds: None,
) -> None:
    """Serve HTTP until SIGTERM/SIGINT, then shut down gracefully (``server/drain.py``)
    and return.

    Args:
        config: the front's settings.
        limits: the rate limits and admission control it enforces (ADR-0017).
        auth: bearer-token authentication (``[auth]``, ADR-0016); None or not enabled:
            every caller is anonymous.
        catalog: the tools served.
        redis_url: the fleet's Redis.
        fleet: the fleet's key namespace.
        front_id: unique id of this front process (names its reply channel).
        load_interval_s: how often its load record is written (``server/front_load.py``).
        on_ready: called with the bound addresses once the front can serve.
    """
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
        drain = FrontDrain(
            accept_grace_s=config.accept_grace_s,
            graceful_timeout_s=config.graceful_timeout_s,
            end_waits=services.end_waits,
        )
        await nursery.start(drain.run)
        shutdown = drain.draining
        in_flight = drain.in_flight
        redis, keys, subscriber = services.redis, services.keys, services.subscriber
        events = EventStore(
            redis, keys, max_events=config.event_store_max_events, ttl_s=config.event_store_ttl_s
        )
        sessions = SessionStore(redis, keys, idle_ttl_s=config.session_idle_ttl_s)
        get_streams = GetStreams(
            redis=redis,
            keys=keys,
            store=events,
            sessions=sessions,
            subscriber=subscriber,
            config=config,
            draining=shutdown,
            changes=services.changes,
            task_status=services.task_status,
        )
        listen_streams = ListenStreams(changes=services.changes, config=config, draining=shutdown)
        resource_server = jwks = None
        if auth is not None and auth.enabled:
            resource_server, jwks = await _start_resource_server(
                auth, config, catalog, services.metrics, nursery
            )
        nursery.start_soon(
            services.publish_load, lambda: get_streams.open_streams + listen_streams.open_streams
        )
        app = HttpApp(
            services.dispatcher,
            config,
            sessions=sessions,
            events=events,
            get_streams=get_streams,
            listen_streams=listen_streams,
            front_id=front_id,
            readiness=Readiness(
                redis,
                keys,
                subscribed=lambda: subscriber.connected,
                draining=shutdown.is_set,
                jwks_fetched=None if jwks is None else lambda: jwks.healthy,
                limits=limits,
            ),
            metrics=MetricsEndpoint(services.metrics, services.queues),
            background=nursery,
            in_flight=in_flight,
            auth=resource_server,
            trusted_proxy_hops=limits.trusted_proxy_hops,
        )
        # Bound here rather than by hypercorn, which sets SO_REUSEPORT only for its own
        # multi-process mode; it takes the descriptor over (and closes it).
        listen_fd = bind_shared_socket(config.http).detach()
        hc = build_hypercorn_config(
            config, listen_fd=listen_fd, hard_timeout_s=drain.hard_timeout_s
        )
        async with trio.open_nursery() as http_nursery:
            binds = await http_nursery.start(
                partial(
                    hypercorn.trio.serve,
                    app,  # type: ignore[arg-type]  # our ASGI callable is typed loosely
                    hc,
                    shutdown_trigger=drain.stop_accepting.wait,
                )
            )
            log.info("front.ready", binds=binds, tools=len(catalog))
            on_ready(binds)
            await drain.stop_accepting.wait()
            log.info("front.stopped_accepting", in_flight=in_flight.count)
            # Not for hypercorn to say (server/drain.py): once no request is left, what it
            # still holds are idle connections, closed as it is cancelled.
            await in_flight.wait_idle()
            http_nursery.cancel_scope.cancel()
        # No request is left (finished, answered, or cut at the hard timeout).
        log.info("front.stopped")
        nursery.cancel_scope.cancel()


async def _start_resource_server(
    auth: AuthConfig,
    config: FrontConfig,
    catalog: ToolCatalog,
    metrics: FrontMetrics,
    nursery: trio.Nursery,
) -> tuple[ResourceServer, JwksCache | None]:
    """The token checks of ``auth``: its public key read, or its JWKS fetched (a service of
    ``nursery``, started before the front reports ready; a first fetch that fails does not
    stop it, ``server/jwks_cache.py``), and that JWKS.

    Raises:
        KeyFileError: the public key file cannot be read.
    """
    public_key = load_public_key(auth.public_key_file) if auth.public_key_file else None
    jwks = None
    verifier: TokenVerifier | None = None
    if auth.jwks_url:
        jwks = JwksCache(
            auth.jwks_url,
            cache_s=auth.jwks_cache_s,
            cooldown_s=auth.jwks_refresh_cooldown_s,
            timeout_s=auth.jwks_timeout_s,
            # A key the issuer withdrew stops verifying at once, remembered tokens too.
            on_change=lambda: verifier.forget_verified() if verifier else None,
        )
        await nursery.start(jwks.run)
    verifier = TokenVerifier(auth, public_key=public_key, jwks=jwks)
    if auth.expected_audience is None:  # only with auth.insecure_skip_audience (ADR-0016)
        log.warning(
            "auth.audience_unchecked",
            hint="set auth.resource or auth.audience, then drop auth.insecure_skip_audience",
        )
    server = ResourceServer(
        auth, verifier, mcp_path=config.path, scopes=catalog.scopes, metrics=metrics
    )
    return server, jwks
