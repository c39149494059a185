"""What a result was measured on: CPU, cores, Python, the servers' package versions and the
checkout's git commit, so a result file can be compared (or not) with another."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# The packages that make each server what it is (redis: the redis-py client).
PACKAGES = {
    "sdk": ("mcp", "uvicorn", "uvloop", "httptools", "starlette", "pydantic"),
    "mcpfleet": ("mcpfleet", "hypercorn", "trio", "redis", "hiredis", "msgspec"),
}
_VERSIONS = (
    "import importlib.metadata as m, json, sys\n"
    "def v(p):\n"
    "    try:\n"
    "        return m.version(p)\n"
    "    except m.PackageNotFoundError:\n"
    "        return None\n"
    "print(json.dumps({p: v(p) for p in sys.argv[1:]}))\n"
)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_versions(python: str, packages: tuple[str, ...]) -> dict[str, str]:
    """Versions of ``packages`` installed for ``python`` (absent ones left out)."""
    out = subprocess.run(
        [python, "-c", _VERSIONS, *packages], capture_output=True, text=True, check=True
    )
    found: dict[str, str | None] = json.loads(out.stdout)
    return {name: version for name, version in found.items() if version}


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, check=False)
    return out.stdout.strip()


def describe(pythons: dict[str, str], redis_version: str | None) -> dict[str, Any]:
    """The machine and software a run measured; ``pythons`` maps a server name to the
    interpreter it ran on."""
    packages = {
        name: package_versions(python, PACKAGES.get(name, ())) for name, python in pythons.items()
    }
    if redis_version and "mcpfleet" in packages:
        packages["mcpfleet"]["redis-server"] = redis_version
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "git_commit": _git("rev-parse", "--short=12", "HEAD") or "unknown",
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
