"""The closed-loop driver: N clients, each sending its next call as soon as the previous
answer arrived, for a warm-up (not measured) and then a measured period; optionally spread
over P generator processes whose results are merged."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.loadgen.workloads import Workload


@dataclass(frozen=True)
class LoadSpec:
    """One closed-loop run.

    Args:
        url: the MCP endpoint, e.g. ``http://127.0.0.1:8000/mcp``.
        era: ``"2026-07-28"`` or ``"2025-11-25"``.
        workload: what every call sends and expects.
        clients: concurrent clients (one keep-alive connection each).
        duration_s: the measured period.
        warmup_s: the period before it (calls made, not counted).
        processes: generator processes the clients are spread over.
    """

    url: str
    era: str
    workload: Workload
    clients: int
    duration_s: float
    warmup_s: float = 1.0
    processes: int = 1


@dataclass
class LoadResult:
    """What a closed-loop run measured (calls completed within the measured period).

    ``errors`` maps a kind (``http_503``, ``jsonrpc_-32603``, ``tool_error``, ``check``,
    ``id_mismatch``, ``bad_reply``, ``connection``, ...) to its count; errors are not in
    ``requests``. ``generator_cpu_s`` is the CPU the generator's own driving threads spent
    during the measured period (all processes); ``generator_busy`` is that over
    ``duration_s * processes`` (near 1.0 means the generator was the bottleneck).
    """

    workload: str
    era: str
    clients: int
    processes: int
    duration_s: float
    requests: int
    errors: dict[str, int] = field(default_factory=dict)
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    max_ms: float = 0.0
    generator_cpu_s: float = 0.0
    generator_cpu_per_call_us: float = 0.0
    generator_busy: float = 0.0
    reconnects: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        """All errors, of every kind."""
        return sum(self.errors.values())

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-able dict."""
        return asdict(self)


def run_load(spec: LoadSpec) -> LoadResult:
    """Run ``spec`` and return what it measured. Never raises on bad replies (they are
    counted in ``errors``); raises ``ValueError`` for an invalid spec and ``OSError`` when no
    client could connect at all."""
    raise NotImplementedError
