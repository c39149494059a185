"""The worker's heartbeat: a key with a TTL that says "this consumer is alive".

A supervisor settles the pending calls of any consumer whose heartbeat is gone, which
covers workers whose own supervisor died with them (a restart mints new worker ids).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Final

import msgspec
import structlog

from proto import BackendUnavailableError, Keyspace, RedisCommandError, WorkerHeartbeat
from workers.config import HEARTBEAT_TTL_INTERVALS
from workers.redis_connection import AsyncRedis

__all__ = ["Heartbeat"]

log = structlog.get_logger()

_encoder: Final = msgspec.json.Encoder()


class Heartbeat:
    """Writes this worker's heartbeat until stopped.

    Args:
        redis: the worker's Redis client.
        keys: the fleet's key schema.
        worker_id: this worker's id.
        interval_s: time between writes; the key lives five intervals.
        status: returns ``(inflight, calls_served)`` at each beat.
    """

    def __init__(
        self,
        redis: AsyncRedis,
        keys: Keyspace,
        worker_id: str,
        *,
        interval_s: float,
        status: Callable[[], tuple[int, int]],
    ) -> None:
        self._redis = redis
        self._key = keys.worker_heartbeat(worker_id)
        self._live_key = keys.live_workers()
        self._worker_id = worker_id
        self._interval_s = interval_s
        self._ttl_ms = int(interval_s * HEARTBEAT_TTL_INTERVALS * 1000)
        self._status = status

    async def beat(self) -> None:
        """Write the heartbeat once (raises on Redis errors: the first beat must land)."""
        inflight, served = self._status()
        record = WorkerHeartbeat(pid=os.getpid(), inflight=inflight, calls_served=served)
        now_ms = int(time.time() * 1000)
        await self._redis.execute_many(
            [
                ("SET", self._key, _encoder.encode(record), "PX", self._ttl_ms),
                ("ZADD", self._live_key, now_ms + self._ttl_ms, self._worker_id),
                ("ZREMRANGEBYSCORE", self._live_key, "-inf", now_ms),
            ]
        )

    async def run(self) -> None:
        """Beat every interval until cancelled; Redis errors are logged and retried."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.beat()
            except (BackendUnavailableError, RedisCommandError) as exc:
                log.warning("worker.heartbeat_failed", error=str(exc))

    async def clear(self) -> None:
        """Delete the heartbeat on a clean exit (nothing is left pending by then)."""
        try:
            await self._redis.execute_many(
                [("DEL", self._key), ("ZREM", self._live_key, self._worker_id)]
            )
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("worker.heartbeat_clear_failed", error=str(exc))
