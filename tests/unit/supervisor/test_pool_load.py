"""What the autoscaler tells its policy of the pool: slots by state (a slot in backoff is
no capacity on its way), the lanes' waiting work as read, and, from recent heartbeats
only, which workers are idle."""

from __future__ import annotations

from proto import WorkerHeartbeat
from server.queue_depths import LaneDepth, QueueSnapshot
from supervisor.autoscaler import pool_load
from supervisor.child_slot import ChildExit, ChildSlot, SlotState
from supervisor.config import ScalingConfig
from supervisor.health_policy import beat_is_recent
from supervisor.restart_policy import RestartPolicy
from supervisor.scaling_policy import ScaleUp, ScalingPolicy


async def _settled(exit: ChildExit) -> None:
    return None


def _slot(index: int, state: SlotState) -> ChildSlot:
    slot = ChildSlot(
        "worker",
        index,
        make_argv=lambda child_id: ["true"],
        on_exit=_settled,
        policy=RestartPolicy(max_backoff_s=1.0),
        ready_timeout_s=1.0,
    )
    slot.state = state
    slot.child_id = f"worker-{index}"
    return slot


def test_a_slot_in_backoff_is_not_counted_as_starting() -> None:
    slots = [_slot(0, SlotState.READY), _slot(1, SlotState.BACKOFF), _slot(2, SlotState.STARTING)]
    load = pool_load(slots, {}, QueueSnapshot())
    assert (load.ready, load.starting, load.restarting, load.size) == (1, 1, 1, 3)


def test_one_ready_one_in_backoff_and_ten_calls_queued_for_five_seconds_grow_the_pool() -> None:
    slots = [_slot(0, SlotState.READY), _slot(1, SlotState.BACKOFF)]
    beats = {"worker-0": WorkerHeartbeat(pid=1, inflight=4, calls_served=9)}
    load = pool_load(slots, beats, QueueSnapshot(calls=LaneDepth(10, 5.0)))
    policy = ScalingPolicy(ScalingConfig(), minimum=1, maximum=8, calls_per_worker=10, task_slots=0)
    decision = policy.decide(load, now=100.0)
    assert isinstance(decision, ScaleUp)
    assert decision.count == 1


def test_the_lanes_waiting_work_is_passed_on_as_read() -> None:
    queues = QueueSnapshot(calls=LaneDepth(10, 5.0), calls_taken=4, tasks=LaneDepth(3, 2.5))
    load = pool_load([_slot(0, SlotState.READY)], {}, queues)
    assert (load.queued_calls, load.oldest_call_wait_s) == (10, 5.0)
    assert (load.queued_tasks, load.oldest_task_wait_s) == (3, 2.5)


def test_only_a_ready_worker_with_a_recent_idle_beat_is_idle() -> None:
    slots = [_slot(0, SlotState.READY), _slot(1, SlotState.READY), _slot(2, SlotState.READY)]
    beats = {  # worker-2's beat was not recent, so the reader left it out
        "worker-0": WorkerHeartbeat(pid=1, inflight=0, calls_served=3),
        "worker-1": WorkerHeartbeat(pid=2, inflight=1, calls_served=3),
    }
    assert pool_load(slots, beats, QueueSnapshot()).idle == 1


def test_a_beat_is_recent_within_the_bound_read_from_its_expiry_score() -> None:
    ttl_ms, now_ms = 15_000, 1_000_000
    written = now_ms - 6_000  # six seconds ago: its score is written + TTL
    assert beat_is_recent(written + ttl_ms, ttl_ms, now_ms=now_ms, within_ms=6_000)
    assert not beat_is_recent(written + ttl_ms, ttl_ms, now_ms=now_ms, within_ms=5_999)
    assert not beat_is_recent(None, ttl_ms, now_ms=now_ms, within_ms=6_000)
