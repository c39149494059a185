"""An HTTP front's graceful stop (ADR-0015), from its first stop signal to the end of its
grace period:

1. The first SIGTERM/SIGINT sets :attr:`FrontDrain.draining`: ``/health/ready`` answers
   503 (``"draining": "yes"``) and GET and listen streams end, a listen stream with its
   final result. The front still accepts connections for ``front.accept_grace_s`` (0 by
   default), so a load balancer probing readiness stops sending traffic first.
2. :attr:`FrontDrain.stop_accepting` is set: hypercorn closes the listening socket (the
   kernel sends new connections to the port's other sockets, if any), closes idle
   keep-alive connections, and lets requests in flight run on.
3. ``front.graceful_timeout_s`` later, every request still waiting for a worker or a task
   is answered "The server is shutting down" (-32603: HTTP 503 with ``Retry-After``, or the
   final event of an SSE response), and the workers are told to stop those calls.
4. :data:`ANSWER_MARGIN_S` later hypercorn cuts whatever is still running (a request
   reading a slow upload, say).

A second signal skips to step 3 at once. Once it stops accepting, the front exits as soon
as no request is left (:class:`InFlight`), whichever step that happens in: hypercorn alone
would also wait for keep-alive connections it failed to close (a client's request racing
the close can leave one waiting for a turn that never comes).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import structlog
import trio

from server.config import FrontConfig

__all__ = ["ANSWER_MARGIN_S", "FrontDrain", "InFlight", "drain_budget_s"]

log = structlog.get_logger()

ANSWER_MARGIN_S: Final = 1.0
"""After the grace period, how long the shutdown answers have to be written before
hypercorn cuts what is left (they are ready at once; this covers slow readers)."""


def drain_budget_s(config: FrontConfig) -> float:
    """The longest an HTTP front takes to stop after its first stop signal."""
    return config.accept_grace_s + config.graceful_timeout_s + ANSWER_MARGIN_S


class InFlight:
    """The HTTP requests the front serves (streams included): counted, so that the drain
    knows when none is left, and admitted only until the front stops accepting. A request
    that reaches the app later came on a keep-alive connection; it is refused before it
    starts anything (answered "The server is shutting down", if hypercorn, closing that
    connection, still lets it): so a request that started a call always gets its answer.

    Attributes:
        count: requests being served.
        admitting: whether new requests are served.
    """

    __slots__ = ("_idle", "admitting", "count")

    def __init__(self) -> None:
        self.count = 0
        self.admitting = True
        self._idle: trio.Event | None = None

    def admit(self) -> bool:
        """Count a request in; False (not counted) once the front stopped accepting."""
        if not self.admitting:
            return False
        self.count += 1
        return True

    def leave(self) -> None:
        self.count -= 1
        if not self.count and self._idle is not None:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Until no request is being served."""
        while self.count:
            self._idle = trio.Event()
            await self._idle.wait()


class FrontDrain:
    """Turns a front's stop signals into the steps of the module docstring.

    Args:
        accept_grace_s: how long connections are still accepted after the first signal.
        graceful_timeout_s: how long requests in flight may run once none are accepted.
        end_waits: answers every request still waiting (step 3); returns how many.

    Attributes:
        draining: set on the first stop signal.
        stop_accepting: set when the front stops accepting connections.
        in_flight: the requests being served.
    """

    def __init__(
        self,
        *,
        accept_grace_s: float,
        graceful_timeout_s: float,
        end_waits: Callable[[], Awaitable[int]],
    ) -> None:
        self._accept_grace_s = accept_grace_s
        self._graceful_timeout_s = graceful_timeout_s
        self._end_waits = end_waits
        self.draining = trio.Event()
        self.stop_accepting = trio.Event()
        self.in_flight = InFlight()

    @property
    def hard_timeout_s(self) -> float:
        """How long hypercorn lets requests run once it stops accepting (step 4)."""
        return self._graceful_timeout_s + ANSWER_MARGIN_S

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Wait for the stop signals and take the steps; started once the signals are
        caught (before that, SIGTERM would kill the process)."""
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            await anext(signals)
            self.draining.set()
            log.info(
                "front.draining",
                accept_grace_s=self._accept_grace_s,
                graceful_timeout_s=self._graceful_timeout_s,
            )
            hurried = await _second_signal_within(signals, self._accept_grace_s)
            # In this order, at once: hypercorn (woken by the event) closes idle keep-alive
            # connections, and a request racing that close must find itself refused.
            self.in_flight.admitting = False
            self.stop_accepting.set()
            if not hurried:
                hurried = await _second_signal_within(signals, self._graceful_timeout_s)
            answered = await self._end_waits()
            log.info("front.grace_ended", answered_shutting_down=answered, hurried=hurried)


async def _second_signal_within(signals: AsyncIterator[int], seconds: float) -> bool:
    """Whether another stop signal arrives within ``seconds``."""
    if seconds <= 0:
        return False
    with trio.move_on_after(seconds):
        await anext(signals)
        return True
    return False
