"""The benchmark's load generator against a real fleet: every flow completes in both eras
with no error, and a reply its workload does not expect is counted, not raised. Correctness
only: nothing here asserts a speed."""

from __future__ import annotations

import pytest

from bench.loadgen import (
    LoadSpec,
    Workload,
    run_load,
    run_progress,
    run_tasks,
    workload,
)
from bench.loadgen.workloads import ExpectText
from tests.fixtures.fleet import RunningFleet, module_fleet

ERAS = ["2026-07-28", "2025-11-25"]

bench_fleet = module_fleet("bench.apps.mcpfleet_tools:app", workers=1)


@pytest.mark.parametrize("era", ERAS)
def test_echo_closed_loop_completes_without_errors(bench_fleet: RunningFleet, era: str) -> None:
    result = run_load(
        LoadSpec(bench_fleet.url, era, workload("echo"), clients=4, duration_s=1.0, warmup_s=0.2)
    )

    assert result.errors == {}, result.error_samples
    assert result.requests > 0
    assert result.rps > 0
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms <= result.max_ms
    assert result.generator_cpu_s > 0
    assert result.to_json()["requests"] == result.requests


def test_clients_spread_over_two_processes_are_merged(bench_fleet: RunningFleet) -> None:
    result = run_load(
        LoadSpec(
            bench_fleet.url,
            "2026-07-28",
            workload("echo"),
            clients=4,
            duration_s=0.5,
            warmup_s=0.1,
            processes=2,
        )
    )

    assert result.errors == {}, result.error_samples
    assert result.requests > 0
    assert result.processes == 2


@pytest.mark.parametrize("era", ERAS)
def test_a_reply_failing_its_check_is_counted_as_an_error(
    bench_fleet: RunningFleet, era: str
) -> None:
    wrong = Workload("echo-wrong", "echo", {"text": "sent"}, ExpectText("something else"))

    result = run_load(LoadSpec(bench_fleet.url, era, wrong, clients=2, duration_s=0.3, warmup_s=0))

    assert result.requests == 0
    assert result.errors["check"] > 0
    assert "something else" in result.error_samples[0]


def test_a_tool_error_is_counted_by_kind(bench_fleet: RunningFleet) -> None:
    failing = Workload("fail", "fail", {"message": "boom"})

    result = run_load(
        LoadSpec(bench_fleet.url, "2026-07-28", failing, clients=1, duration_s=0.3, warmup_s=0)
    )

    assert result.requests == 0
    assert set(result.errors) == {"tool_error"}


@pytest.mark.parametrize("era", ERAS)
def test_tasks_complete_and_their_results_check(bench_fleet: RunningFleet, era: str) -> None:
    result = run_tasks(bench_fleet.url, era, count=6, clients=2)

    assert result.errors == {}, result.error_samples
    assert result.completed == 6
    assert result.polls_per_task >= 1
    assert result.tasks_per_s > 0


@pytest.mark.parametrize("era", ERAS)
def test_progress_notifications_are_timed(bench_fleet: RunningFleet, era: str) -> None:
    result = run_progress(bench_fleet.url, era, steps=3, interval_ms=50)

    assert result.errors == {}, result.error_samples
    assert result.notifications == 3
    assert 0 < result.p50_ms <= result.p99_ms


def test_the_cli_prints_the_result_as_json(bench_fleet: RunningFleet) -> None:
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--url", bench_fleet.url, "--era", "2025-11-25",
         "--clients", "2", "--duration", "0.3", "--warmup", "0", "--json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip

    result = json.loads(out.stdout)
    assert result["errors"] == {}
    assert result["requests"] > 0
