"""The worker's heartbeat: a key with a TTL that says "this consumer is alive".

A supervisor settles the pending calls of any consumer whose heartbeat is gone, which
covers workers whose own supervisor died with them (a restart mints new worker ids).

The record also carries the worker's load, which its supervisor's autoscaler reads
(ADR-0013). One part of it must be fresh: whether calls wait for a free sync thread. So
the worker looks at its load every ``_WATCH_S`` (no Redis involved) and beats at once,
between two regular beats, when that flips between none and some.
"""

from __future__ import annotations

import asyncio
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

_WATCH_S: Final = 0.25
"""How often the load is looked at for an early beat; at most one beat per look."""
_encoder: Final = msgspec.json.Encoder()


class Heartbeat:
    """Writes this worker's heartbeat until stopped.

    Args:
        redis: the worker's Redis client.
        keys: the fleet's key schema.
        worker_id: this worker's id.
        interval_s: time between writes; the key lives five intervals.
        status: this worker's record as of now, for each beat.
    """

    def __init__(
        self,
        redis: AsyncRedis,
        keys: Keyspace,
        worker_id: str,
        *,
        interval_s: float,
        status: Callable[[], WorkerHeartbeat],
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
        await self._write(self._status())

    async def _write(self, record: WorkerHeartbeat) -> None:
        now_ms = int(time.time() * 1000)
        await self._redis.execute_many(
            [
                ("SET", self._key, _encoder.encode(record), "PX", self._ttl_ms),
                ("ZADD", self._live_key, now_ms + self._ttl_ms, self._worker_id),
                ("ZREMRANGEBYSCORE", self._live_key, "-inf", now_ms),
            ]
        )

    async def run(self) -> None:
        """Beat every interval, and early when calls start or stop waiting for a thread,
        until cancelled; Redis errors are logged and retried."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self._interval_s
        was_waiting = self._status().waiting > 0
        while True:
            await asyncio.sleep(min(_WATCH_S, max(due - loop.time(), 0.0)))
            record = self._status()
            is_waiting = record.waiting > 0
            if loop.time() < due and is_waiting == was_waiting:
                continue
            was_waiting = is_waiting
            due = loop.time() + self._interval_s
            try:
                await self._write(record)
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
