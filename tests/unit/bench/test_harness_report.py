"""The harness's report: ratios are taken against the SDK's row of the same workload, era and
client count; targets say met, not met, or not measured; the Markdown carries the ratio
columns."""

from __future__ import annotations

from bench.harness.report import ConfigResult, check_targets, ratios, to_json, to_markdown
from bench.harness.schedule import Config

ERA = "2026-07-28"


def _result(server: str, clients: int, rps: float, p50: float, cpu: float) -> ConfigResult:
    sample = {
        "rps": rps,
        "p50_ms": p50,
        "p90_ms": p50,
        "p99_ms": p50,
        "server_cpu_s_per_1000": cpu,
        "server_cpu_s_per_1000_by_role": {"front": cpu},
        "errors": {},
    }
    return ConfigResult(Config(server, "load", "echo", ERA, clients), [sample])


def _results() -> list[ConfigResult]:
    return [
        _result("sdk", 64, rps=1000.0, p50=2.0, cpu=1.0),
        _result("mcpfleet", 64, rps=1500.0, p50=1.0, cpu=3.0),
        _result("mcpfleet", 1, rps=500.0, p50=1.0, cpu=1.0),
    ]


def test_ratios_are_against_the_sdk_row_of_the_same_configuration() -> None:
    found = ratios(_results())

    assert found[f"mcpfleet echo {ERA} c=64"] == {
        "rps_ratio": 1.5,
        "p50_ms_ratio": 0.5,
        "p99_ms_ratio": 0.5,
        "server_cpu_s_per_1000_ratio": 3.0,
    }
    assert found[f"sdk echo {ERA} c=64"]["rps_ratio"] == 1.0
    assert f"mcpfleet echo {ERA} c=1" not in found  # no SDK twin: no ratio


def test_targets_are_met_not_met_or_not_measured() -> None:
    targets = {(t["name"], t["era"]): t for t in check_targets(_results())}

    assert targets[("echo 64 clients throughput", ERA)]["met"] is True
    assert targets[("echo server CPU per call", ERA)]["met"] is False
    assert targets[("echo 1 client p50", ERA)]["met"] is None


def test_the_markdown_has_a_table_per_workload_with_ratio_columns() -> None:
    results = _results()
    meta = {
        "run_id": "r1",
        "elapsed_s": 1.0,
        "machine": {
            "cpu_model": "cpu",
            "cores": 2,
            "python": "3.11",
            "platform": "linux",
            "git_commit": "abc",
            "git_dirty": False,
            "packages": {"sdk": {"mcp": "2.3.0"}},
        },
        "plan": {"repetitions": 1, "duration_s": 1.0, "warmup_s": 0.0, "mode": "smoke"},
    }

    markdown = to_markdown(to_json(results, meta), results)

    assert "### echo" in markdown
    assert "| req/s vs SDK | p50 vs SDK | CPU/call vs SDK |" in markdown
    assert "| mcpfleet | 2026-07-28 | 64 | 1,500 |" in markdown
    assert "1.50x | 0.50x | 3.00x |" in markdown
