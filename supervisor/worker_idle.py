"""Waiting until a worker being retired runs no durable task (ADR-0014).

A retired worker (recycled or scaled down) first stops taking tasks from the queue
(SIGWINCH); the tasks it already runs must finish before it is stopped, since a running
task that is not idempotent fails when its worker stops. Its heartbeat says how many it
runs (``tasks_running``); this polls that record, once per heartbeat interval.
"""

from __future__ import annotations

from typing import Final

import msgspec
import structlog
import trio

from proto import BackendUnavailableError, Keyspace, WorkerHeartbeat
from server import RedisClient, RedisCommandError

__all__ = ["TasksDone"]

log = structlog.get_logger()

_decoder: Final = msgspec.json.Decoder(WorkerHeartbeat)


class TasksDone:
    """Waits until a worker's heartbeat shows no task running.

    Args:
        redis: the supervisor's Redis client.
        keys: the fleet's key schema.
        interval_s: how often to read the heartbeat (the workers' heartbeat interval).
    """

    def __init__(self, redis: RedisClient, keys: Keyspace, *, interval_s: float) -> None:
        self._redis = redis
        self._keys = keys
        self._interval_s = interval_s

    async def wait(self, worker_id: str) -> None:
        """Return once ``worker_id`` runs no task: its heartbeat says ``tasks_running`` 0
        after it stopped taking tasks, or it has no heartbeat (gone, or never ran one).
        The caller bounds the wait; a Redis error is retried."""
        while True:
            running = await self._tasks_running(worker_id)
            if running == 0:
                return
            await trio.sleep(self._interval_s)

    async def _tasks_running(self, worker_id: str) -> int | None:
        try:
            reply = await self._redis.execute("GET", self._keys.worker_heartbeat(worker_id))
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("worker.tasks_read_failed", worker_id=worker_id, error=str(exc))
            return None
        if not isinstance(reply, bytes):
            return 0
        try:
            return _decoder.decode(reply).tasks_running
        except msgspec.MsgspecError:
            return 0
