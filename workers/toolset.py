"""``Toolset``: the tool-author API. Decorate plain typed functions, sync or async.

    app = Toolset("demo")

    @app.tool
    def add(a: float, b: float) -> float:
        \"\"\"Add two numbers.\"\"\"
        return a + b

Registration derives everything the protocol needs: the input schema from the type hints,
the description from the docstring (``Args:`` entries describe parameters), and checks the
tool name against the spec's rules, failing with an error that names the tool.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar, final, overload

import msgspec

from proto import ToolAnnotations, tool_name_problem
from workers.context import ToolContext
from workers.errors import ToolDefinitionError
from workers.tool_schema import ArgsSpec, build_args_spec, parse_docstring

__all__ = ["ToolDefinition", "Toolset"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT_S: Final = 60.0


@final
class ToolDefinition:
    """A registered tool: its handler and everything derived from it. Read-only."""

    __slots__ = (
        "annotations",
        "args",
        "description",
        "fn",
        "is_async",
        "name",
        "timeout_s",
        "title",
    )

    def __init__(
        self,
        *,
        name: str,
        fn: Callable[..., Any],
        args: ArgsSpec,
        title: str | None,
        description: str | None,
        timeout_s: float | None,
        annotations: ToolAnnotations | None,
    ) -> None:
        self.name = name
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.args = args
        self.title = title
        self.description = description
        self.timeout_s = timeout_s
        self.annotations = annotations

    def effective_timeout_s(self, default_s: float) -> float:
        """This tool's timeout, or the fleet-wide default when the tool sets none."""
        return self.timeout_s if self.timeout_s is not None else default_s


@final
class Toolset:
    """The tools one fleet serves, plus the identity it reports to clients.

    Args:
        name: server name reported as ``serverInfo.name``.
        version: server version reported as ``serverInfo.version``.
        title: optional display name.
        instructions: optional guidance for the model, sent at initialize/discover.
    """

    def __init__(
        self,
        name: str,
        version: str = "0.1.0",
        *,
        title: str | None = None,
        instructions: str | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.title = title
        self.instructions = instructions
        self._tools: dict[str, ToolDefinition] = {}

    @property
    def tools(self) -> Mapping[str, ToolDefinition]:
        """Registered tools by name, in registration order."""
        return MappingProxyType(self._tools)

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        timeout_s: float | None = None,
        read_only: bool | None = None,
        destructive: bool | None = None,
        idempotent: bool | None = None,
        open_world: bool | None = None,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        timeout_s: float | None = None,
        read_only: bool | None = None,
        destructive: bool | None = None,
        idempotent: bool | None = None,
        open_world: bool | None = None,
    ) -> F | Callable[[F], F]:
        """Register a function as a tool; use bare (``@app.tool``) or with options.

        Args:
            name: tool name (default: the function's name).
            title: display name.
            description: overrides the docstring's description.
            timeout_s: per-call limit; the fleet default (60 s) applies when ``None``.
            read_only, destructive, idempotent, open_world: behaviour hints published as
                ``annotations``; ``idempotent`` also allows redelivery after a worker loss.

        Raises:
            ToolDefinitionError: invalid name, duplicate name, or unsupported signature.
        """
        hints = ToolAnnotations(
            read_only_hint=_hint(read_only),
            destructive_hint=_hint(destructive),
            idempotent_hint=_hint(idempotent),
            open_world_hint=_hint(open_world),
        )

        def register(func: F) -> F:
            tool_name = func.__name__ if name is None else name
            problem = tool_name_problem(tool_name)
            if problem is not None:
                raise ToolDefinitionError(problem)
            if tool_name in self._tools:
                raise ToolDefinitionError(f"tool {tool_name!r} is registered twice")
            if timeout_s is not None and not (0 < timeout_s < math.inf):
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: timeout_s must be positive and finite"
                )
            summary, param_docs = parse_docstring(func.__doc__)
            self._tools[tool_name] = ToolDefinition(
                name=tool_name,
                fn=func,
                args=build_args_spec(tool_name, func, ToolContext, param_docs),
                title=title,
                description=description or summary,
                timeout_s=timeout_s,
                annotations=hints if hints != ToolAnnotations() else None,
            )
            return func

        if fn is not None:
            return register(fn)
        return register


def _hint(value: bool | None) -> bool | msgspec.UnsetType:
    return msgspec.UNSET if value is None else value
