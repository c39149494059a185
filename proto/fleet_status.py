"""The records ``mcpfleet status`` reads: each supervisor's status document and the
fleet's recent scale events (ADR-0013). Written to Redis by the supervisor
(``Keyspace.supervisor_status``, ``Keyspace.scale_events``) as JSON; ``mcpfleet status
--json`` prints them as stored, so their field names are a documented interface
(docs/operations.md, "Scaling"): fields are only ever added, with defaults.

Also each front's load record (``Keyspace.front_load``), which the front writes and its
supervisor copies into the document's row for it.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

__all__ = [
    "SCALE_EVENTS_KEPT",
    "FrontLoad",
    "ProcessStatus",
    "ScaleEvent",
    "SupervisorStatus",
    "decode_front_load",
    "decode_scale_event",
    "decode_supervisor_status",
    "encode_status_record",
]

SCALE_EVENTS_KEPT: Final = 100
"""How many scale events the fleet's list keeps (the newest)."""


class ProcessStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One process of a fleet as its supervisor sees it.

    Attributes:
        id: the process's id (``worker-1-3fa2c1``; the supervisor's own id for itself).
        role: ``supervisor``, ``front`` or ``worker``.
        pid: its process id; None between two children of a slot (backoff).
        state: ``starting``, ``ready``, ``draining``, ``backoff`` or ``stopped`` for a
            child; ``running`` or ``stopping`` for the supervisor.
        started_ms: when it started (epoch ms; 0 when no child runs).
        uptime_s: how long it had run when the document was written.
        restarts: how many times its slot started a child again.
        inflight: a worker's calls in hand (running or waiting for a thread), per its
            latest heartbeat; None for other roles or without a heartbeat.
        calls_served: a worker's calls answered, per its latest heartbeat.
        waiting: a worker's calls and tasks waiting for a sync thread.
        tasks_running: a worker's durable tasks running.
        requests_served: a front's JSON-RPC requests answered (each request of a batch;
            a listen counted as its stream opens), per its latest load record; None for
            other roles or without a record.
        requests_inflight: a front's JSON-RPC requests being served now (a call waiting
            for its worker included; open streams not).
        streams_open: a front's open SSE streams: GET streams and ``subscriptions/listen``
            streams over HTTP, listen subscriptions over stdio.
        crash_looping: whether the process's slot is in a crash loop: its children died
            young five times in a row, and the current one (if any) has not yet run long
            enough to end it (``supervisor.restart_backoff_max_s`` bounds its restarts).
    """

    id: str
    role: str
    pid: int | None
    state: str
    started_ms: int
    uptime_s: float
    restarts: int = 0
    inflight: int | None = None
    calls_served: int | None = None
    waiting: int | None = None
    tasks_running: int | None = None
    requests_served: int | None = None
    requests_inflight: int | None = None
    streams_open: int | None = None
    crash_looping: bool = False


class FrontLoad(msgspec.Struct, frozen=True, kw_only=True):
    """A front's load as it writes it every ``supervisor.status_interval_s``, stored under
    ``Keyspace.front_load`` with a TTL of three intervals and deleted when it stops.

    Attributes:
        pid: the front's process id (its supervisor uses a record only when it matches
            the slot's current child).
        requests_served: JSON-RPC requests it answered since it started.
        requests_inflight: JSON-RPC requests it is serving now.
        streams_open: SSE streams (GET, listen) or stdio listen subscriptions open now.
    """

    pid: int
    requests_served: int
    requests_inflight: int
    streams_open: int = 0


class SupervisorStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A supervisor's status document, rewritten about every second while it runs.

    Attributes:
        supervisor_id: its id (``supervisor-3fa2c1``, new at each start).
        host: the machine it runs on.
        pid: its process id.
        state: ``running``, or ``stopping`` once it got a stop signal.
        updated_ms: when this document was written (epoch ms).
        workers_min: the pool's lower bound (``--workers MIN-MAX``).
        workers_max: the pool's upper bound.
        workers: workers in the pool now (those retiring not counted).
        processes: the supervisor itself, then its fronts, then its workers (retiring
            ones last, ``draining``).
    """

    supervisor_id: str
    host: str
    pid: int
    state: str
    updated_ms: int
    workers_min: int
    workers_max: int
    workers: int
    processes: tuple[ProcessStatus, ...]


class ScaleEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One growth or shrink of a supervisor's worker pool.

    Attributes:
        at_ms: when it was decided (epoch ms).
        direction: ``up`` or ``down``.
        before: workers in the pool before (``from`` in JSON).
        after: workers in the pool after (``to`` in JSON).
        reason: the signal that decided it and its value, in words.
        supervisor_id: the supervisor whose pool it was.
    """

    at_ms: int
    direction: Literal["up", "down"]
    before: int = msgspec.field(name="from")
    after: int = msgspec.field(name="to")
    reason: str
    supervisor_id: str


_encoder: Final = msgspec.json.Encoder()
_status_decoder: Final = msgspec.json.Decoder(SupervisorStatus)
_event_decoder: Final = msgspec.json.Decoder(ScaleEvent)
_front_load_decoder: Final = msgspec.json.Decoder(FrontLoad)


def encode_status_record(record: SupervisorStatus | ScaleEvent | FrontLoad) -> bytes:
    """A status document, scale event or front load record as stored (JSON)."""
    return _encoder.encode(record)


def decode_supervisor_status(data: bytes) -> SupervisorStatus:
    """A stored status document.

    Raises:
        msgspec.DecodeError: not a status document.
    """
    return _status_decoder.decode(data)


def decode_scale_event(data: bytes) -> ScaleEvent:
    """A stored scale event.

    Raises:
        msgspec.DecodeError: not a scale event.
    """
    return _event_decoder.decode(data)


def decode_front_load(data: bytes) -> FrontLoad:
    """A stored front load record.

    Raises:
        msgspec.DecodeError: not a front load record.
    """
    return _front_load_decoder.decode(data)
