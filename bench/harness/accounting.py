"""What a server spent during a measured run: CPU seconds per process role from /proc, and
Redis commands from ``INFO commandstats``, each sampled before and after the run.

CPU is user+system time of every process in the server's process tree (for mcpfleet: the
supervisor, its fronts, its workers and the embedded redis-server; for the SDK: the uvicorn
process). Children's reaped time (cutime/cstime) is left out so a process that exits during
the run cannot be counted twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import redis

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The harness's own sampling commands: not the server's work.
OWN_COMMANDS = frozenset({"info", "config|resetstat", "config"})


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of one process so far (0.0 once it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def process_role(pid: int) -> str:
    """What a server process is, from its command line: ``front``, ``worker``, ``redis``,
    ``supervisor`` (mcpfleet) or ``server`` (anything else, e.g. the SDK's uvicorn)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    words = [a.decode(errors="replace") for a in args if a]
    # redis-server rewrites its command line ("path/redis-server host:port", one string).
    if words and "redis-server" in words[0]:
        return "redis"
    for role in ("front", "worker"):
        if role in words[1:4]:
            return role
    if "up" in words[1:5] and any(w.endswith(("mcpfleet", "supervisor")) for w in words[:4]):
        return "supervisor"
    return "server"


def process_tree(root_pid: int) -> dict[int, str]:
    """Every process under ``root_pid`` (itself included), with its role."""
    tree: dict[int, str] = {}
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        if pid in tree:
            continue
        tree[pid] = process_role(pid)
        pending.extend(_children(pid))
    return tree


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far of each process of a server tree."""

    seconds: dict[int, float]
    roles: dict[int, str]

    @classmethod
    def take(cls, root_pid: int) -> CpuSample:
        """Sample the tree under ``root_pid`` now."""
        roles = process_tree(root_pid)
        return cls({pid: cpu_seconds(pid) for pid in roles}, roles)

    def by_role_since(self, before: CpuSample) -> dict[str, float]:
        """CPU seconds spent per role between ``before`` and this sample (a process that
        started in between counts from zero)."""
        spent: dict[str, float] = {}
        for pid, now in self.seconds.items():
            role = self.roles[pid]
            spent[role] = spent.get(role, 0.0) + now - before.seconds.get(pid, 0.0)
        return {role: round(seconds, 4) for role, seconds in sorted(spent.items())}


def command_counts(redis_url: str) -> dict[str, int]:
    """Calls per Redis command so far (``INFO commandstats``; commands run inside Lua
    scripts and MULTI blocks count individually, as Redis counts them)."""
    client = redis.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    counts: dict[str, int] = {}
    for key, value in stats.items():
        name = key.removeprefix("cmdstat_")
        if isinstance(value, dict):
            counts[name] = int(value.get("calls", 0))
    return counts


def command_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands run between two ``command_counts`` samples, the harness's own left out."""
    delta = {
        name: calls - before.get(name, 0)
        for name, calls in after.items()
        if name not in OWN_COMMANDS and calls - before.get(name, 0) > 0
    }
    return dict(sorted(delta.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class Meter:
    """Start of a measured window on one server."""

    root_pid: int
    redis_url: str | None
    cpu: CpuSample
    commands: dict[str, int]

    @classmethod
    def start(cls, root_pid: int, redis_url: str | None) -> Meter:
        """Sample the server now."""
        commands = command_counts(redis_url) if redis_url else {}
        return cls(root_pid, redis_url, CpuSample.take(root_pid), commands)

    def stop(self) -> Usage:
        """What the server spent since :meth:`start`."""
        cpu = CpuSample.take(self.root_pid).by_role_since(self.cpu)
        commands = (
            command_delta(self.commands, command_counts(self.redis_url)) if self.redis_url else {}
        )
        return Usage(cpu, commands)


@dataclass(frozen=True)
class Usage:
    """CPU seconds per role and Redis commands per command name over a window."""

    cpu_s: dict[str, float]
    redis_commands: dict[str, int] = field(default_factory=dict)

    @property
    def cpu_total_s(self) -> float:
        """All the server's processes together."""
        return sum(self.cpu_s.values())

    @property
    def redis_total(self) -> int:
        """All Redis commands (script and transaction bodies included)."""
        return sum(self.redis_commands.values())
