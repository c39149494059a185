"""Redis key names: namespaced by fleet, per-entity ids as Cluster hash tags."""

from __future__ import annotations

import pytest
import redis
from rq import Queue
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.registry import StartedJobRegistry

from proto import CALL_GROUP, Keyspace


def _hash_tag(key: str) -> str:
    """The part Redis Cluster hashes: between the first ``{`` and the next ``}``."""
    start = key.index("{") + 1
    return key[start : key.index("}", start)]


def test_names_contain_the_fleet() -> None:
    ks = Keyspace("blue")
    assert ks.fleet == "blue"
    for name in (ks.call_stream(), ks.reply_channel("f1"), ks.worker_heartbeat("w1")):
        assert name.startswith("mcpf:blue:")


def test_exact_names() -> None:
    ks = Keyspace("t1")
    assert ks.call_stream() == "mcpf:t1:calls"
    assert ks.reply_channel("front-a") == "mcpf:t1:replies:{front-a}"
    assert ks.worker_heartbeat("worker-0-abc") == "mcpf:t1:worker:{worker-0-abc}"
    assert ks.front_load("front-0-abc") == "mcpf:t1:front:{front-0-abc}"


@pytest.mark.parametrize("entity", ["front-1", "w", "a.b_c-9"])
def test_per_entity_ids_are_hash_tags(entity: str) -> None:
    ks = Keyspace("f")
    assert _hash_tag(ks.reply_channel(entity)) == entity
    assert _hash_tag(ks.worker_heartbeat(entity)) == entity
    assert _hash_tag(ks.front_load(entity)) == entity


def test_fleets_do_not_collide() -> None:
    a, b = Keyspace("a"), Keyspace("b")
    assert a.call_stream() != b.call_stream()
    assert a.reply_channel("x") != b.reply_channel("x")
    assert a.worker_heartbeat("x") != b.worker_heartbeat("x")


def test_different_entities_get_different_names() -> None:
    ks = Keyspace("f")
    assert ks.reply_channel("a") != ks.reply_channel("b")
    assert ks.reply_channel("a") != ks.worker_heartbeat("a")


@pytest.mark.parametrize("fleet", ["default", "t0123456789ab", "my.fleet-1_x", "A"])
def test_valid_fleet_names(fleet: str) -> None:
    assert Keyspace(fleet).fleet == fleet


@pytest.mark.parametrize(
    "fleet", ["", "a:b", "a{b", "a}b", "{x}", "a b", "a\tb", "a\nb", "a\rb", " ", ":"]
)
def test_invalid_fleet_names_raise(fleet: str) -> None:
    with pytest.raises(ValueError, match="fleet name"):
        Keyspace(fleet)


def test_call_group_name() -> None:
    assert CALL_GROUP == "workers"


def test_fleet_wide_change_names() -> None:
    ks = Keyspace("t1")
    assert ks.catalog_digest() == "mcpf:t1:catalog-digest"
    assert ks.catalog_digest("prompts") == "mcpf:t1:catalog-digest:prompts"
    assert ks.change_channel() == "mcpf:t1:changes"
    assert Keyspace("t2").change_channel() != ks.change_channel()


def test_the_task_queues_keys_are_rqs_own() -> None:
    """The task threads and the supervisor write rq's keys without rq's worker classes
    (ADR-0020): they must be the keys rq itself reads."""
    ks = Keyspace("blue")
    queue = Queue(ks.task_queue(), connection=redis.Redis())  # no connection is made
    assert ks.task_queue_list() == queue.key
    assert ks.task_queue_taken() == IntermediateQueue.get_intermediate_queue_key(queue.key)
    assert ks.task_started() == StartedJobRegistry(queue=queue).key
    assert ks.task_job("abc_-9") == Job.key_for("abc_-9")
