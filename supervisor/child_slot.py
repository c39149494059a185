"""One supervised position in the fleet (``front-0``, ``worker-1``): keeps a child running
there, restarting it with backoff when it exits, until told to stop. A slot without restarts
(the stdio front: a restarted one could not resume the client's connection) runs its child
once and reports how it ended."""

from __future__ import annotations

import secrets
import signal
from collections.abc import Awaitable, Callable, Sequence

import structlog
import trio

from proto import FleetError
from supervisor.child_process import Child, ReadyReport, spawn_child
from supervisor.restart_policy import RestartPolicy
from supervisor.stdio_streams import ProtocolStreams

__all__ = ["ChildSlot", "ChildStartError"]

log = structlog.get_logger()


class ChildStartError(FleetError):
    """A child exited (or hung) before its first ready report."""


class ChildSlot:
    """Keeps one child of ``role`` alive.

    Args:
        role: ``front`` or ``worker``.
        index: position within the role.
        make_argv: command line for a child with the given id.
        on_exit: settles what the exited child left behind (called with its id).
        policy: restart backoff.
        ready_timeout_s: how long a child may take to report ready.
        restart: restart the child when it exits; if not, ``exited`` is set instead.
        stdio: the protocol's descriptors, handed to the child as its stdin and stdout.

    Attributes:
        exited: set once the child exited for good (stopped, or not restarted).
        exit_code: its exit code then (negative: killed by that signal).
    """

    def __init__(
        self,
        role: str,
        index: int,
        *,
        make_argv: Callable[[str], Sequence[str]],
        on_exit: Callable[[str], Awaitable[None]],
        policy: RestartPolicy,
        ready_timeout_s: float,
        restart: bool = True,
        stdio: ProtocolStreams | None = None,
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
        self.exited = trio.Event()
        self.exit_code: int | None = None

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
            child = await spawn_child(
                self._make_argv(child_id),
                stdin_fd=None if stdio is None else stdio.stdin_fd,
                stdout_fd=None if stdio is None else stdio.stdout_fd,
            )
            self.child, self.child_id = child, child_id
            if self._is_stopping():  # stop() ran while we were spawning
                child.signal(signal.SIGTERM)
            try:
                report = await child.wait_ready(self._ready_timeout_s)
                if report is None:
                    child.signal(signal.SIGKILL)
                elif not started:
                    started = True
                    task_status.started(report)
                born = trio.current_time()
                code = await child.wait()
            except trio.Cancelled:
                # The fleet is failing around us: never leave a child behind.
                with trio.CancelScope(shield=True):
                    await self._terminate(child, self._ready_timeout_s)
                raise
            self.child = None
            await self._on_exit(child_id)
            if self._is_stopping() or (started and not self._restart):
                self.exit_code = code
                self.exited.set()
                return
            if not started:
                raise ChildStartError(
                    f"{self.role} {child_id} did not start (exit code {code}); see its log above"
                )
            await self._backoff(child_id, code, trio.current_time() - born)

    def _is_stopping(self) -> bool:
        # A method, not the attribute: stop() flips it while run() is suspended, which a
        # type checker narrowing the attribute inside the loop cannot see.
        return self.stopping

    async def _backoff(self, child_id: str, code: int, ran_for_s: float) -> None:
        delay = self._policy.delay_after_exit(ran_for_s)
        self.restarts += 1
        event = (
            f"{self.role}.crash_looping" if self._policy.is_crash_looping else f"{self.role}.exited"
        )
        log.warning(event, child_id=child_id, exit_code=code, restart_in_s=round(delay, 3))
        with self._backoff_scope:
            await trio.sleep(delay)
        self._backoff_scope = trio.CancelScope()

    async def stop(self, timeout_s: float) -> None:
        """SIGTERM the child, SIGKILL it after ``timeout_s``; no restart follows."""
        self.stopping = True
        self._backoff_scope.cancel()
        child = self.child
        if child is None:
            return
        await self._terminate(child, timeout_s)

    async def _terminate(self, child: Child, timeout_s: float) -> None:
        child.signal(signal.SIGTERM)
        with trio.move_on_after(timeout_s):
            await child.wait()
            return
        log.warning("child.killed", role=self.role, child_id=self.child_id, after_s=timeout_s)
        child.signal(signal.SIGKILL)
        await child.wait()

    def kill(self) -> None:
        """Second-signal path: stop at once."""
        self.stopping = True
        self._backoff_scope.cancel()
        if self.child is not None:
            self.child.signal(signal.SIGKILL)
