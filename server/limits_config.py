"""``LimitsConfig``: rate limits and admission control (``[limits]`` in mcpfleet.toml,
ADR-0017). Every limit is off by default: a fleet serves what it can until its operator
says how much each caller may ask of it."""

from __future__ import annotations

import math
from typing import Annotated

import msgspec

__all__ = ["LimitsConfig", "ToolRate"]

Rate = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
"""Tokens added per second (0: no bucket)."""
Burst = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
"""The most a bucket holds (0: one second's worth of its rate, at least 1)."""


def bucket_burst(rate: float, burst: int) -> int:
    """The burst a bucket of ``rate`` gets: ``burst``, or one second's worth when 0."""
    return burst or max(1, math.ceil(rate))


class ToolRate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One tool's bucket, per caller (an entry of ``limits.tool_rates``)."""

    rate: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
    """Calls of the tool per second each caller may make, on average."""

    burst: Burst = 0
    """Calls of the tool a caller may make at once after a pause (0: one second's worth,
    at least 1)."""

    @property
    def bucket_burst(self) -> int:
        """:attr:`burst`, or its default."""
        return bucket_burst(self.rate, self.burst)


class LimitsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of the limits every front enforces through Redis, so that they hold for the
    whole fleet however many fronts (and hosts) serve it (``[limits]``)."""

    rate: Rate = 0.0
    """Requests per second each caller may make on average (``MCPFLEET_RATE_LIMIT_RATE``):
    every request that puts work on a worker (``tools/call``, plain or as a task,
    ``resources/read``, ``prompts/get``, ``completion/complete``) takes a token from the
    caller's bucket; an empty bucket answers 429. 0: no per-caller limit."""

    burst: Burst = 0
    """The caller's bucket size: requests it may make at once after a pause
    (``MCPFLEET_RATE_LIMIT_BURST``). 0: one second's worth of ``rate``, at least 1."""

    tool_rates: dict[str, ToolRate] = msgspec.field(default_factory=dict)
    """Per-tool buckets, per caller: ``{ tool = { rate = …, burst = … } }``; a call of
    such a tool needs a token from this bucket as well as from the caller's. A name the
    app does not register stops ``mcpfleet up``."""

    global_rate: Rate = 0.0
    """Requests per second the whole fleet takes from all callers together (a bucket
    every caller shares, checked with theirs). 0: none."""

    global_burst: Burst = 0
    """The fleet bucket's size. 0: one second's worth of ``global_rate``, at least 1."""

    max_queued: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 0
    """Work each lane may hold waiting for a worker (``MCPFLEET_MAX_QUEUED``): calls no
    worker has taken yet on the call lane, queued tasks on the task lane. A request that
    would queue past it is refused with 503 before anything is queued, and
    ``/health/ready`` reports the lane full while it is. 0: no bound."""

    max_queued_tasks: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] | None = None
    """The task lane's own bound, when it should differ from ``max_queued`` (tasks wait
    longer than calls by nature). 0: none; None: ``max_queued``."""

    retry_after_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 1
    """``Retry-After`` (whole seconds) of the refusals no bucket times: a full lane, too
    many unfinished tasks."""

    unready_when_full: bool = True
    """Whether ``/health/ready`` answers 503 while a lane is full (it reports ``queue``
    either way). Every front reads the same lanes, so all turn unready together: a load
    balancer that probes readiness then sheds the load itself. False keeps them ready (the
    fronts still refuse what would overflow the lane)."""

    max_tasks_per_principal: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    """Unfinished durable tasks (``working`` or ``input_required``) each caller may have
    at once; a ``tools/call`` that would create one more is refused with 429 before it is
    created. A task stops counting once it ends (completed, failed, cancelled, including
    a failure the supervisor settles after its worker was lost) or expires. 0: no bound;
    at most 1000 (a refusal at the bound reads that many task records)."""

    trusted_proxy_hops: Annotated[int, msgspec.Meta(ge=0, le=16)] = 0
    """Proxies in front of the HTTP fronts that append the address they received from to
    ``X-Forwarded-For``: an anonymous caller's bucket is keyed by the address the
    outermost of them saw (the Nth entry from the right). 0: the TCP peer's address (what
    to keep when clients reach the fronts directly, since any client can send the
    header)."""

    def __post_init__(self) -> None:
        for tool in self.tool_rates:
            if not tool:
                raise ValueError("tool_rates: a tool name must not be empty")

    def inconsistency(self) -> str | None:
        """What contradicts itself across keys, which separate layers (the file, two
        environment variables) may set: checked once they are merged."""
        if self.burst and not self.rate:
            return "limits.burst needs a limits.rate (set the rate, or leave burst at 0)"
        if self.global_burst and not self.global_rate:
            return "limits.global_burst needs a limits.global_rate"
        return None

    @property
    def caller_burst(self) -> int:
        """The caller's bucket size (``burst`` or its default)."""
        return bucket_burst(self.rate, self.burst)

    @property
    def fleet_burst(self) -> int:
        """The fleet bucket's size (``global_burst`` or its default)."""
        return bucket_burst(self.global_rate, self.global_burst)

    @property
    def limits_rates(self) -> bool:
        """Whether any token bucket applies to some request."""
        return bool(self.rate or self.global_rate or self.tool_rates)

    @property
    def call_bound(self) -> int:
        """The call lane's bound (0: none)."""
        return self.max_queued

    @property
    def limits_tasks(self) -> bool:
        """Whether any limit applies to creating a task."""
        return self.limits_rates or self.task_bound > 0 or self.max_tasks_per_principal > 0

    @property
    def task_bound(self) -> int:
        """The task lane's bound (0: none)."""
        return self.max_queued if self.max_queued_tasks is None else self.max_queued_tasks
