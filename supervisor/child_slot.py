"""One supervised position in the fleet (``front-0``, ``worker-1``): keeps a child running
there, restarting it with backoff when it exits, until told to stop. A slot without restarts
(the stdio front: a restarted one could not resume the client's connection) runs its child
once and reports how it ended.

Each exit is reported (:class:`ChildExit`) with why it happened: the supervisor's own
reasons (``hung``, ``recycled``, ``stopped``) when it ended the child on purpose, otherwise
what the exit code says (``crashed``, ``killed`` by a signal, ``exited`` cleanly)."""

from __future__ import annotations

import enum
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import msgspec
import structlog
import trio

from proto import FleetError
from supervisor.child_process import Child, ReadyReport, spawn_child
from supervisor.restart_policy import RestartPolicy
from supervisor.stdio_streams import ProtocolStreams

__all__ = ["ChildExit", "ChildSlot", "ChildStartError", "ExitReason", "SlotState"]

log = structlog.get_logger()


class ChildStartError(FleetError):
    """A child exited (or hung) before its first ready report."""


class ExitReason(enum.StrEnum):
    """Why a child exited (the ``reason`` label of ``mcpfleet_worker_restarts_total``)."""

    CRASHED = "crashed"
    """It exited with a non-zero code on its own."""
    KILLED = "killed"
    """A signal the supervisor did not send ended it (OOM killer, an operator)."""
    EXITED = "exited"
    """It exited with code 0 without being asked to."""
    HUNG = "hung"
    """The supervisor killed it: alive, but its heartbeat stopped."""
    RECYCLED = "recycled"
    """The supervisor drained it to replace it (``max_calls``, memory)."""
    STOPPED = "stopped"
    """The supervisor stopped it for good (shutdown, scaling down)."""
    NOT_READY = "not_ready"
    """It did not report ready in time and was killed."""


class SlotState(enum.StrEnum):
    """Where a slot's child is in its life (``mcpfleet status``, ``mcpfleet_workers``)."""

    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    BACKOFF = "backoff"
    STOPPED = "stopped"


class ChildExit(msgspec.Struct, frozen=True):
    """One exit of a slot's child, as the slot's ``on_exit`` hears of it.

    Attributes:
        child_id: the child's id (``worker-1-3fa2c1``).
        pid: its process id.
        code: its exit code (negative: ended by that signal).
        reason: why it exited.
        restarting: whether the slot starts another child.
    """

    child_id: str
    pid: int
    code: int
    reason: ExitReason
    restarting: bool


def exit_reason(code: int, requested: ExitReason | None) -> ExitReason:
    """Why a child exited with ``code``: the supervisor's reason when it ended the child
    on purpose (``requested``), else what the code says."""
    if requested is not None:
        return requested
    if code == 0:
        return ExitReason.EXITED
    return ExitReason.KILLED if code < 0 else ExitReason.CRASHED


class ChildSlot:
    """Keeps one child of ``role`` alive.

    Args:
        role: ``front`` or ``worker``.
        index: position within the role.
        make_argv: command line for a child with the given id.
        on_exit: settles what the exited child left behind (called after each exit).
        policy: restart backoff.
        ready_timeout_s: how long a child may take to report ready.
        restart: restart the child when it exits; if not, ``exited`` is set instead.
        stdio: the protocol's descriptors, handed to the child as its stdin and stdout.
        on_ready: called with each child once it reported ready.
        env: the children's environment (default: this process's).

    Attributes:
        exited: set once the child exited for good (stopped, or not restarted).
        exit_code: its exit code then (negative: killed by that signal).
        state: where the current child is in its life.
        started_at: when the current child was spawned (epoch seconds; 0 before).
        restarts: how many times a child was started again in this slot.
        last_exit: the latest exit, if any.
    """

    def __init__(
        self,
        role: str,
        index: int,
        *,
        make_argv: Callable[[str], Sequence[str]],
        on_exit: Callable[[ChildExit], Awaitable[None]],
        policy: RestartPolicy,
        ready_timeout_s: float,
        restart: bool = True,
        stdio: ProtocolStreams | None = None,
        on_ready: Callable[[Child], None] = lambda _child: None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.role = role
        self.index = index
        self._make_argv = make_argv
        self._on_exit = on_exit
        self._policy = policy
        self._ready_timeout_s = ready_timeout_s
        self._backoff_scope = trio.CancelScope()
        self.child: Child | None = None
        self.child_id: str | None = None
        self.stopping = False
        self.restarts = 0
        self._restart = restart
        self._stdio = stdio
        self._on_ready = on_ready
        self._env = env
        self.exited = trio.Event()
        self.exit_code: int | None = None
        self.state = SlotState.STARTING
        self.started_at = 0.0
        self.last_exit: ChildExit | None = None
        self._requested: ExitReason | None = None
        self._born: float | None = None  # trio time the current child was past ready

    @property
    def pid(self) -> int | None:
        """The current child's process id (None between children)."""
        return None if self.child is None else self.child.pid

    @property
    def crash_looping(self) -> bool:
        """Whether this slot is in a crash loop (``<role>.crash_looping`` was logged): its
        children died young five times in a row, and the current one, if any, has not yet
        run long enough to count as stable. Read inside the fleet's trio run."""
        born = self._born
        running_for_s = 0.0 if born is None else trio.current_time() - born
        return self._policy.crash_looping_with(running_for_s)

    async def run(
        self, *, task_status: trio.TaskStatus[ReadyReport] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run children until :meth:`stop`; ready once the first child reported ready.

        Raises:
            ChildStartError: the first child never became ready.
        """
        started = False
        while not self._is_stopping():
            child_id = f"{self.role}-{self.index}-{secrets.token_hex(3)}"
            stdio = self._stdio
            self.state = SlotState.STARTING
            self._requested = None
            try:
                child = await spawn_child(
                    self._make_argv(child_id),
                    self._env,
                    stdin_fd=None if stdio is None else stdio.stdin_fd,
                    stdout_fd=None if stdio is None else stdio.stdout_fd,
                )
            except OSError as exc:
                # No fork (ENOMEM, EAGAIN), no descriptors (EMFILE), no executable: never
                # let it escape into the fleet's nursery and take every child down.
                if not started:
                    raise ChildStartError(
                        f"{self.role} {child_id} could not be spawned: {exc}"
                    ) from exc
                await self._spawn_failed(child_id, exc)
                continue
            self.child, self.child_id = child, child_id
            self.started_at = time.time()
            if self._is_stopping():  # stop() ran while we were spawning
                self._end(child, ExitReason.STOPPED, signal.SIGTERM)
            try:
                report = await child.wait_ready(self._ready_timeout_s)
                if report is not None:
                    if self.state is SlotState.STARTING:
                        self.state = SlotState.READY
                    self._on_ready(child)
                    if not started:
                        started = True
                        task_status.started(report)
                elif not await _exits_soon(child):
                    # Silent too long; a child that closed its pipe by dying keeps its
                    # own reason (crashed, killed), which the restart metric counts.
                    self._end(child, ExitReason.NOT_READY, signal.SIGKILL)
                born = self._born = trio.current_time()
                code = await child.wait()
            except trio.Cancelled:
                # The fleet is failing around us: never leave a child behind.
                with trio.CancelScope(shield=True):
                    await self._terminate(child, self._ready_timeout_s)
                raise
            self.child, self._born = None, None
            restarting = started and self._restart and not self._is_stopping()
            ended = ChildExit(
                child_id, child.pid, code, exit_reason(code, self._requested), restarting
            )
            self.last_exit = ended
            await self._on_exit(ended)
            if self._is_stopping() or (started and not self._restart):
                self.exit_code = code
                self.state = SlotState.STOPPED
                self.exited.set()
                return
            if not started:
                raise ChildStartError(
                    f"{self.role} {child_id} did not start (exit code {code}); see its log above"
                )
            self.state = SlotState.BACKOFF
            await self._backoff(ended, trio.current_time() - born)
        # Stopped between children (in a backoff): nothing left to end.
        self.state = SlotState.STOPPED
        self.exited.set()

    async def _spawn_failed(self, child_id: str, error: OSError) -> None:
        """A restart that could not even spawn: a quick death, backed off like one."""
        self.state = SlotState.BACKOFF
        delay = self._policy.delay_after_exit(0.0)
        self.restarts += 1
        log.error(
            "child.spawn_failed",
            child_id=child_id,
            error=str(error),
            consecutive_deaths=self._policy.consecutive_failures,
            restart_in_s=round(delay, 3),
        )
        with self._backoff_scope:
            await trio.sleep(delay)
        self._backoff_scope = trio.CancelScope()

    def _is_stopping(self) -> bool:
        # A method, not the attribute: stop() flips it while run() is suspended, which a
        # type checker narrowing the attribute inside the loop cannot see.
        return self.stopping

    async def _backoff(self, ended: ChildExit, ran_for_s: float) -> None:
        """Wait before the next start: every exit logs ``<role>.exited`` with the delay;
        the death that makes a crash loop also logs one ``<role>.crash_looping`` error."""
        policy = self._policy
        delay = policy.delay_after_exit(ran_for_s)
        self.restarts += 1
        log.warning(
            f"{self.role}.exited",
            child_id=ended.child_id,
            exit_code=ended.code,
            reason=ended.reason.value,
            ran_for_s=round(ran_for_s, 3),
            consecutive_deaths=policy.consecutive_failures,
            restart_in_s=round(delay, 3),
        )
        if policy.crash_loop_began:
            log.error(
                f"{self.role}.crash_looping",
                slot=f"{self.role}-{self.index}",
                consecutive_deaths=policy.consecutive_failures,
                restart_in_s=round(delay, 3),
                max_backoff_s=policy.max_backoff_s,
            )
        with self._backoff_scope:
            await trio.sleep(delay)
        self._backoff_scope = trio.CancelScope()

    async def stop(
        self,
        timeout_s: float,
        reason: ExitReason = ExitReason.STOPPED,
        signum: int = signal.SIGTERM,
    ) -> None:
        """Signal the child (SIGTERM; a worker being retired gets SIGUSR2), SIGKILL it
        after ``timeout_s``; no restart follows."""
        self.stopping = True
        self._backoff_scope.cancel()
        child = self.child
        if child is None:
            self.state = SlotState.STOPPED
            return
        await self._terminate(child, timeout_s, reason, signum)

    def end_child(self, reason: ExitReason, signum: int) -> bool:
        """End the current child on purpose (``reason``) with ``signum``; the slot then
        restarts it as after any exit (``HUNG``: SIGKILL at once; ``RECYCLED``: SIGTERM, a
        drain). Returns False when there is no child to end."""
        child = self.child
        if child is None or self._is_stopping():
            return False
        self._end(child, reason, signum)
        return True

    def _end(self, child: Child, reason: ExitReason, signum: int) -> None:
        self._requested = reason
        if signum != signal.SIGKILL:
            self.state = SlotState.DRAINING
        child.signal(signum)

    async def _terminate(
        self,
        child: Child,
        timeout_s: float,
        reason: ExitReason = ExitReason.STOPPED,
        signum: int = signal.SIGTERM,
    ) -> None:
        self._end(child, reason, signum)
        with trio.move_on_after(timeout_s):
            await child.wait()
            return
        log.warning("child.killed", child_id=self.child_id, after_s=timeout_s)
        child.signal(signal.SIGKILL)
        await child.wait()

    def kill(self) -> None:
        """Second-signal path: stop at once."""
        self.stopping = True
        self._backoff_scope.cancel()
        if self.child is not None:
            self._end(self.child, ExitReason.STOPPED, signal.SIGKILL)


_EXIT_AFTER_EOF_S: Final = 0.5
"""A child's ready pipe closes as it exits, a moment before the exit can be reaped."""


async def _exits_soon(child: Child) -> bool:
    """Whether ``child`` exits within a moment (it closed its ready pipe by dying)."""
    with trio.move_on_after(_EXIT_AFTER_EOF_S):
        await child.wait()
        return True
    return False
