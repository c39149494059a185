"""``WorkerConfig``: the worker processes' slice of the fleet configuration."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

__all__ = ["HEARTBEAT_TTL_INTERVALS", "RETIRE_ANSWER_S", "WorkerConfig"]

HEARTBEAT_TTL_INTERVALS: Final = 5
"""A worker's heartbeat key lives this many ``heartbeat_interval_s``: a few missed beats
(a Redis blip) do not make a live worker look gone."""

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
HeartbeatInterval = Annotated[float, msgspec.Meta(ge=0.1)]
"""At least 100 ms: each beat of each worker is a Redis round trip."""


RETIRE_ANSWER_S: Final = 2.0
"""A retired worker's drain (SIGUSR2, ADR-0014) lasts the app's longest call timeout plus
this: time to publish the last answers."""


class WorkerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of every worker process (``[worker]`` in mcpfleet.toml)."""

    max_concurrent_calls: PositiveInt = 100
    """Calls one worker process runs at once (async handlers as tasks, sync in threads)."""

    sync_threads: PositiveInt = 64
    """Threads for sync handlers per worker process; further sync calls queue for one.
    64: two workers then run blocking_wait(50) at 64 clients 1.19x the official SDK's
    rate, where 16 capped them at 640 calls/s (0.90x; docs/performance.md)."""

    default_timeout_s: PositiveFloat = 60.0
    """Per-call limit for tools that set none; on expiry the caller gets a tool error."""

    drain_timeout_s: PositiveFloat = 30.0
    """On SIGTERM, how long in-flight calls may take to finish before the worker exits."""

    heartbeat_interval_s: HeartbeatInterval = 3.0
    """How often a worker refreshes its heartbeat key (TTL: five intervals); at least
    0.1 s."""

    read_block_ms: PositiveInt = 1000
    """Longest blocking read on the call stream; bounds how fast a stop is noticed."""

    log_messages_per_s: PositiveInt = 50
    """Most ``ctx.log`` entries one call sends its client per second (a burst of as many,
    then that rate); the rest are dropped and counted in a warning at most once a second.
    The worker's own log gets every entry. A burst stays within what a front queues for one
    response stream (64 notifications)."""

    max_calls: NonNegativeInt = 0
    """Recycle a worker once it has answered this many calls: the supervisor starts a
    replacement, then drains the old one (no call is dropped); 0 = never. Read by the
    supervisor from the worker's heartbeat, so it may serve up to one heartbeat interval's
    worth of calls more (ADR-0014)."""

    max_rss_mb: NonNegativeInt = 0
    """Recycle a worker whose resident memory (``VmRSS``) exceeds this many MiB, as for
    ``max_calls``; 0 = never. Checked by the supervisor every half heartbeat interval."""

    task_slots: NonNegativeInt = 2
    """Durable tasks one worker process runs at once (ADR-0011): one rq thread each,
    dequeuing from the fleet's task queue; 0 = this worker runs no tasks."""
