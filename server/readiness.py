"""Readiness: can this front serve calls right now? (``GET /health/ready``, alias ``/ready``)

Ready means: not draining, the reply subscription is up (replies can reach us), Redis
answers, at least one worker's heartbeat is current, and, when ``[limits]`` bounds the
lanes, none of them is full (ADR-0017; ``limits.unready_when_full``). Each probe costs one
ZCOUNT, plus one MULTI/EXEC of the lanes' counts when they are bounded, bounded by a short
deadline; liveness (``/health``) depends on nothing. With a JWKS (``[auth]``, ADR-0016) the
probe also says whether its latest fetch succeeded; a failed one is ``degraded``, not
unready: the keys fetched before keep verifying tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import msgspec
import trio

from proto import BackendUnavailableError, Keyspace, QueueLane, RedisCommandError
from server.limits_config import LimitsConfig
from server.queue_depths import QueueDepths
from server.redis_client import RedisClient

__all__ = ["Readiness", "ReadinessReport"]

_PROBE_TIMEOUT_S: Final = 1.0


class ReadinessReport(msgspec.Struct, frozen=True):
    """The probe's JSON body: the verdict and each check's outcome."""

    ready: bool
    checks: dict[str, str]


class Readiness:
    """Runs the readiness checks.

    Args:
        redis: the front's Redis client.
        keys: the fleet's key schema.
        subscribed: whether the reply subscription is up.
        draining: whether the front is shutting down.
        jwks_fetched: whether the latest JWKS fetch succeeded (None: no JWKS).
        limits: the lanes' bounds (``max_queued``) and whether a full lane makes the
            front unready.
    """

    def __init__(
        self,
        redis: RedisClient,
        keys: Keyspace,
        *,
        subscribed: Callable[[], bool],
        draining: Callable[[], bool],
        jwks_fetched: Callable[[], bool] | None = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        self._jwks_fetched = jwks_fetched
        self._redis = redis
        self._live_key = keys.live_workers()
        self._subscribed = subscribed
        self._draining = draining
        bounds = limits or LimitsConfig()
        self._bounds = {QueueLane.CALLS: bounds.call_bound, QueueLane.TASKS: bounds.task_bound}
        self._queues = QueueDepths(redis, keys) if any(self._bounds.values()) else None
        self._full_is_unready = bounds.unready_when_full

    async def check(self) -> ReadinessReport:
        checks = {
            "draining": "yes" if self._draining() else "no",
            "subscription": "ok" if self._subscribed() else "down",
        }
        now_ms = int(time.time() * 1000)
        try:
            with trio.fail_after(_PROBE_TIMEOUT_S):
                alive = await self._redis.execute("ZCOUNT", self._live_key, now_ms, "+inf")
                if self._queues is not None:
                    checks["queue"] = self._lanes_state(*await self._queues.waiting())
            checks["redis"] = "ok"
            checks["workers"] = f"{alive} alive" if isinstance(alive, int) and alive else "none"
        except (BackendUnavailableError, RedisCommandError, trio.TooSlowError):
            checks["redis"] = "unreachable"
            checks["workers"] = "unknown"
            if self._queues is not None:
                checks["queue"] = "unknown"
        if self._jwks_fetched is not None:
            checks["jwks"] = "ok" if self._jwks_fetched() else "degraded"
        ready = (
            checks["draining"] == "no"
            and checks["subscription"] == "ok"
            and checks["redis"] == "ok"
            and checks["workers"] != "none"
            and not (self._full_is_unready and checks.get("queue", "ok").startswith("full"))
        )
        return ReadinessReport(ready=ready, checks=checks)

    def _lanes_state(self, calls: int, tasks: int) -> str:
        """``ok``, or ``full: …`` naming each lane at its bound (new work there is refused
        with 503 until it drains)."""
        full = [
            f"{waiting} {lane} waiting (max {bound})"
            for lane, waiting in ((QueueLane.CALLS, calls), (QueueLane.TASKS, tasks))
            if (bound := self._bounds[lane]) and waiting >= bound
        ]
        return "full: " + ", ".join(full) if full else "ok"
