"""Run the embedded redis-server as a child of the supervisor, stopped last."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
import trio

from proto import BackendUnavailableError, RedisCommandError
from server import open_redis, parse_redis_url
from supervisor.child_process import Child, spawn_child
from supervisor.embedded_redis import EmbeddedRedisError, EmbeddedRedisPlan, plan_embedded_redis
from supervisor.restart_policy import RestartPolicy

__all__ = ["run_embedded_redis"]

log = structlog.get_logger()

_START_ATTEMPTS = 3


@asynccontextmanager
async def run_embedded_redis(
    data_dir: Path, *, start_timeout_s: float = 15.0
) -> AsyncIterator[str]:
    """Start a private redis-server under ``data_dir``, keep it running, yield its URL.

    If the server dies it is restarted on the same port and password, so every client
    reconnects to it (its append-only file brings the data back).

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
        redis_pid=child.pid,
        dir=str(plan.data_dir),
    )
    keeper = _RedisKeeper(plan, child, start_timeout_s)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keeper.keep_running)
        try:
            yield plan.url
        finally:
            nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True):
                await keeper.stop()


class _RedisKeeper:
    """Restarts the embedded Redis when it exits on its own (exponential backoff)."""

    def __init__(self, plan: EmbeddedRedisPlan, child: Child, start_timeout_s: float) -> None:
        self.plan = plan
        self.child = child
        self._start_timeout_s = start_timeout_s
        self._policy = RestartPolicy(max_backoff_s=5.0)

    async def keep_running(self) -> None:
        while True:
            born = trio.current_time()
            code = await self.child.wait()
            delay = self._policy.delay_after_exit(trio.current_time() - born)
            log.error("redis.exited", exit_code=code, restart_in_s=round(delay, 3))
            await trio.sleep(delay)
            self.child = await spawn_child(self.plan.argv)
            if await _answers_ping(self.plan.url, self.child, self._start_timeout_s):
                log.warning("redis.restarted", redis_pid=self.child.pid, port=self.plan.port)
            else:
                self.child.signal(signal.SIGKILL)

    async def stop(self) -> None:
        child = self.child
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
                except RedisCommandError as exc:
                    # -LOADING while it replays its append-only file: up, not ready yet.
                    if not exc.is_transient:
                        raise
                await trio.sleep(0.02)
    return False
