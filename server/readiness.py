"""Readiness: can this front serve calls right now? (``GET /health/ready``, alias ``/ready``)

Ready means: not draining, the reply subscription is up (replies can reach us), Redis
answers, and at least one worker's heartbeat is current. Each probe costs one ZCOUNT,
bounded by a short deadline; liveness (``/health``) depends on nothing. With a JWKS
(``[auth]``, ADR-0016) the probe also says whether its latest fetch succeeded; a failed one
is ``degraded``, not unready: the keys fetched before keep verifying tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import msgspec
import trio

from proto import BackendUnavailableError, Keyspace, RedisCommandError
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
    """

    def __init__(
        self,
        redis: RedisClient,
        keys: Keyspace,
        *,
        subscribed: Callable[[], bool],
        draining: Callable[[], bool],
        jwks_fetched: Callable[[], bool] | None = None,
    ) -> None:
        self._jwks_fetched = jwks_fetched
        self._redis = redis
        self._live_key = keys.live_workers()
        self._subscribed = subscribed
        self._draining = draining

    async def check(self) -> ReadinessReport:
        checks = {
            "draining": "yes" if self._draining() else "no",
            "subscription": "ok" if self._subscribed() else "down",
        }
        now_ms = int(time.time() * 1000)
        try:
            with trio.fail_after(_PROBE_TIMEOUT_S):
                alive = await self._redis.execute("ZCOUNT", self._live_key, now_ms, "+inf")
            checks["redis"] = "ok"
            checks["workers"] = f"{alive} alive" if isinstance(alive, int) and alive else "none"
        except (BackendUnavailableError, RedisCommandError, trio.TooSlowError):
            checks["redis"] = "unreachable"
            checks["workers"] = "unknown"
        if self._jwks_fetched is not None:
            checks["jwks"] = "ok" if self._jwks_fetched() else "degraded"
        ready = (
            checks["draining"] == "no"
            and checks["subscription"] == "ok"
            and checks["redis"] == "ok"
            and checks["workers"] != "none"
        )
        return ReadinessReport(ready=ready, checks=checks)
