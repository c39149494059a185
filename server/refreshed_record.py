"""A Redis record a process rewrites every interval, with a TTL of a few intervals, and
deletes when it stops: what a reader sees is either fresh or gone soon after its writer is
(the supervisor's status document, a front's load record; ADR-0013).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import structlog
import trio

from proto import BackendUnavailableError, RedisArg, RedisCommandError
from server.redis_client import RedisClient

__all__ = ["TTL_INTERVALS", "RecordRefresher"]

log = structlog.get_logger()

TTL_INTERVALS: Final = 3
"""A record outlives its last write by this many intervals."""
_CLEAR_TIMEOUT_S: Final = 1.0

Commands = Sequence[Sequence[RedisArg]]


class RecordRefresher:
    """Runs a record's writes every ``interval_s`` and its deletion at the end.

    Args:
        redis: the process's Redis client.
        interval_s: time between two writes.
        event: the log events' prefix (``<event>.publish_failed`` once per outage of the
            writes, ``<event>.clear_failed`` if the deletion fails).

    Attributes:
        ttl_ms: the TTL each write should set (``TTL_INTERVALS`` intervals).
    """

    def __init__(self, redis: RedisClient, *, interval_s: float, event: str) -> None:
        self._redis = redis
        self._interval_s = interval_s
        self._event = event
        self._failing = False
        self.ttl_ms = int(interval_s * TTL_INTERVALS * 1000)

    async def run(self, write: Callable[[], Awaitable[Commands]], clear: Commands) -> None:
        """Run ``write()``'s commands every interval until cancelled; then ``clear``
        (shielded, within 1 s: the record expires anyway)."""
        try:
            while True:
                await self.refresh(write)
                await trio.sleep(self._interval_s)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(_CLEAR_TIMEOUT_S):
                await self._clear(clear)

    async def refresh(self, write: Callable[[], Awaitable[Commands]]) -> None:
        """Write once; a Redis error is logged (once per failure streak), and the next
        interval tries again."""
        try:
            await self._redis.execute_many(await write())
        except (BackendUnavailableError, RedisCommandError) as exc:
            if not self._failing:
                log.warning(f"{self._event}.publish_failed", error=str(exc))
            self._failing = True
            return
        self._failing = False

    async def _clear(self, commands: Commands) -> None:
        try:
            await self._redis.execute_many(commands)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning(f"{self._event}.clear_failed", error=str(exc))
