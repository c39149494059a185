"""The harness's schedule: every repetition runs every configuration once, the order rotates,
the servers of one workload run next to each other and swap sides, and repetitions reduce to
medians while errors add up."""

from __future__ import annotations

from bench.harness.schedule import (
    Config,
    Plan,
    expected_seconds,
    full_plan,
    median_fields,
    rotated,
    smoke_plan,
    summed_errors,
)


def test_the_full_plan_has_the_issues_workloads() -> None:
    configs = full_plan(("sdk", "mcpfleet"))

    keys = {c.key for c in configs}
    for server in ("sdk", "mcpfleet"):
        for era in ("2026-07-28", "2025-11-25"):
            for clients in (1, 16, 64):
                assert f"{server} echo {era} c={clients}" in keys
        assert f"{server} cpu_burn(5) 2026-07-28 c=16" in keys
        assert f"{server} wait(50) 2026-07-28 c=256" in keys
        assert f"{server} blocking_wait(50) 2026-07-28 c=64" in keys
    assert not any(c.server == "sdk" and c.kind != "load" for c in configs)
    assert "mcpfleet tasks(echo x1000) 2026-07-28 c=16" in keys
    assert len(keys) == len(configs)


def test_every_repetition_runs_every_configuration_once_in_a_rotated_order() -> None:
    configs = full_plan(("sdk", "mcpfleet"))

    orders = [rotated(configs, repetition) for repetition in range(3)]

    for order in orders:
        assert sorted(order, key=lambda c: c.key) == sorted(configs, key=lambda c: c.key)
    assert orders[0][0] != orders[1][0] != orders[2][0]


def test_both_sides_of_a_ratio_run_next_to_each_other_and_swap_sides() -> None:
    configs = smoke_plan(("sdk", "mcpfleet"))

    first, second = rotated(configs, 0), rotated(configs, 1)

    pair = [c for c in first if c.label == "echo" and c.era == "2026-07-28"]
    assert abs(first.index(pair[0]) - first.index(pair[1])) == 1
    swapped = [c for c in second if c.label == "echo" and c.era == "2026-07-28"]
    assert [c.server for c in swapped] == [c.server for c in reversed(pair)]


def test_repetitions_reduce_to_medians_and_errors_add_up() -> None:
    samples = [
        {"rps": 10.0, "p50_ms": 3.0, "errors": {"check": 1}},
        {"rps": 30.0, "p50_ms": 1.0, "errors": {}},
        {"rps": 20.0, "p50_ms": 2.0, "errors": {"check": 2, "http_503": 1}},
    ]

    assert median_fields(samples, ("rps", "p50_ms", "absent")) == {"rps": 20.0, "p50_ms": 2.0}
    assert summed_errors(samples) == {"check": 3, "http_503": 1}


def test_the_expected_duration_counts_warm_up_and_measurement() -> None:
    plan = Plan(
        configs=(Config("sdk", "load", "echo", "2026-07-28", 1),),
        repetitions=3,
        duration_s=5.0,
        warmup_s=1.0,
    )

    assert expected_seconds(plan, per_run_overhead_s=0.0) == 18.0
