"""What a run measures and in which order: the configurations, their interleaving across
repetitions, and how repetitions are reduced to one number (the median).

Every repetition runs every configuration once; the order is rotated by one per repetition
(and the servers alternate within it), so a slow phase of the machine hits every
configuration alike instead of whichever happened to run then.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ERA_STATELESS = "2026-07-28"
ERA_HANDSHAKE = "2025-11-25"
Kind = Literal["load", "tasks", "progress"]


@dataclass(frozen=True)
class Config:
    """One measured configuration.

    Args:
        server: which server (``"sdk"``, ``"mcpfleet"``).
        kind: ``load`` (closed loop), ``tasks`` (submit + poll) or ``progress``.
        workload: the workload's name (``echo``, ``cpu_burn``, ``wait``, ...).
        era: the protocol revision the generator speaks.
        clients: concurrent clients.
        amount: the workload's argument (ms for cpu_burn/wait/blocking_wait; task count for
            tasks; progress steps for progress).
    """

    server: str
    kind: Kind
    workload: str
    era: str
    clients: int
    amount: int | None = None

    @property
    def label(self) -> str:
        """The workload as the report names it, e.g. ``cpu_burn(5)``."""
        if self.kind == "tasks":
            return f"tasks({self.workload} x{self.amount})"
        if self.kind == "progress":
            return f"progress({self.workload})"
        return self.workload if self.amount is None else f"{self.workload}({self.amount})"

    @property
    def peer_key(self) -> tuple[str, str, str, int]:
        """What identifies the configuration across servers (for ratios)."""
        return (self.kind, self.label, self.era, self.clients)

    @property
    def key(self) -> str:
        """A unique, readable name."""
        return f"{self.server} {self.label} {self.era} c={self.clients}"


@dataclass(frozen=True)
class Plan:
    """The configurations of a run and how long each is measured."""

    configs: tuple[Config, ...]
    repetitions: int
    duration_s: float
    warmup_s: float


def full_plan(
    servers: Sequence[str], *, tasks: int = 1000, progress_steps: int = 20
) -> list[Config]:
    """The issue's workloads: echo at 1/16/64 clients in both eras, cpu_burn(5) at 16,
    wait(50) at 256, blocking_wait(50) at 64 (stateless era) on every server; then, on
    mcpfleet only (the SDK has no task runtime and its JSON mode sends no progress), 1000
    echo tasks in both eras and the progress probe at one client."""
    configs: list[Config] = []
    for server in servers:
        for era in (ERA_STATELESS, ERA_HANDSHAKE):
            configs += [Config(server, "load", "echo", era, c) for c in (1, 16, 64)]
        configs += [
            Config(server, "load", "cpu_burn", ERA_STATELESS, 16, 5),
            Config(server, "load", "wait", ERA_STATELESS, 256, 50),
            Config(server, "load", "blocking_wait", ERA_STATELESS, 64, 50),
        ]
    if "mcpfleet" in servers:
        configs += [
            Config("mcpfleet", "tasks", "echo", era, 16, tasks)
            for era in (ERA_STATELESS, ERA_HANDSHAKE)
        ]
        configs.append(
            Config("mcpfleet", "progress", "progress_probe", ERA_STATELESS, 1, progress_steps)
        )
    return configs


def smoke_plan(servers: Sequence[str]) -> list[Config]:
    """A tiny plan that touches every code path: echo in both eras at two clients on every
    server, one batch of five tasks and one progress call on mcpfleet."""
    configs = [
        Config(server, "load", "echo", era, 2)
        for server in servers
        for era in (ERA_STATELESS, ERA_HANDSHAKE)
    ]
    if "mcpfleet" in servers:
        configs.append(Config("mcpfleet", "tasks", "echo", ERA_STATELESS, 2, 5))
        configs.append(Config("mcpfleet", "progress", "progress_probe", ERA_STATELESS, 1, 3))
    return configs


def interleave(configs: Sequence[Config]) -> list[Config]:
    """The base order: each server's runs of one workload next to each other (so the two
    sides of a ratio are measured seconds apart), workloads in plan order."""
    groups: dict[tuple[str, str, str, int], list[Config]] = {}
    for config in configs:
        groups.setdefault(config.peer_key, []).append(config)
    return [config for group in groups.values() for config in group]


def rotated(configs: Sequence[Config], repetition: int) -> list[Config]:
    """The order of one repetition: the base order rotated by ``repetition`` groups, and
    the servers within a group reversed on odd repetitions (neither server always goes
    first)."""
    groups: dict[tuple[str, str, str, int], list[Config]] = {}
    for config in interleave(configs):
        groups.setdefault(config.peer_key, []).append(config)
    ordered = list(groups.values())
    if not ordered:
        return []
    shift = repetition % len(ordered)
    ordered = ordered[shift:] + ordered[:shift]
    if repetition % 2:
        ordered = [list(reversed(group)) for group in ordered]
    return [config for group in ordered for config in group]


def expected_seconds(plan: Plan, *, per_run_overhead_s: float = 0.6, flow_s: float = 6.0) -> float:
    """A rough duration of the measuring part of a run (start-up not included): each load
    run takes its warm-up plus its measured period plus sampling overhead; a tasks or
    progress flow takes about ``flow_s``."""
    per_rep = 0.0
    for config in plan.configs:
        if config.kind == "load":
            per_rep += plan.warmup_s + plan.duration_s + per_run_overhead_s
        else:
            per_rep += flow_s
    return per_rep * plan.repetitions


def median_fields(samples: Sequence[Mapping[str, Any]], fields: Iterable[str]) -> dict[str, float]:
    """The median over repetitions of each numeric field present in every sample."""
    medians: dict[str, float] = {}
    for name in fields:
        values = [s[name] for s in samples if isinstance(s.get(name), int | float)]
        if values and len(values) == len(samples):
            medians[name] = float(statistics.median(values))
    return medians


def summed_errors(samples: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Errors of every repetition added up by kind (errors are never medianed away)."""
    total: dict[str, int] = {}
    for sample in samples:
        for kind, count in (sample.get("errors") or {}).items():
            total[kind] = total.get(kind, 0) + int(count)
    return total
