"""A fleet for the suite to test: started like ``make run`` (with the fixture app), on a free
port.

The fleet runs ``mcpfleet up`` from the repository root (so ``examples.conformance:app``
imports, and ``mcpfleet.toml`` and ``MCPFLEET_*`` apply exactly as for ``make run``), with
``--http 127.0.0.1:0`` (the supervisor picks a free port once, so nothing races for it and port
8000 stays free for a ``make run`` next door), a temporary ``--data-dir`` and its own
``--fleet`` namespace (harmless with the embedded Redis, and no key clash when
``MCPFLEET_REDIS_URL`` points at a shared one). The URL comes from the supervisor's
``fleet.ready`` log event; ready means ``GET /health/ready`` answered 200.

The supervisor runs in its own session, so a Ctrl-C at the terminal reaches the runner (and
the suite) but not the fleet; the runner then stops the fleet with one SIGTERM (a second
signal would make the supervisor kill everything at once) and waits for it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

__all__ = ["FleetProcess", "FleetStartError", "StopOutcome", "health_ready_url", "is_ready"]

_READY_EVENT: Final = "fleet.ready"
_PROBE_TIMEOUT_S: Final = 2.0
_POLL_INTERVAL_S: Final = 0.1
_LOG_TAIL_LINES: Final = 20


class FleetStartError(Exception):
    """The fleet did not come up; the message carries the tail of its log."""


@dataclass(frozen=True)
class StopOutcome:
    """How the fleet ended: its exit code, how long it took, whether it was still running
    when stopped (``signalled``) and whether it had to be killed."""

    exit_code: int
    seconds: float
    signalled: bool
    killed: bool


def health_ready_url(mcp_url: str) -> str:
    """``GET /health/ready`` of the front serving ``mcp_url``."""
    parts = urllib.parse.urlsplit(mcp_url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/health/ready", "", ""))


def is_ready(mcp_url: str) -> bool:
    """Whether the front serving ``mcp_url`` answers its readiness probe with 200."""
    try:
        with urllib.request.urlopen(health_ready_url(mcp_url), timeout=_PROBE_TIMEOUT_S) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):  # 503 (HTTPError), refused, reset, timeout
        return False


class FleetProcess:
    """One ``mcpfleet up`` child of the runner.

    Resources: the process and a temporary data directory, both released by :meth:`stop`,
    which is safe to call whether or not :meth:`start` succeeded.
    """

    def __init__(self, *, repo_root: Path, app: str, log_path: Path) -> None:
        self._repo_root = repo_root
        self._app = app
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._data_dir: str | None = None

    def start(self, timeout_s: float) -> str:
        """Start the fleet and wait until it is ready.

        Returns:
            The MCP endpoint URL.

        Raises:
            FleetStartError: no ``mcpfleet`` script, the fleet exited, or it was not ready
                within ``timeout_s``.
        """
        mcpfleet = Path(sys.executable).with_name("mcpfleet")
        if not mcpfleet.is_file():
            raise FleetStartError(f"no mcpfleet script next to {sys.executable}; run via make")
        self._data_dir = tempfile.mkdtemp(prefix="mcpfleet-conformance-")
        command = [
            str(mcpfleet),
            "up",
            "--app",
            self._app,
            "--http",
            "127.0.0.1:0",
            "--data-dir",
            self._data_dir,
            "--fleet",
            f"conformance-{os.getpid()}",
        ]
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            command,
            cwd=self._repo_root,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        url = self._wait_for_url(deadline)
        while not is_ready(url):
            self._check_alive()
            if time.monotonic() > deadline:
                raise FleetStartError(f"{health_ready_url(url)} not 200 within {timeout_s:g} s")
            time.sleep(_POLL_INTERVAL_S)
        return url

    def stop(self, timeout_s: float) -> StopOutcome | None:
        """SIGTERM the supervisor and wait; SIGKILL it after ``timeout_s``.

        Returns:
            How it ended, or ``None`` if it was never started.
        """
        outcome = None
        process = self._process
        if process is not None:
            started = time.monotonic()
            killed = False
            signalled = process.poll() is None
            if signalled:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    # Its children run in their own sessions and get SIGTERM from the kernel
                    # when the supervisor dies (PR_SET_PDEATHSIG).
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    killed = True
            outcome = StopOutcome(process.returncode, time.monotonic() - started, signalled, killed)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None
        return outcome

    def _wait_for_url(self, deadline: float) -> str:
        offset = 0
        pending = b""
        while True:
            with self._log_path.open("rb") as log:
                log.seek(offset)
                chunk = log.read()
            offset += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                url = _ready_url(line)
                if url is not None:
                    return url
            self._check_alive()
            if time.monotonic() > deadline:
                raise FleetStartError(f"no {_READY_EVENT} log event in time\n{self._log_tail()}")
            time.sleep(_POLL_INTERVAL_S)

    def _check_alive(self) -> None:
        code = None if self._process is None else self._process.poll()
        if code is not None:
            raise FleetStartError(f"mcpfleet up exited with code {code}\n{self._log_tail()}")

    def _log_tail(self) -> str:
        lines = self._log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-_LOG_TAIL_LINES:])


def _ready_url(line: bytes) -> str | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("event") != _READY_EVENT:
        return None
    urls = event.get("urls")
    if isinstance(urls, list) and urls and isinstance(urls[0], str):
        return urls[0]
    return None
