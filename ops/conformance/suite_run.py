"""One run of the suite's server scenarios for one protocol version.

``conformance server --requirements <version>`` runs exactly what that revision requires,
frozen at its release, at that revision's wire (the initialize handshake for 2025-11-25, the
stateless per-request ``_meta`` for 2026-07-28), plus what the revision lists as not scored
(the tasks extension, pending scenarios, scenarios added after the release) — everything the
pinned suite has for that version. Its own exit code counts only scored scenarios, so the
runner ignores it and judges ``checks.json`` instead (:mod:`ops.conformance.verdict`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ops.conformance.toolchain import Toolchain

__all__ = ["SCENARIO_TIMEOUT_MS", "SuiteRun", "SuiteRunError", "run_suite"]

SCENARIO_TIMEOUT_MS: Final = 30_000
"""The suite's own per-scenario limit (its default)."""

_RUN_TIMEOUT_S: Final = 1200.0
"""A whole version's run; about 1.5 s today, 50 scenarios x 30 s at the very worst."""

_ANNOUNCED: Final = re.compile(r"^=== Running scenario: (?P<scenario>\S+) ===$", re.MULTILINE)


class SuiteRunError(Exception):
    """The suite did not run (no scenario announced, or it hung)."""


@dataclass(frozen=True)
class SuiteRun:
    """What one run produced: its output directory and log, the scenarios it ran."""

    version: str
    output_dir: Path
    log_path: Path
    announced: tuple[str, ...]
    exit_code: int
    seconds: float


def run_suite(toolchain: Toolchain, *, url: str, version: str, results_dir: Path) -> SuiteRun:
    """Run every server scenario of ``version`` against ``url``.

    Args:
        toolchain: the pinned Node and suite.
        url: the MCP endpoint.
        version: a requirement set of the suite (``2025-11-25``, ``2026-07-28``).
        results_dir: gets ``<version>/`` with the suite's per-scenario results and
            ``suite.log`` (its output); an existing one is replaced.

    Raises:
        SuiteRunError: the suite ran no scenario or did not finish in time.
    """
    version_dir = results_dir / version
    shutil.rmtree(version_dir, ignore_errors=True)
    output_dir = version_dir / "scenarios"
    output_dir.mkdir(parents=True)
    log_path = version_dir / "suite.log"
    command = [
        str(toolchain.node),
        str(toolchain.suite_cli),
        "server",
        "--url",
        url,
        "--requirements",
        version,
        "--output-dir",
        str(output_dir),
        "--timeout",
        str(SCENARIO_TIMEOUT_MS),
    ]
    env = dict(os.environ)
    # Scenarios that spawn `node` must get the pinned one, not the machine's older Node.
    env["PATH"] = f"{toolchain.node.parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    started = time.monotonic()
    with log_path.open("wb") as log:
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=_RUN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SuiteRunError(
                f"{version}: the suite did not finish within {_RUN_TIMEOUT_S:g} s ({log_path})"
            ) from None
    seconds = time.monotonic() - started
    announced = tuple(
        m["scenario"] for m in _ANNOUNCED.finditer(log_path.read_text(errors="replace"))
    )
    if not announced:
        raise SuiteRunError(
            f"{version}: the suite ran no scenario (exit {done.returncode}); see {log_path}"
        )
    return SuiteRun(version, output_dir, log_path, announced, done.returncode, seconds)
