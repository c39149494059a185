"""Taking stdin and stdout for the stdio protocol, before anything else can touch them.

A process that serves MCP on stdio keeps private duplicates of descriptors 0 and 1 for the
protocol, then points 0 at ``/dev/null`` and 1 at stderr. So a stray ``print`` (a tool app
at import time, a chatty library) lands on stderr instead of corrupting the protocol,
nothing else can consume a request, and a child spawned later inherits no part of the
connection unless it is handed the duplicates on purpose (the stdio front).
"""

from __future__ import annotations

import os
import sys

from proto import FleetError

__all__ = ["ProtocolStreams", "StdioUnavailableError", "claim_protocol_streams"]


class StdioUnavailableError(FleetError):
    """stdin or stdout is closed, so there is no connection to serve."""


class ProtocolStreams:
    """The private descriptors the protocol is read from and written to.

    Attributes:
        stdin_fd: a duplicate of the original stdin.
        stdout_fd: a duplicate of the original stdout.
    """

    def __init__(self, stdin_fd: int, stdout_fd: int) -> None:
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd

    def close(self) -> None:
        """Close both descriptors (once a child holds its own copies)."""
        for fd in (self.stdin_fd, self.stdout_fd):
            os.close(fd)


def claim_protocol_streams() -> ProtocolStreams:
    """Take descriptors 0 and 1 for the protocol (module docstring).

    Raises:
        StdioUnavailableError: stdin or stdout is not open.
    """
    sys.stdout.flush()
    try:
        stdin_fd = os.dup(0)
        stdout_fd = os.dup(1)
    except OSError as exc:
        raise StdioUnavailableError(
            f"stdio needs an open stdin and stdout (the MCP client's pipes): {exc.strerror}"
        ) from None
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return ProtocolStreams(stdin_fd, stdout_fd)
