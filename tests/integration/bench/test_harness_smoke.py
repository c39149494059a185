"""The benchmark harness end to end in its tiny mode (``--smoke``): both servers start, pass
the correctness check, are driven in both eras, and the run writes well-formed JSON and
Markdown with ratios to the SDK. Keeps ``make bench`` from rotting; nothing here asserts a
speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_smoke_run_writes_json_and_markdown_with_ratios(tmp_path: Path) -> None:
    out = tmp_path / "results"

    proc = subprocess.run(
        [sys.executable, "-m", "bench.harness", "--smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [json_path] = out.glob("*.json")
    [md_path] = [p for p in out.glob("*.md") if p.name != "latest.md"]
    assert (out / "latest.md").read_text() == md_path.read_text()
    document = json.loads(json_path.read_text())
    assert document["plan"]["mode"] == "smoke"
    assert document["machine"]["cores"] >= 1
    configs = {c["key"]: c for c in document["configs"]}
    assert {c["server"] for c in configs.values()} == {"sdk", "mcpfleet"}
    assert {c["kind"] for c in configs.values()} == {"load", "tasks", "progress"}
    for config in configs.values():
        assert config["errors"] == {}, config["key"]
        assert len(config["samples"]) == 1
    for era in ("2026-07-28", "2025-11-25"):
        fleet = configs[f"mcpfleet echo {era} c=2"]
        assert fleet["median"]["rps"] > 0
        assert fleet["median"]["server_cpu_s_per_1000"] > 0
        assert fleet["median"]["redis_commands_per_call"] > 0
        assert fleet["ratios"]["rps_ratio"] > 0
        assert configs[f"sdk echo {era} c=2"]["ratios"]["rps_ratio"] == 1.0
    assert configs["mcpfleet tasks(echo x5) 2026-07-28 c=2"]["samples"][0]["completed"] == 5
    assert any(t["met"] is not None for t in document["targets"])
    markdown = md_path.read_text()
    assert "| req/s vs SDK |" in markdown
    assert "| mcpfleet | 2026-07-28 | 2 |" in markdown
    assert "## Targets" in markdown
