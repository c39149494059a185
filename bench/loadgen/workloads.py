"""What each call of a load run sends and how its reply is judged.

A check gets the tool call's ``result`` object (a ``CallToolResult`` as decoded JSON) and
returns ``None`` when it is what the workload expects, or a short reason otherwise. Checks are
module-level callables (picklable), so workloads travel to generator processes unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

ERAS: Final = ("2026-07-28", "2025-11-25")
"""The protocol revisions the generator speaks: stateless (per-request ``_meta`` envelope)
and handshake (initialize + session)."""

Check = Callable[[Mapping[str, Any]], "str | None"]


def result_text(result: Mapping[str, Any]) -> str | None:
    """The text of a ``CallToolResult``'s first content block (None when there is none)."""
    content = result.get("content")
    if not isinstance(content, list) or not content:
        return None
    first = content[0]
    if not isinstance(first, dict) or first.get("type") != "text":
        return None
    text = first.get("text")
    return text if isinstance(text, str) else None


def accept_any(result: Mapping[str, Any]) -> str | None:
    """Check that accepts every (non-error) result."""
    return None


@dataclass(frozen=True)
class ExpectText:
    """Check: the first content block is exactly ``text``."""

    text: str

    def __call__(self, result: Mapping[str, Any]) -> str | None:
        got = result_text(result)
        return None if got == self.text else f"expected text {self.text!r}, got {got!r}"


@dataclass(frozen=True)
class ExpectTextPrefix:
    """Check: the first content block starts with ``prefix``."""

    prefix: str

    def __call__(self, result: Mapping[str, Any]) -> str | None:
        got = result_text(result)
        if got is not None and got.startswith(self.prefix):
            return None
        return f"expected text starting {self.prefix!r}, got {got!r}"


@dataclass(frozen=True)
class ExpectRounds:
    """Check for ``cpu_burn``: a structured ``{"rounds": int}`` (or its JSON text)."""

    def __call__(self, result: Mapping[str, Any]) -> str | None:
        structured = result.get("structuredContent")
        if isinstance(structured, dict) and isinstance(structured.get("rounds"), int):
            return None
        got = result_text(result)
        if got is not None and '"rounds"' in got:
            return None
        return f"expected rounds, got {structured!r} / {got!r}"


@dataclass(frozen=True)
class Workload:
    """One kind of call, repeated by every client of a run.

    Args:
        name: how results name it (e.g. ``"echo"``, ``"cpu_burn(5)"``).
        tool: the tool called.
        arguments: its arguments (the same on every call).
        check: judges each call's result: None when right, else a reason.
    """

    name: str
    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    check: Check = field(default_factory=lambda: accept_any)


def workload(name: str, amount: int | None = None) -> Workload:
    """A bench workload by name: ``echo``, ``cpu_burn`` (ms, default 5), ``wait`` (ms,
    default 50) or ``blocking_wait`` (ms, default 50).

    Raises:
        KeyError: an unknown name.
    """
    if name == "echo":
        return Workload("echo", "echo", {"text": "hello"}, ExpectText("hello"))
    if name == "cpu_burn":
        ms = 5 if amount is None else amount
        return Workload(f"cpu_burn({ms})", "cpu_burn", {"ms": ms}, ExpectRounds())
    if name == "wait":
        ms = 50 if amount is None else amount
        return Workload(f"wait({ms})", "wait", {"ms": ms}, ExpectText(f"waited {ms} ms"))
    if name == "blocking_wait":
        ms = 50 if amount is None else amount
        return Workload(
            f"blocking_wait({ms})", "blocking_wait", {"ms": ms}, ExpectText(f"blocked {ms} ms")
        )
    raise KeyError(f"unknown workload {name!r}")


WORKLOADS: Final[Mapping[str, Workload]] = {
    name: workload(name) for name in ("echo", "cpu_burn", "wait", "blocking_wait")
}
"""The issue's workloads with their default amounts (echo, cpu_burn(5), wait(50),
blocking_wait(50))."""
