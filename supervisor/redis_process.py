"""Run the embedded redis-server as a child of the supervisor, stopped last."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
import trio

from proto import BackendUnavailableError
from server import open_redis, parse_redis_url
from supervisor.child_process import Child, spawn_child
from supervisor.embedded_redis import EmbeddedRedisError, plan_embedded_redis

__all__ = ["run_embedded_redis"]

log = structlog.get_logger()

_START_ATTEMPTS = 3


@asynccontextmanager
async def run_embedded_redis(
    data_dir: Path, *, start_timeout_s: float = 15.0
) -> AsyncIterator[str]:
    """Start a private redis-server under ``data_dir`` and yield its URL.

    Resources: the server is SIGTERMed on exit (it finishes writing its append-only file)
    and SIGKILLed if it has not exited 10 s later.

    Raises:
        EmbeddedRedisError: no binary, or it would not start (port taken three times).
    """
    for _attempt in range(_START_ATTEMPTS):
        plan = plan_embedded_redis(data_dir)
        child = await spawn_child(plan.argv)
        if await _answers_ping(plan.url, child, start_timeout_s):
            break
        child.signal(signal.SIGKILL)
        await child.wait()
    else:
        raise EmbeddedRedisError(f"redis-server ({plan.binary}) failed to start; see its log above")
    log.info(
        "redis.started",
        binary=str(plan.binary),
        port=plan.port,
        pid=child.pid,
        dir=str(plan.data_dir),
    )
    try:
        yield plan.url
    finally:
        with trio.CancelScope(shield=True):
            child.signal(signal.SIGTERM)
            with trio.move_on_after(10):
                await child.wait()
            if child.returncode is None:
                child.signal(signal.SIGKILL)
                await child.wait()
            log.info("redis.stopped", exit_code=child.returncode)


async def _answers_ping(url: str, child: Child, timeout_s: float) -> bool:
    with trio.move_on_after(timeout_s):
        async with open_redis(parse_redis_url(url), connect_timeout_s=1.0) as redis:
            while child.returncode is None:
                try:
                    if await redis.execute("PING") == b"PONG":
                        return True
                except BackendUnavailableError:
                    pass  # not listening yet
                await trio.sleep(0.02)
    return False
