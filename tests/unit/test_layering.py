"""Package layering rules, checked on the source: ``proto`` is sans-IO, the front and the
workers never import each other, and only ``proto/keyspace.py`` spells Redis key names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("proto", "server", "workers", "supervisor")

PROTO_FORBIDDEN = frozenset(
    {
        # I/O, event loops and clocks
        "trio",
        "redis",
        "hypercorn",
        "structlog",
        "prometheus_client",
        "socket",
        "time",
        "asyncio",
        "os",
        # randomness, logging and processes (the proto docstring's rules)
        "random",
        "secrets",
        "uuid",
        "logging",
        "datetime",
        "subprocess",
        "threading",
        # the packages above proto
        "server",
        "workers",
        "supervisor",
    }
)


def _py_files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no .py files under {package}/"
    return files


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Top-level names of every absolute import in ``path`` (relative ones resolve in-package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in (
                "import_module",
                "__import__",
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value.split(".")[0]


def _violations(package: str, forbidden: frozenset[str]) -> list[str]:
    found = []
    for path in _py_files(package):
        for lineno, module in _imported_modules(path):
            if module in forbidden:
                found.append(f"{path.relative_to(ROOT)}:{lineno} imports {module}")
    return found


def test_proto_is_sans_io() -> None:
    assert _violations("proto", PROTO_FORBIDDEN) == []


def test_server_never_imports_workers() -> None:
    assert _violations("server", frozenset({"workers", "supervisor"})) == []


def test_workers_never_import_server() -> None:
    assert _violations("workers", frozenset({"server", "supervisor"})) == []


def test_import_scan_sees_imports() -> None:
    """Guard against a scan that silently finds nothing."""
    modules = {m for path in _py_files("proto") for _, m in _imported_modules(path)}
    assert "msgspec" in modules
    assert "proto" in modules
    server_modules = {m for path in _py_files("server") for _, m in _imported_modules(path)}
    assert {"proto", "trio"} <= server_modules


@pytest.mark.parametrize("package", PACKAGES)
def test_only_keyspace_spells_redis_key_names(package: str) -> None:
    allowed = ROOT / "proto" / "keyspace.py"
    offenders = [
        str(path.relative_to(ROOT))
        for path in _py_files(package)
        if path != allowed and "mcpf:" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_keyspace_does_spell_the_prefix() -> None:
    assert "mcpf:" in (ROOT / "proto" / "keyspace.py").read_text(encoding="utf-8")


def _module_level_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Imports run when the module is imported: at its top level or in its top-level
    blocks, except ``if TYPE_CHECKING:`` (function and class bodies are not entered)."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody", "handlers"):
                pending.extend(getattr(node, block, []))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)


@pytest.mark.parametrize("package", PACKAGES)
def test_prometheus_client_is_never_imported_at_import_time(package: str) -> None:
    """The library fixes its mode (multiprocess files or memory) at its first import, from
    PROMETHEUS_MULTIPROC_DIR, and the supervisor imports every package before it sets that
    variable (ADR-0012): only code that runs later may import it."""
    offenders = [
        f"{path.relative_to(ROOT)}:{lineno}"
        for path in _py_files(package)
        for lineno, module in _module_level_imports(ast.parse(path.read_text(encoding="utf-8")))
        if module == "prometheus_client"
    ]
    assert offenders == []


def test_the_import_time_scan_sees_module_level_imports() -> None:
    tree = ast.parse(
        "import a\nif X:\n    import b\nif TYPE_CHECKING:\n    import c\n"
        "def f():\n    import d\ntry:\n    import e\nexcept E:\n    import f\n"
    )
    assert sorted(m for _, m in _module_level_imports(tree)) == ["a", "b", "e", "f"]
