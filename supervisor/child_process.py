"""Spawning one child process, learning when it is ready, and awaiting its exit.

Children run in their own session (a terminal's Ctrl-C reaches only the supervisor, which
stops them in order) and get SIGTERM if the supervisor dies (Linux ``PR_SET_PDEATHSIG``), so
no child outlives its parent. Their stdin is ``/dev/null`` and their stdout is sent to
stderr, since stdin and stdout may carry the stdio protocol; only the stdio front is handed
the protocol's descriptors, explicitly.

Why not ``trio.lowlevel.open_process``: it forks from a cached worker thread, and the kernel
sends ``PR_SET_PDEATHSIG`` when the forking *thread* exits — which trio's idle threads do
after a few seconds, killing healthy children. So children are forked from the trio thread
itself (a few milliseconds, rarely) and their exit is awaited through a pidfd.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import msgspec
import trio

__all__ = ["Child", "ReadyReport", "child_command", "spawn_child"]

_PR_SET_PDEATHSIG: Final = 1


class ReadyReport(msgspec.Struct, frozen=True):
    """What a child writes on its ready pipe, one JSON line, once it can work."""

    role: str
    id: str
    binds: list[str] = msgspec.field(default_factory=list)


_ready_decoder = msgspec.json.Decoder(ReadyReport)


def child_command(role: str, *args: str) -> list[str]:
    """``mcpfleet <role> …`` via the installed console script, so ``ps`` shows the role."""
    script = Path(sys.executable).parent / "mcpfleet"
    if script.is_file():
        return [sys.executable, str(script), role, *args]
    return [sys.executable, "-m", "supervisor", role, *args]


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """A running child and the read end of its ready pipe."""

    def __init__(self, process: subprocess.Popen[bytes], ready_fd: int) -> None:
        self.process = process
        self._ready_fd = ready_fd

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    async def wait(self) -> int:
        """Wait for the child to exit and reap it; returns its exit code.

        Cancellation: stops waiting; the child keeps running.
        """
        if self.process.returncode is not None:
            return self.process.returncode
        if hasattr(os, "pidfd_open"):
            try:
                pidfd = os.pidfd_open(self.process.pid)
            except ProcessLookupError:
                return self.process.wait()
            try:
                await trio.lowlevel.wait_readable(pidfd)
            finally:
                os.close(pidfd)
            return self.process.wait()
        # No pidfd on this platform: poll, which is all there is.
        while self.process.poll() is None:  # noqa: ASYNC110
            await trio.sleep(0.05)
        return self.process.wait()

    async def wait_ready(self, timeout_s: float) -> ReadyReport | None:
        """The child's ready report, or ``None`` if it exited or stayed silent too long."""
        stream = trio.lowlevel.FdStream(self._ready_fd)
        data = b""
        with trio.move_on_after(timeout_s):
            async with stream:
                while not data.endswith(b"\n"):
                    chunk = await stream.receive_some(4096)
                    if not chunk:
                        break
                    data += chunk
        if not data.endswith(b"\n"):
            return None
        try:
            return _ready_decoder.decode(data)
        except msgspec.MsgspecError:
            return None

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            # It may exit between the check and the signal: then there is nothing to stop.
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)


async def spawn_child(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    *,
    stdin_fd: int | None = None,
    stdout_fd: int | None = None,
) -> Child:
    """Start ``argv`` with a ready pipe; ``{ready_fd}`` in an argument becomes its number.

    Args:
        argv: the command line.
        env: the environment (default: this process's).
        stdin_fd: the child's stdin (default ``/dev/null``).
        stdout_fd: the child's stdout (default: this process's stderr).

    Raises:
        OSError: no pipe or no process (out of memory, processes or descriptors; no such
            executable). Nothing is left open.
    """
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    args = [a.replace("{ready_fd}", str(write_fd)) for a in argv]
    try:
        # Forked from the trio thread on purpose (module docstring).
        process = subprocess.Popen(  # noqa: ASYNC220
            args,
            stdin=subprocess.DEVNULL if stdin_fd is None else stdin_fd,
            stdout=sys.stderr.fileno() if stdout_fd is None else stdout_fd,
            pass_fds=(write_fd,),
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509  # only async-signal-safe prctl
            env=env,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    await trio.lowlevel.checkpoint()
    return Child(process, read_fd)
