"""Reducing a run's raw samples to medians and ratios against the SDK, checking the issue's
targets, and writing it all as JSON (everything, raw repetitions included) and Markdown
(one table per workload)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.harness.schedule import (
    ERA_HANDSHAKE,
    ERA_STATELESS,
    Config,
    median_fields,
    summed_errors,
)

REFERENCE = "sdk"
MEDIAN_FIELDS = (
    "rps",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "generator_cpu_per_call_us",
    "generator_busy",
    "server_cpu_s_per_1000",
    "redis_commands_per_call",
    "redis_commands_per_call_net",
    "tasks_per_s",
    "polls_per_task",
    "notifications",
    "max_ms",
)


@dataclass
class ConfigResult:
    """One configuration: its raw repetitions and their reduction."""

    config: Config
    samples: list[dict[str, Any]]

    @property
    def median(self) -> dict[str, float]:
        """The median of every numeric field over the repetitions."""
        return median_fields(self.samples, MEDIAN_FIELDS)

    @property
    def errors(self) -> dict[str, int]:
        """Errors of all repetitions, by kind."""
        return summed_errors(self.samples)

    def median_breakdown(self, field: str) -> dict[str, float]:
        """Median over repetitions of each entry of a per-name mapping field (CPU per role,
        Redis commands per command name); a name missing from a repetition counts 0."""
        names = sorted({name for s in self.samples for name in s.get(field, {})})
        rows = [{name: s.get(field, {}).get(name, 0.0) for name in names} for s in self.samples]
        return median_fields(rows, names)


def ratios(results: Sequence[ConfigResult]) -> dict[str, dict[str, float]]:
    """Per configuration key: each server's median over the SDK's in the same run, for
    throughput, latency and server CPU per call."""
    reference = {r.config.peer_key: r.median for r in results if r.config.server == REFERENCE}
    out: dict[str, dict[str, float]] = {}
    for result in results:
        base = reference.get(result.config.peer_key)
        if base is None:
            continue
        mine = result.median
        out[result.config.key] = {
            f"{name}_ratio": round(mine[name] / base[name], 3)
            for name in ("rps", "p50_ms", "p99_ms", "server_cpu_s_per_1000")
            if base.get(name) and name in mine
        }
    return out


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: a metric of one configuration against a bound."""

    name: str
    server: str
    label: str
    era: str
    clients: int
    metric: str
    bound: float
    at_least: bool

    def _matches(self, key: tuple[str, str, str, int]) -> bool:
        server, label, era, clients = key
        if (server, era, clients) != (self.server, self.era, self.clients):
            return False
        if self.label.endswith("*"):
            return label.startswith(self.label[:-1])
        return label == self.label

    def value(
        self, results: Mapping[tuple[str, str, str, int], ConfigResult], rat: dict[str, Any]
    ) -> float | None:
        """The measured value (None when the run did not measure it)."""
        result = next((r for key, r in results.items() if self._matches(key)), None)
        if result is None:
            return None
        if self.metric.endswith("_ratio"):
            found = rat.get(result.config.key, {}).get(self.metric)
            return float(found) if found is not None else None
        found = result.median.get(self.metric)
        return float(found) if found is not None else None


def _targets() -> list[Target]:
    fleet = "mcpfleet"
    return [
        Target("echo 64 clients throughput", fleet, "echo", ERA_STATELESS, 64,
               "rps_ratio", 1.0, True),
        Target("echo 1 client p50", fleet, "echo", ERA_STATELESS, 1, "p50_ms_ratio", 1.5, False),
        Target("echo 1 client p50", fleet, "echo", ERA_HANDSHAKE, 1, "p50_ms_ratio", 1.5, False),
        *(
            Target("echo server CPU per call", fleet, "echo", era, 64,
                   "server_cpu_s_per_1000_ratio", 2.0, False)
            for era in (ERA_STATELESS, ERA_HANDSHAKE)
        ),
        Target("cpu_burn(5) 16 clients throughput", fleet, "cpu_burn(5)", ERA_STATELESS, 16,
               "rps_ratio", 1.8, True),
        Target("wait(50) 256 clients throughput", fleet, "wait(50)", ERA_STATELESS, 256,
               "rps_ratio", 0.9, True),
        Target("blocking_wait(50) 64 clients throughput", fleet, "blocking_wait(50)",
               ERA_STATELESS, 64, "rps_ratio", 1.0, True),
        *(
            Target("Redis commands per foreground echo call", fleet, "echo", era, 16,
                   "redis_commands_per_call_net", 6.0, False)
            for era in (ERA_STATELESS, ERA_HANDSHAKE)
        ),
        *(
            Target("Redis commands per task (submit to result)", fleet, label, era, 16,
                   "redis_commands_per_call_net", 40.0, False)
            for era in (ERA_STATELESS, ERA_HANDSHAKE)
            for label in ("tasks(echo x*",)
        ),
        Target("progress p50 worker report to client receipt (ms)", fleet,
               "progress(progress_probe)", ERA_STATELESS, 1, "p50_ms", 2.0, False),
    ]  # fmt: skip


def check_targets(results: Sequence[ConfigResult]) -> list[dict[str, Any]]:
    """Every target with its measured value and whether it is met (``None``: not measured
    in this run)."""
    by_key = {(r.config.server, r.config.label, r.config.era, r.config.clients): r for r in results}
    rat = ratios(results)
    checked = []
    for target in _targets():
        value = target.value(by_key, rat)
        met = None
        if value is not None:
            met = value >= target.bound if target.at_least else value <= target.bound
        checked.append({**asdict(target), "value": value, "met": met})
    return checked


def to_json(results: Sequence[ConfigResult], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The whole run as one JSON-able document."""
    rat = ratios(results)
    return {
        **meta,
        "configs": [
            {
                "key": r.config.key,
                **asdict(r.config),
                "label": r.config.label,
                "median": r.median,
                "errors": r.errors,
                "ratios": rat.get(r.config.key, {}),
                "server_cpu_s_per_1000_by_role": r.median_breakdown(
                    "server_cpu_s_per_1000_by_role"
                ),
                "redis_commands_per_call_by_command": r.median_breakdown(
                    "redis_commands_per_call_by_command"
                ),
                "samples": r.samples,
            }
            for r in results
        ],
        "targets": check_targets(results),
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _errors(errors: Mapping[str, int]) -> str:
    return (
        str(sum(errors.values()))
        if not errors
        else ", ".join(f"{k}: {v}" for k, v in errors.items())
    )


def _load_tables(results: Sequence[ConfigResult], rat: dict[str, dict[str, float]]) -> list[str]:
    lines: list[str] = []
    labels = list(dict.fromkeys(r.config.label for r in results if r.config.kind == "load"))
    for label in labels:
        rows = []
        for r in (r for r in results if r.config.kind == "load" and r.config.label == label):
            m, q = r.median, rat.get(r.config.key, {})
            rows.append([
                r.config.server, r.config.era, str(r.config.clients),
                _fmt(m.get("rps"), 0), _fmt(m.get("p50_ms")), _fmt(m.get("p90_ms")),
                _fmt(m.get("p99_ms")), _errors(r.errors), _fmt(m.get("server_cpu_s_per_1000"), 3),
                _fmt(m.get("generator_cpu_per_call_us"), 0),
                _ratio(q.get("rps_ratio")), _ratio(q.get("p50_ms_ratio")),
                _ratio(q.get("server_cpu_s_per_1000_ratio")),
            ])  # fmt: skip
        lines += [f"### {label}", ""]
        lines += _table(
            ["server", "era", "clients", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors",
             "server CPU s/1000 calls", "generator CPU µs/call", "req/s vs SDK",
             "p50 vs SDK", "CPU/call vs SDK"],
            rows,
        )  # fmt: skip
        lines.append("")
    return lines


def _cpu_table(results: Sequence[ConfigResult]) -> list[str]:
    fleet = [r for r in results if r.config.server == "mcpfleet" and r.config.kind == "load"]
    if not fleet:
        return []
    roles = sorted(
        {role for r in fleet for role in r.median_breakdown("server_cpu_s_per_1000_by_role")}
    )
    rows = []
    for r in fleet:
        by_role = r.median_breakdown("server_cpu_s_per_1000_by_role")
        rows.append([r.config.label, r.config.era, str(r.config.clients)]
                    + [_fmt(by_role.get(role), 3) for role in roles])  # fmt: skip
    return [
        "## Where mcpfleet's CPU goes (CPU s per 1000 calls, by process role)",
        "",
        *_table(["workload", "era", "clients", *roles], rows),
        "",
    ]


def _redis_table(results: Sequence[ConfigResult]) -> list[str]:
    fleet = [r for r in results if r.config.server == "mcpfleet"]
    if not fleet:
        return []
    rows = []
    for r in fleet:
        by_command = r.median_breakdown("redis_commands_per_call_by_command")
        top = sorted(by_command.items(), key=lambda item: -item[1])
        m = r.median
        rows.append([
            r.config.label, r.config.era, str(r.config.clients),
            _fmt(m.get("redis_commands_per_call"), 2),
            _fmt(m.get("redis_commands_per_call_net"), 2),
            ", ".join(f"{name} {count:.2f}" for name, count in top if count >= 0.005),
        ])  # fmt: skip
    return [
        "## Redis commands (per call; per task for tasks; INFO commandstats)",
        "",
        *_table(["workload", "era", "clients", "all", "net of idle", "by command"], rows),
        "",
    ]


def _flow_tables(results: Sequence[ConfigResult]) -> list[str]:
    lines: list[str] = []
    tasks = [r for r in results if r.config.kind == "tasks"]
    if tasks:
        rows = [
            [r.config.label, r.config.era, str(r.config.clients),
             _fmt(r.median.get("tasks_per_s"), 0),
             _fmt(r.median.get("p50_ms")), _fmt(r.median.get("p99_ms")),
             _fmt(r.median.get("polls_per_task")), _errors(r.errors),
             _fmt(r.median.get("server_cpu_s_per_1000"), 3)]
            for r in tasks
        ]  # fmt: skip
        lines += ["### tasks (mcpfleet only: the SDK has no task runtime)", ""]
        lines += _table(
            ["workload", "era", "clients", "tasks/s", "submit→done p50 ms", "p99 ms",
             "polls/task", "errors", "server CPU s/1000 tasks"],
            rows,
        )  # fmt: skip
        lines.append("")
    progress = [r for r in results if r.config.kind == "progress"]
    if progress:
        rows = [
            [r.config.label, r.config.era, _fmt(r.median.get("notifications"), 0),
             _fmt(r.median.get("p50_ms")), _fmt(r.median.get("p99_ms")),
             _fmt(r.median.get("max_ms")), _errors(r.errors)]
            for r in progress
        ]  # fmt: skip
        lines += [
            "### progress latency, worker report → client receipt (mcpfleet only: the SDK's"
            " JSON-response mode sends no progress notifications)",
            "",
        ]
        lines += _table(
            ["workload", "era", "notifications", "p50 ms", "p99 ms", "max ms", "errors"], rows
        )
        lines.append("")
    return lines


def _load(document: Mapping[str, Any]) -> str:
    load = document.get("load_average_1m") or {}
    return f"{_fmt(load.get('start'))} / {_fmt(load.get('end'))}"


def _targets_table(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = []
    for t in targets:
        bound = f"{'≥' if t['at_least'] else '≤'} {t['bound']:g}"
        verdict = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        where = f"{t['label']} {t['era']} c={t['clients']}"
        rows.append([t["name"], where, t["metric"], bound, _fmt(t["value"], 2), verdict])
    return ["## Targets", "", *_table(["target", "configuration", "metric", "bound", "measured",
                                       "verdict"], rows), ""]  # fmt: skip


def to_markdown(document: Mapping[str, Any], results: Sequence[ConfigResult]) -> str:
    """The human report: machine, plan, targets, then a table per workload."""
    machine = document["machine"]
    plan = document["plan"]
    lines = [
        f"# Benchmark run {document['run_id']}",
        "",
        f"- machine: {machine['cpu_model']}, {machine['cores']} cores, Python "
        f"{machine['python']}, {machine['platform']}",
        f"- mcpfleet {machine['git_commit']}{' (dirty tree)' if machine['git_dirty'] else ''};"
        f" peers: "
        + "; ".join(
            f"{name}: " + ", ".join(f"{p} {v}" for p, v in versions.items())
            for name, versions in machine["packages"].items()
        ),
        f"- plan: {plan['repetitions']} repetitions (median reported), {plan['duration_s']:g} s"
        f" measured + {plan['warmup_s']:g} s warm-up per load run, order rotated per"
        f" repetition; {plan['mode']} mode; took {document['elapsed_s']:.0f} s",
        f"- machine load (1-minute average) at start / end: {_load(document)} (about"
        f" {machine['cores']} or more means something else was competing for the cores)",
        "- ratios are mcpfleet over the SDK in this same run (req/s: higher is better; p50"
        " and CPU per call: lower is better)",
        "",
        *_targets_table(document["targets"]),
        "## Closed-loop workloads",
        "",
        *_load_tables(results, ratios(results)),
        *_flow_tables(results),
        *_cpu_table(results),
        *_redis_table(results),
    ]
    return "\n".join(lines) + "\n"


def write(
    out_dir: Path,
    run_id: str,
    results: Sequence[ConfigResult],
    meta: Mapping[str, Any],
    *,
    latest: bool = True,
) -> tuple[Path, Path]:
    """Write ``<run_id>.json`` and ``<run_id>.md`` under ``out_dir`` (and ``latest.md``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    document = to_json(results, meta)
    json_path = out_dir / f"{run_id}.json"
    md_path = out_dir / f"{run_id}.md"
    json_path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    md_path.write_text(to_markdown(document, results))
    if latest:
        shutil.copyfile(md_path, out_dir / "latest.md")
    return json_path, md_path
