"""The metric specs (proto/metric_names.py): one name each, in the fleet's namespace, with
units and ``_total`` where Prometheus expects them, no label that could carry an id, and
every one documented for operators."""

from __future__ import annotations

from pathlib import Path

from proto import ALL_METRICS, REQUEST_DURATION_BUCKETS_S, TOOL_DURATION_BUCKETS_S

OPERATIONS = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


def test_names_are_unique_and_follow_the_conventions() -> None:
    names = [spec.name for spec in ALL_METRICS]
    assert len(names) == len(set(names))
    for name in names:
        assert name.startswith("mcpfleet_"), name
        assert name.endswith(("_total", "_seconds")) or name in {
            "mcpfleet_workers",
            "mcpfleet_queue_depth",
        }, name


def test_no_label_names_an_id() -> None:
    for spec in ALL_METRICS:
        for label in spec.labels:
            assert "id" not in label.split("_") and label not in {"pid", "session", "principal"}


def test_buckets_rise() -> None:
    for buckets in (REQUEST_DURATION_BUCKETS_S, TOOL_DURATION_BUCKETS_S):
        assert list(buckets) == sorted(set(buckets))


def test_every_metric_is_documented_with_its_labels() -> None:
    guide = OPERATIONS.read_text(encoding="utf-8")
    section = guide.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    for spec in ALL_METRICS:
        row = next(line for line in section.splitlines() if line.startswith(f"| `{spec.name}`"))
        for label in spec.labels:
            assert f"`{label}`" in row, (spec.name, label)
