"""Entry points of the front and worker processes (``mcpfleet front [--stdio]`` /
``mcpfleet worker``, started by ``mcpfleet up``; ``mcpfleet stdio``, started by a client).

Each configures logging once, reads its ``FleetConfig`` from the JSON file the supervisor
wrote (or gets it resolved by the CLI), runs, and reports readiness on an inherited pipe
(``--ready-fd``). A stdio front claims stdin and stdout before anything else runs
(``supervisor/stdio_streams.py``), so the tool app cannot write into the protocol.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec
import trio

from supervisor.app_loader import build_catalog, load_toolset
from supervisor.child_process import ReadyReport
from supervisor.config import FleetConfig
from supervisor.gc_tuning import tune_gc_for_serving
from supervisor.logging_setup import configure_logging
from supervisor.stdio_streams import ProtocolStreams, claim_protocol_streams

__all__ = [
    "new_stdio_front_id",
    "read_child_config",
    "run_front_process",
    "run_stdio_front",
    "run_stdio_front_process",
    "run_worker_process",
]


def read_child_config(path: str) -> FleetConfig:
    """The resolved configuration the supervisor handed this child."""
    return msgspec.json.decode(Path(path).read_bytes(), type=FleetConfig)


def _report_ready(ready_fd: int | None, report: ReadyReport) -> None:
    if ready_fd is None:
        return
    with os.fdopen(ready_fd, "wb") as pipe:
        pipe.write(msgspec.json.encode(report) + b"\n")


def _ready_to_serve(ready_fd: int | None, report: ReadyReport) -> None:
    """Start-up is over: tune the collector for serving (ADR-0021), then say ready."""
    tune_gc_for_serving()
    _report_ready(ready_fd, report)


def run_front_process(config_path: str, front_id: str, ready_fd: int | None) -> int:
    """Run one HTTP front until SIGTERM/SIGINT."""
    import server  # noqa: PLC0415  # imported lazily: only fronts need the HTTP stack

    config = read_child_config(config_path)
    configure_logging(config.log_level, role="front")
    toolset = load_toolset(config.app)
    catalog = build_catalog(
        toolset,
        config.worker,
        list_ttl_ms=config.front.list_ttl_ms,
        list_page_size=config.front.list_page_size,
        tool_scopes=config.auth.tool_scopes,
    )
    assert config.redis_url is not None  # resolved by the supervisor before spawning

    def on_ready(binds: list[str]) -> None:
        _ready_to_serve(ready_fd, ReadyReport(role="front", id=front_id, binds=binds))

    trio.run(
        lambda: server.serve(
            config.front,
            limits=config.limits,
            catalog=catalog,
            redis_url=config.redis_url or "",
            fleet=config.fleet,
            front_id=front_id,
            auth=config.auth,
            load_interval_s=config.supervisor.status_interval_s,
            on_ready=on_ready,
        )
    )
    return 0


def run_stdio_front_process(config_path: str, front_id: str, ready_fd: int | None) -> int:
    """Run the stdio front of ``mcpfleet up --stdio`` until its input ends or SIGTERM."""
    streams = claim_protocol_streams()
    config = read_child_config(config_path)
    configure_logging(config.log_level, role="front")
    return run_stdio_front(config, streams, front_id=front_id, ready_fd=ready_fd)


def new_stdio_front_id() -> str:
    """A unique id for a stdio front started outside a fleet (``mcpfleet stdio``)."""
    return f"stdio-{secrets.token_hex(4)}"


def run_stdio_front(
    config: FleetConfig, streams: ProtocolStreams, *, front_id: str, ready_fd: int | None = None
) -> int:
    """Serve one stdio connection with ``config`` (logging configured, ``redis_url`` set)."""
    import server  # noqa: PLC0415  # imported lazily: only fronts need the front stack

    toolset = load_toolset(config.app)
    catalog = build_catalog(
        toolset,
        config.worker,
        list_ttl_ms=config.front.list_ttl_ms,
        list_page_size=config.front.list_page_size,
        tool_scopes=config.auth.tool_scopes,
    )
    assert config.redis_url is not None  # resolved by the supervisor or required by the CLI

    def on_ready() -> None:
        _ready_to_serve(ready_fd, ReadyReport(role="front", id=front_id, binds=["stdio"]))

    trio.run(
        lambda: server.serve_stdio(
            config.front,
            limits=config.limits,
            catalog=catalog,
            redis_url=config.redis_url or "",
            fleet=config.fleet,
            front_id=front_id,
            stdin_fd=streams.stdin_fd,
            stdout_fd=streams.stdout_fd,
            load_interval_s=config.supervisor.status_interval_s,
            on_ready=on_ready,
        )
    )
    return 0


def run_worker_process(
    config_path: str, worker_id: str, ready_fd: int | None, *, hold_tasks: bool = False
) -> int:
    """Run one worker until SIGTERM/SIGINT (or SIGUSR2: retired); with ``hold_tasks``
    (started while the fleet stops) it takes no task from the queue."""
    from workers.runtime import run_worker  # noqa: PLC0415  # only workers need the runtime

    config = read_child_config(config_path)
    configure_logging(config.log_level, role="worker")
    toolset = load_toolset(config.app)
    run_worker(
        toolset,
        redis_url=config.redis_url or "",
        fleet=config.fleet,
        worker_id=worker_id,
        config=config.worker,
        on_ready=lambda: _ready_to_serve(ready_fd, ReadyReport(role="worker", id=worker_id)),
        hold_tasks=hold_tasks,
    )
    return 0
