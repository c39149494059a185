"""The servers a benchmark run compares: their virtualenvs and their processes.

Each peer other than mcpfleet lives in its own virtualenv under ``bench/.venvs/<peer>``,
installed from PyPI with the pinned requirements in ``bench/peers/<peer>-requirements.txt``
(re-installed only when that file changes). mcpfleet runs from the current interpreter (the
dev virtualenv, which has the checkout installed) with its defaults: ``mcpfleet up`` with two
workers, one front and its embedded Redis, in a throwaway data directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from supervisor.embedded_redis import free_loopback_port

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / "bench" / ".venvs"
PEERS = ROOT / "bench" / "peers"
SDK_SERVER = PEERS / "sdk_server.py"
SDK_REQUIREMENTS = PEERS / "sdk-requirements.txt"
START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 20.0


@dataclass(frozen=True)
class RunningServer:
    """A server under test, up and answering.

    Args:
        name: how results name it (``"sdk"``, ``"mcpfleet"``).
        url: its MCP endpoint.
        root_pid: the process whose whole tree is the server (CPU accounting).
        redis_url: the Redis it uses, when it has one (command accounting).
        python: the interpreter it runs on (package versions for the report).
    """

    name: str
    url: str
    root_pid: int
    redis_url: str | None
    python: str


def ensure_venv(name: str, requirements: Path) -> Path:
    """The Python of ``bench/.venvs/<name>``, created and installed from ``requirements``
    when missing or when the requirements changed since the last install."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / ".requirements-sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    print(f"installing the {name} peer into {venv.relative_to(ROOT)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    # -qq: errors only (the machine's pip configuration may warn once per package).
    pip = [str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(requirements)], check=True)
    stamp.write_text(digest)
    return python


def wait_for(predicate: Callable[[], bool], *, deadline_s: float, what: str) -> None:
    """Poll ``predicate`` until it holds; raise ``TimeoutError`` after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {deadline_s} s waiting for {what}")
        time.sleep(0.05)


def http_status(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of one request (0 when nothing answers)."""
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _ensure_alive(proc: subprocess.Popen[bytes], log: Path) -> None:
    if proc.poll() is not None:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"server exited with {proc.returncode} while starting:\n{tail}")


@contextmanager
def sdk_server(python: Path | str) -> Iterator[RunningServer]:
    """The official SDK peer (``bench/peers/sdk_server.py``) on ``python``, on a free port."""
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with tempfile.TemporaryDirectory(prefix="bench-sdk-") as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [os.path.abspath(python), str(SDK_SERVER), "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT, cwd=tmp,
            )  # fmt: skip
        try:

            def answering() -> bool:
                _ensure_alive(proc, log)
                # A GET without a session is refused by a stateless server: any HTTP answer
                # means it listens.
                return http_status(url) != 0

            wait_for(answering, deadline_s=START_DEADLINE_S, what="the SDK peer")
            yield RunningServer("sdk", url, proc.pid, None, str(python))
        finally:
            stop_process(proc)


def _fleet_env() -> dict[str, str]:
    # The fleet runs with its defaults: no MCPFLEET_* setting leaks in from the caller.
    return {k: v for k, v in os.environ.items() if not k.startswith("MCPFLEET_")}


def _fleet_processes_ready(data_dir: Path, workers: int) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "supervisor", "status", "--json", "--data-dir", str(data_dir)],
        capture_output=True, cwd=ROOT, env=_fleet_env(), check=False,
    )  # fmt: skip
    if out.returncode != 0:
        return False
    status = json.loads(out.stdout)
    processes = [p for s in status.get("supervisors", []) for p in s.get("processes", [])]
    ready = [p for p in processes if p["role"] == "worker" and p["state"] == "ready"]
    return len(ready) >= workers


@contextmanager
def mcpfleet_server(app: str, workers: int = 2) -> Iterator[RunningServer]:
    """``mcpfleet up --app <app> --workers <workers>`` with its defaults (one front, an
    embedded Redis) on a free port and a temporary data directory; yielded once
    ``/health/ready`` answers 200 and every worker reports ready."""
    port = free_loopback_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        data_dir = Path(tmp) / "data"
        log = Path(tmp) / "fleet.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "supervisor", "up", "--app", app,
                 "--workers", str(workers), "--http", f"127.0.0.1:{port}",
                 "--data-dir", str(data_dir), "--log-level", "warning"],
                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=_fleet_env(),
            )  # fmt: skip
        try:

            def ready() -> bool:
                _ensure_alive(proc, log)
                return http_status(f"{base}/health/ready") == 200

            wait_for(ready, deadline_s=START_DEADLINE_S, what="mcpfleet /health/ready")
            wait_for(
                lambda: _fleet_processes_ready(data_dir, workers),
                deadline_s=START_DEADLINE_S,
                what=f"{workers} ready mcpfleet workers",
            )
            fleet = json.loads((data_dir / "run" / "fleet.json").read_text())
            yield RunningServer(
                "mcpfleet", f"{base}/mcp", proc.pid, fleet["redis_url"], sys.executable
            )
        finally:
            stop_process(proc)
