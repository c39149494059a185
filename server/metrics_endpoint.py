"""``GET /metrics`` on every HTTP front (``front.metrics_path``; ADR-0012): the Prometheus
text exposition of every process of the fleet plus the queue gauges.

Outside the MCP endpoint's rules (no session, Origin or protocol-version checks): it is an
operator's endpoint, like the probes. Each scrape first reads the queues from Redis on the
front's own client, then renders in a thread (it reads every process's files, one at a
time across scrapes). When Redis does not answer, the scrape still answers, without the
queue gauges, and the front logs ``metrics.queues_unread``.
"""

from __future__ import annotations

from typing import Final

import structlog
import trio

from proto import BackendUnavailableError, RedisCommandError
from server.metrics import FrontMetrics, render_metrics
from server.queue_depths import QueueDepths, QueueSnapshot

__all__ = ["MetricsEndpoint", "MetricsResponse"]

log = structlog.get_logger()

# prometheus_client's CONTENT_TYPE_PLAIN_0_0_4, spelled here so that importing this module
# does not import the library (server/metrics.py says why).
_TEXT_FORMAT: Final = b"text/plain; version=0.0.4; charset=utf-8"
_NOT_ALLOWED: Final = b'{"error":"method not allowed; use GET"}'

MetricsResponse = tuple[int, list[tuple[bytes, bytes]], bytes]
"""Status, headers and body of an answer."""


class MetricsEndpoint:
    """Answers scrapes for one front.

    Args:
        metrics: this front's metrics (which say whether the fleet's files are read).
        queues: reads the lanes.
    """

    def __init__(self, metrics: FrontMetrics, queues: QueueDepths) -> None:
        self._metrics = metrics
        self._queues = queues
        self._renders = trio.CapacityLimiter(1)

    async def answer(self, method: str) -> MetricsResponse:
        """The answer to a request with HTTP ``method``: the exposition for GET, 405 for
        any other."""
        if method != "GET":
            headers = [(b"content-type", b"application/json"), (b"allow", b"GET")]
            return 405, headers, _NOT_ALLOWED
        snapshot = await self._read_queues()
        body = await trio.to_thread.run_sync(
            render_metrics, self._metrics, snapshot, limiter=self._renders
        )
        return 200, [(b"content-type", _TEXT_FORMAT)], body

    async def _read_queues(self) -> QueueSnapshot | None:
        try:
            return await self._queues.read()
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("metrics.queues_unread", error=str(exc))
            return None
