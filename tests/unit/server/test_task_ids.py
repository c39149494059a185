"""Task ids are safe on a command line: ``mcpfleet tasks cancel <id>`` must never read one
as an option."""

from __future__ import annotations

from server.task_store import new_task_id


def test_no_task_id_starts_with_a_dash() -> None:
    # 1 in 64 fresh ids would: 5000 draws miss that with probability ~1e-34.
    ids = [new_task_id() for _ in range(5000)]
    assert not [task_id for task_id in ids if task_id.startswith("-")]
    assert len(set(ids)) == len(ids)
    assert all(len(task_id) == 43 for task_id in ids)  # 256 bits, URL-safe base64
