"""The HTTP front's listening socket, bound with ``SO_REUSEPORT`` (ADR-0015).

Every front of a fleet binds its own socket to the same ``HOST:PORT``; the kernel spreads
incoming connections over the sockets of that group by a hash of each connection's
addresses, so the fronts share the load without a socket inherited from the supervisor.
A front that exits takes only its own socket out of the group: the others keep serving,
and its restarted successor joins again. Only processes of the same user can join a group,
and the supervisor checks, before any front starts, that nothing listens there already
(``supervisor/fleet.py``), so a fleet never silently shares its port with a stranger.
"""

from __future__ import annotations

import socket

__all__ = ["bind_address", "bind_shared_socket"]


def bind_address(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8000`` for IPv6) as the host and port ``bind()`` takes.

    Raises:
        ValueError: not ``HOST:PORT`` with a numeric port.
    """
    host, _, port_text = bind.rpartition(":")
    if not host or not port_text.isdigit():
        raise ValueError(f"front.http must be HOST:PORT, got {bind!r}")
    return host.strip("[]"), int(port_text)


def bind_shared_socket(bind: str) -> socket.socket:
    """A TCP socket bound to ``bind`` with ``SO_REUSEPORT`` (not yet listening), ready to be
    handed to hypercorn as ``fd://``.

    Raises:
        ValueError: ``bind`` is malformed.
        OSError: it cannot be bound (in use by a socket without ``SO_REUSEPORT``, or by
            another user's; not a local address).
    """
    host, port = bind_address(bind)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR as hypercorn sets it (a restart is not refused over TIME_WAIT);
        # SO_REUSEPORT so that every front binds the same port (module docstring).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
