"""``FrontConfig``: the front processes' slice of the fleet configuration."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from proto import DEFAULT_MAX_JSON_DEPTH, ArgumentLimits

__all__ = ["PROBE_PATHS", "FrontConfig"]

PROBE_PATHS: Final = ("/health", "/health/ready", "/ready")
"""The probes' paths (server/http_app.py): alive, and able to serve (with its alias)."""

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]


class FrontConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of every front process (``[front]`` in mcpfleet.toml)."""

    http: str = "127.0.0.1:8000"
    """Where the HTTP front listens, ``HOST:PORT`` (port 0 picks a free one)."""

    path: str = "/mcp"
    """The MCP endpoint's path."""

    metrics_path: str = "/metrics"
    """Where each HTTP front answers Prometheus scrapes with the metrics of every process of
    the fleet (docs/operations.md, "Metrics"); ``""`` turns the endpoint off. Outside the
    MCP endpoint's rules (no session, Origin or version checks): expose it to your
    monitoring only."""

    max_body_bytes: PositiveInt = 4 * 1024 * 1024
    """Largest accepted request: an HTTP body (larger ones get 413 before they are read) or
    a stdio line (larger ones get -32600 and are skipped up to their newline)."""

    max_header_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 32 * 1024
    """Largest HTTP request head (request line plus all header fields); a larger one gets
    431 and the connection is closed, before the app sees the request."""

    max_json_depth: Annotated[int, msgspec.Meta(ge=16, le=256)] = DEFAULT_MAX_JSON_DEPTH
    """Deepest nesting of arrays and objects in one message (HTTP body or stdio line,
    tool arguments included); a deeper one gets -32600 (HTTP 400) before its params are
    decoded (ADR-0018)."""

    max_arguments_bytes: PositiveInt = 1024 * 1024
    """Largest ``arguments`` object of a ``tools/call`` (its JSON bytes); a larger one gets
    -32602 (HTTP 400 at 2026-07-28), never reaching a worker."""

    max_argument_string_chars: PositiveInt = 256 * 1024
    """Longest string anywhere in a ``tools/call``'s arguments (a value or a member's name),
    in characters; a longer one gets -32602 naming the argument (``$.notes``)."""

    max_argument_items: PositiveInt = 10_000
    """Most items of one array, or members of one object, in a ``tools/call``'s arguments;
    more get -32602 naming the argument (``$.rows``)."""

    max_batch_requests: PositiveInt = 64
    """Most messages in one JSON-RPC batch (2025-03-26 only, HTTP and stdio); a larger
    batch is refused whole with -32600 (HTTP 400). Each request of a batch runs at once,
    so this also bounds the calls one POST or line can start."""

    hsts_max_age_s: Annotated[int, msgspec.Meta(ge=0, le=63_072_000)] = 0
    """``Strict-Transport-Security: max-age=<this>; includeSubDomains`` on every HTTP
    response when above 0. Set it only when clients reach the fleet over HTTPS (through a
    TLS-terminating proxy that does not add the header itself): browsers then refuse plain
    HTTP to the host for that long. 0: not sent (the front itself speaks plain HTTP)."""

    allowed_origins: tuple[str, ...] = ()
    """Browser origins allowed besides loopback ones (``https://app.example.com``)."""

    allowed_hosts: tuple[str, ...] = ()
    """``Host`` names accepted besides loopback ones. When the front binds to loopback, or
    when this list is set, any other Host is refused with 421 (DNS-rebinding defence)."""

    session_idle_ttl_s: PositiveInt = 1800
    """A handshake-era session unused this long expires (404 afterwards)."""

    reply_grace_s: PositiveFloat = 5.0
    """How much longer than a tool's timeout the front waits for a worker's answer."""

    redis_command_timeout_s: PositiveFloat = 5.0
    """Deadline of each Redis command the front sends."""

    list_ttl_ms: NonNegativeInt = 60_000
    """``ttlMs`` cache hint on 2026-07-28 ``server/discover`` and list results (every page)."""

    list_page_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    """Most entries one page of ``tools/list``, ``resources/list``,
    ``resources/templates/list`` or ``prompts/list`` holds; a longer list is paged with
    ``nextCursor`` (clients that follow cursors get every entry, clients that read one page
    only the first ones)."""

    request_state_ttl_s: PositiveFloat = 3600.0
    """2026-07-28: how long a client may take to answer a handler's questions (an
    ``InputRequiredResult``) before the ``requestState`` it must echo expires and its retry
    is refused (-32602); a person filling in a form needs minutes, not seconds."""

    sse_keepalive_s: PositiveFloat = 15.0
    """An SSE response idle this long gets a ``: ping`` comment (proxies cut idle streams)."""

    event_store_max_events: PositiveInt = 1000
    """Events kept per SSE stream for resumption with ``Last-Event-ID`` (approximately)."""

    event_store_ttl_s: PositiveFloat = 300.0
    """How long a stream's events stay resumable after its last event."""

    sse_retry_ms: NonNegativeInt = 1000
    """``retry`` sent in priming events (2025-11-25): how long a client waits to reconnect."""

    session_ping_interval_s: NonNegativeFloat = 0.0
    """Server-to-client ``ping`` requests on a session's GET stream this often (0: none; the
    stream still gets keep-alive comments)."""

    max_listen_streams: PositiveInt = 1000
    """``subscriptions/listen`` streams one front serves at once (HTTP and stdio); more
    are refused before their acknowledgement (-32603, HTTP 503)."""

    keep_alive_timeout_s: PositiveFloat = 30.0
    """Idle keep-alive connections are closed after this long."""

    keep_alive_max_requests: PositiveInt = 1000
    """Requests served on one connection before it is closed (spreads clients over fronts)."""

    accept_grace_s: Annotated[float, msgspec.Meta(ge=0, le=300)] = 0.0
    """On shutdown, how long the front still accepts new connections (and serves them)
    while ``/health/ready`` answers 503, so that a load balancer probing readiness stops
    sending it traffic first; 0: it stops accepting at once."""

    graceful_timeout_s: PositiveFloat = 10.0
    """On shutdown, once the front stops accepting, how long requests in flight may take;
    those still waiting for a worker then are answered "The server is shutting down"
    (-32603, HTTP 503 with ``Retry-After``, or as the last event of their SSE stream)."""

    stdio_eof_grace_s: PositiveFloat = 1.0
    """stdio: after the end of input (or a stop signal), how long requests in flight may
    take to be answered before they are cancelled. Short, because a desktop client that
    closes our stdin escalates to SIGTERM 2 s later; raise it to pipe a batch of requests
    in (``cat requests.jsonl | mcpfleet stdio …``)."""

    stdio_max_in_flight: PositiveInt = 256
    """stdio: requests served at once on the connection; reading pauses at the bound."""

    task_ttl_ms: Annotated[int, msgspec.Meta(ge=1000)] = 3_600_000
    """Durable tasks (ADR-0011): how long a task and its result are kept when the client
    does not ask (2025-11-25 ``task.ttl``); every read of the task slides it (at most once per
    eighth of it, ADR-0020)."""

    task_max_ttl_ms: Annotated[int, msgspec.Meta(ge=1000)] = 86_400_000
    """The longest retention a client may ask for; longer requests are cut to it (the task
    reports the retention it got)."""

    task_poll_interval_ms: PositiveInt = 1000
    """The ``pollInterval``/``pollIntervalMs`` suggested to clients polling a task."""

    task_redis_connections: Annotated[int, msgspec.Meta(ge=1, le=64)] = 4
    """Task creations one front runs at once: each takes a thread and a redis-py
    connection (rq speaks redis-py, ADR-0011); more wait for one to be free."""

    task_input_grace_ms: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 300
    """2026-07-28, a tool with ``input_before_task``: how long the creating ``tools/call``
    waits for its task to ask for input (answered then as an ``InputRequiredResult``) or to
    end, before it answers with the task."""

    def argument_limits(self) -> ArgumentLimits:
        """The bounds on a ``tools/call``'s arguments (``max_argument*``)."""
        return ArgumentLimits(
            max_bytes=self.max_arguments_bytes,
            max_string_chars=self.max_argument_string_chars,
            max_items=self.max_argument_items,
        )

    def __post_init__(self) -> None:
        if self.task_ttl_ms > self.task_max_ttl_ms:
            raise ValueError("task_ttl_ms must not exceed task_max_ttl_ms")
        if self.metrics_path and not self.metrics_path.startswith("/"):
            raise ValueError("metrics_path must start with '/' (or be empty: no endpoint)")
        if self.metrics_path in (self.path, *PROBE_PATHS):
            raise ValueError(f"metrics_path {self.metrics_path!r} is taken by another endpoint")
