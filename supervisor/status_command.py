"""``mcpfleet status``: what a fleet runs and how loaded it is (ADR-0013).

    mcpfleet status                  # the fleet `mcpfleet up` runs from ./.mcpfleet
    mcpfleet status --redis URL --fleet NAME --json

It reads, from the fleet's Redis: each live supervisor's status document (its processes
with pid, role, state, uptime, restarts, crash loops, each worker's calls served and load,
each front's requests served, in flight and streams open), the depths of the call and task
lanes, and the recent scale events. Every supervisor sharing
the fleet (several hosts on one Redis) shows. The Redis is found like the ``tasks``
command finds it (``--redis``, the configuration, or ``<data-dir>/run/fleet.json``).

Exit codes: 0 a supervisor runs; 1 none does for that fleet (said on stderr; the queues
and events are still printed); 2 usage or configuration errors, or a given Redis that
cannot be reached.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Final, TypeVar

import msgspec
import trio

from proto import (
    BackendUnavailableError,
    Keyspace,
    ProcessStatus,
    RedisAddress,
    ScaleEvent,
    SupervisorStatus,
    decode_scale_event,
    decode_supervisor_status,
    iso_time,
)
from server import RedisReply, open_redis, parse_redis_url
from server.queue_depths import QueueDepths, QueueSnapshot
from supervisor.config import ConfigError, FleetConfig
from supervisor.visibility_commands import running_fleet

__all__ = ["FleetStatus", "QueueStatus", "queue_status", "run_status_command"]

_COMMAND_TIMEOUT_S: Final = 5.0
_EVENTS_SHOWN: Final = 20
_NOT_RUNNING: Final = 1
_COLUMNS: Final = (
    "ID", "ROLE", "PID", "STATE", "UPTIME", "RESTARTS", "SERVED", "INFLIGHT", "WAITING", "TASKS",
    "STREAMS",
)  # fmt: skip
_CRASH_LOOP: Final = "/CRASH-LOOP"
"""Appended to the state of a crash-looping slot (one word: columns split on blanks)."""

_encoder: Final = msgspec.json.Encoder()
_T = TypeVar("_T")


class QueueStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Both lanes at one moment, as ``queues`` in ``mcpfleet status --json`` (field names
    documented in docs/operations.md, "Scaling"; only ever added).

    Attributes:
        calls_queued: calls in the stream no worker has taken.
        calls_taken: calls workers took and have not answered yet.
        oldest_call_wait_s: how long the oldest untaken call has waited (0 when none).
        tasks_queued: durable tasks waiting in the task queue.
        oldest_task_wait_s: how long the first of them has waited (0 when none).
    """

    calls_queued: int = 0
    calls_taken: int = 0
    oldest_call_wait_s: float = 0.0
    tasks_queued: int = 0
    oldest_task_wait_s: float = 0.0


def queue_status(snapshot: QueueSnapshot) -> QueueStatus:
    """What ``mcpfleet status`` shows of a read of the lanes."""
    return QueueStatus(
        calls_queued=snapshot.calls.depth,
        calls_taken=snapshot.calls_taken,
        oldest_call_wait_s=snapshot.calls.oldest_age_s,
        tasks_queued=snapshot.tasks.depth,
        oldest_task_wait_s=snapshot.tasks.oldest_age_s,
    )


class FleetStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What ``mcpfleet status --json`` prints (docs/operations.md, "Scaling").

    Attributes:
        fleet: the fleet's name (its key namespace).
        supervisors: each live supervisor's status document.
        queues: the call and task lanes now.
        scale_events: the latest scale events, newest first.
    """

    fleet: str
    supervisors: list[SupervisorStatus]
    queues: QueueStatus
    scale_events: list[ScaleEvent]


def run_status_command(*, as_json: bool, config: FleetConfig) -> int:
    """Print the fleet's status; returns the exit code (1: no supervisor running).

    Raises:
        ConfigError: the data directory's record of the fleet is unreadable, or the Redis
            URL is invalid.
        BackendUnavailableError: the Redis given cannot be reached.
    """
    given_redis = config.redis_url is not None
    record = Path(config.data_dir) / "run" / "fleet.json"
    if not given_redis and not record.is_file():
        return _not_running(
            f"no fleet runs from {config.data_dir} (no {record}); give a fleet's Redis "
            f"with --redis URL (and --fleet NAME) to look at one elsewhere"
        )
    config = running_fleet(config)
    try:
        address = parse_redis_url(config.redis_url or "")
    except ValueError as exc:
        raise ConfigError(f"invalid Redis URL: {exc}") from None
    try:
        status = trio.run(partial(_read, config, address))
    except (BackendUnavailableError, BaseExceptionGroup) as exc:
        if given_redis or not _is_unreachable(exc):
            raise
        # The fleet recorded there has stopped: its (embedded) Redis went with it.
        return _not_running(
            f"no supervisor is running for fleet {config.fleet!r}: the Redis it used "
            f"(recorded in {record}) does not answer"
        )
    sys.stdout.write(_json(status) if as_json else _table(status))
    if not status.supervisors:
        return _not_running(f"no supervisor is running for fleet {config.fleet!r}")
    return 0


def _is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis not answering, alone or in trio's exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        matched, rest = exc.split(BackendUnavailableError)
        return matched is not None and rest is None
    return isinstance(exc, BackendUnavailableError)


async def _read(config: FleetConfig, address: RedisAddress) -> FleetStatus:
    keys = Keyspace(config.fleet)
    async with open_redis(address, command_timeout_s=_COMMAND_TIMEOUT_S) as redis:
        members, events = await redis.execute_many(
            [
                ("ZRANGE", keys.supervisors(), 0, -1),
                ("LRANGE", keys.scale_events(), 0, _EVENTS_SHOWN - 1),
            ]
        )
        ids = [m.decode() for m in _items(members)]
        documents = (
            await redis.execute("MGET", *(keys.supervisor_status(i) for i in ids)) if ids else []
        )
        queues = queue_status(await QueueDepths(redis, keys).read())
    supervisors = [_decoded(decode_supervisor_status, d) for d in _items(documents)]
    scale_events = [_decoded(decode_scale_event, e) for e in _items(events)]
    return FleetStatus(
        fleet=config.fleet,
        supervisors=sorted(
            (s for s in supervisors if s is not None), key=lambda s: (s.host, s.pid)
        ),
        queues=queues,
        scale_events=[e for e in scale_events if e is not None],
    )


def _items(reply: RedisReply | list[RedisReply]) -> list[bytes]:
    """The bytes items of a list reply (an expired key's nil is skipped)."""
    return [item for item in reply if isinstance(item, bytes)] if isinstance(reply, list) else []


def _decoded(decode: Callable[[bytes], _T], data: bytes) -> _T | None:
    try:
        return decode(data)
    except msgspec.MsgspecError:
        return None  # written by a version that shaped it differently: not shown


def _json(status: FleetStatus) -> str:
    return msgspec.json.format(_encoder.encode(status), indent=2).decode() + "\n"


def _table(status: FleetStatus) -> str:
    out: list[str] = []
    count = len(status.supervisors)
    out.append(f"fleet {status.fleet!r}: {count} supervisor{'' if count == 1 else 's'} running")
    for supervisor in status.supervisors:
        out.append("")
        out.append(_supervisor_line(supervisor))
        rows = [_COLUMNS] + [_row(p) for p in supervisor.processes]
        out.extend("  " + line for line in _aligned(rows))
    queues = status.queues
    out += [
        "",
        "queues",
        f"  calls  {queues.calls_queued} queued (oldest waited "
        f"{queues.oldest_call_wait_s:.1f} s), {queues.calls_taken} taken by workers",
        f"  tasks  {queues.tasks_queued} queued (oldest waited {queues.oldest_task_wait_s:.1f} s)",
        "",
        "scale events (newest first)" if status.scale_events else "scale events: none",
    ]
    out.extend(f"  {_event_line(event)}" for event in status.scale_events)
    return "".join(f"{line}\n" for line in out)


def _supervisor_line(s: SupervisorStatus) -> str:
    scaling = (
        f"fixed at {s.workers_min}"
        if s.workers_min == s.workers_max
        else f"scaling {s.workers_min}-{s.workers_max}"
    )
    age_s = max(time.time() - s.updated_ms / 1000, 0.0)
    return (
        f"{s.supervisor_id} on {s.host} (pid {s.pid}), {s.state}: {s.workers} workers "
        f"({scaling}), as of {age_s:.1f} s ago"
    )


def _row(p: ProcessStatus) -> tuple[str, ...]:
    """One process: a front's requests show in the workers' SERVED and INFLIGHT columns."""
    front = p.role == "front"
    return (
        p.id,
        p.role,
        _number(p.pid),
        p.state + (_CRASH_LOOP if p.crash_looping else ""),
        _duration(p.uptime_s) if p.started_ms else "-",
        "-" if p.role == "supervisor" else str(p.restarts),
        _number(p.requests_served if front else p.calls_served),
        _number(p.requests_inflight if front else p.inflight),
        _number(p.waiting),
        _number(p.tasks_running),
        _number(p.streams_open),
    )


def _event_line(e: ScaleEvent) -> str:
    return (
        f"{iso_time(e.at_ms)}  {e.direction:<4}  {e.before} -> {e.after}  {e.reason}  "
        f"({e.supervisor_id})"
    )


def _aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _not_running(message: str) -> int:
    sys.stderr.write(f"mcpfleet: {message}\n")
    return _NOT_RUNNING
