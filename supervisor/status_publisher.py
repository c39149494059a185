"""The supervisor's status document for ``mcpfleet status`` (ADR-0013): every
``supervisor.status_interval_s`` it writes what it supervises — itself, its fronts and
workers with pid, state, uptime, restarts and whether their slot crash-loops, each worker's
load from its latest heartbeat and each front's from its load record
(``server/front_load.py``) — under ``Keyspace.supervisor_status`` with a TTL of three
intervals, and keeps its id in ``Keyspace.supervisors``. A supervisor that dies leaves
nothing behind for long; one that stops deletes both.

A heartbeat or load record shows in a row only when its pid is the slot's current child's:
a row between two children (backoff) has no load.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence

import msgspec
import structlog
import trio

from proto import (
    FrontLoad,
    Keyspace,
    ProcessStatus,
    SupervisorStatus,
    WorkerHeartbeat,
    encode_status_record,
)
from server import RedisClient
from server.refreshed_record import Commands, RecordRefresher
from supervisor.child_slot import ChildSlot, SlotState
from supervisor.heartbeat_reader import read_front_loads, read_heartbeats
from supervisor.worker_pool import WorkerPool

__all__ = ["StatusPublisher"]

log = structlog.get_logger()


class StatusPublisher:
    """Publishes one supervisor's status document until stopped.

    Args:
        redis: the supervisor's Redis client.
        keys: the fleet's key schema.
        supervisor_id: this supervisor's id.
        fronts: its front slots.
        pool: its workers.
        interval_s: time between two writes.

    Attributes:
        stopping: set when the fleet begins to stop (the document says ``stopping``).
    """

    def __init__(
        self,
        redis: RedisClient,
        keys: Keyspace,
        *,
        supervisor_id: str,
        fronts: Sequence[ChildSlot],
        pool: WorkerPool,
        interval_s: float,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._supervisor_id = supervisor_id
        self._fronts = fronts
        self._pool = pool
        self._refresher = RecordRefresher(redis, interval_s=interval_s, event="status")
        self._started_at = time.time()
        self._host = socket.gethostname()
        self.stopping = False

    async def run(
        self, *, task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Write the document every interval until the returned scope is cancelled.

        Cancellation: the document and the registration are deleted (within 1 s).
        """
        clear = [
            ("DEL", self._keys.supervisor_status(self._supervisor_id)),
            ("ZREM", self._keys.supervisors(), self._supervisor_id),
        ]
        with trio.CancelScope() as scope:
            task_status.started(scope)
            await self._refresher.run(self._write, clear)

    async def publish(self) -> None:
        """Write the document once; Redis errors are logged (once per failure streak)."""
        await self._refresher.refresh(self._write)

    async def _write(self) -> Commands:
        workers = [*self._pool.slots, *self._pool.retiring]
        beats = await read_heartbeats(self._redis, self._keys, workers)
        loads = await read_front_loads(self._redis, self._keys, self._fronts)
        now_ms = int(time.time() * 1000)
        document = encode_status_record(self._document(beats, loads, now_ms))
        ttl_ms = self._refresher.ttl_ms
        return [
            ("SET", self._keys.supervisor_status(self._supervisor_id), document, "PX", ttl_ms),
            ("ZADD", self._keys.supervisors(), now_ms + ttl_ms, self._supervisor_id),
            ("ZREMRANGEBYSCORE", self._keys.supervisors(), "-inf", now_ms),
        ]

    def _document(
        self, beats: dict[str, WorkerHeartbeat], loads: dict[str, FrontLoad], now_ms: int
    ) -> SupervisorStatus:
        now_s = now_ms / 1000
        supervisor = ProcessStatus(
            id=self._supervisor_id,
            role="supervisor",
            pid=os.getpid(),
            state="stopping" if self.stopping else "running",
            started_ms=int(self._started_at * 1000),
            uptime_s=round(now_s - self._started_at, 1),
        )
        fronts = [_front(slot, loads, now_s) for slot in self._fronts]
        workers = [_worker(slot, beats, now_s) for slot in self._pool.slots]
        retiring = [_worker(slot, beats, now_s, draining=True) for slot in self._pool.retiring]
        return SupervisorStatus(
            supervisor_id=self._supervisor_id,
            host=self._host,
            pid=os.getpid(),
            state=supervisor.state,
            updated_ms=now_ms,
            workers_min=self._pool.minimum,
            workers_max=self._pool.maximum,
            workers=len(self._pool),
            processes=(supervisor, *fronts, *workers, *retiring),
        )


def _front(slot: ChildSlot, loads: dict[str, FrontLoad], now_s: float) -> ProcessStatus:
    row = _process(slot, now_s)
    load = loads.get(slot.child_id or "")
    if load is None or load.pid != slot.pid:
        return row
    return msgspec.structs.replace(
        row,
        requests_served=load.requests_served,
        requests_inflight=load.requests_inflight,
        streams_open=load.streams_open,
    )


def _worker(
    slot: ChildSlot,
    beats: dict[str, WorkerHeartbeat],
    now_s: float,
    *,
    draining: bool = False,
) -> ProcessStatus:
    row = _process(slot, now_s, draining=draining)
    beat = beats.get(slot.child_id or "")
    if beat is None or beat.pid != slot.pid:
        return row
    return msgspec.structs.replace(
        row,
        inflight=beat.inflight,
        calls_served=beat.calls_served,
        waiting=beat.waiting,
        tasks_running=beat.tasks_running,
    )


def _process(slot: ChildSlot, now_s: float, *, draining: bool = False) -> ProcessStatus:
    """A child's row without its load."""
    running = slot.pid is not None
    state = SlotState.DRAINING if draining and running else slot.state
    return ProcessStatus(
        id=slot.child_id or f"{slot.role}-{slot.index}",
        role=slot.role,
        pid=slot.pid,
        state=state.value,
        started_ms=int(slot.started_at * 1000) if running else 0,
        uptime_s=round(now_s - slot.started_at, 1) if running else 0.0,
        restarts=slot.restarts,
        crash_looping=slot.crash_looping,
    )
