"""``Toolset``: the tool-author API. Decorate plain typed functions, sync or async.

    app = Toolset("demo")

    @app.tool
    def add(a: float, b: float) -> float:
        \"\"\"Add two numbers.\"\"\"
        return a + b

Registration derives everything the protocol needs: the input schema from the parameters'
type hints, the output schema from the return annotation (``workers/output_schema.py``), the
description from the docstring (``Args:`` entries describe parameters), and checks the tool
name against the spec's rules, failing with an error that names the tool.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, TypeVar, final, get_type_hints, overload

import msgspec

from proto import Icon, ToolAnnotations, tool_name_problem
from workers.context import ToolContext
from workers.errors import ToolDefinitionError
from workers.output_schema import OutputSpec, build_output_spec
from workers.tool_schema import ArgsSpec, build_args_spec, parse_docstring

__all__ = ["ToolDefinition", "Toolset"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT_S: Final = 60.0


@final
class ToolDefinition:
    """A registered tool: its handler and everything derived from it. Read-only.

    ``args`` describes the parameters (``inputSchema``), ``output`` the structured result
    (``outputSchema``), None for a tool whose results are content or text.
    """

    __slots__ = (
        "annotations",
        "args",
        "description",
        "fn",
        "icons",
        "is_async",
        "name",
        "output",
        "timeout_s",
        "title",
    )

    def __init__(
        self,
        *,
        name: str,
        fn: Callable[..., Any],
        args: ArgsSpec,
        output: OutputSpec | None,
        title: str | None,
        description: str | None,
        icons: tuple[Icon, ...],
        timeout_s: float | None,
        annotations: ToolAnnotations | None,
    ) -> None:
        self.name = name
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.args = args
        self.output = output
        self.title = title
        self.description = description
        self.icons = icons
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
        icons: Sequence[Icon] = (),
        input_schema: Mapping[str, Any] | None = None,
        structured_output: bool = True,
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
        icons: Sequence[Icon] = (),
        input_schema: Mapping[str, Any] | None = None,
        structured_output: bool = True,
    ) -> F | Callable[[F], F]:
        """Register a function as a tool; use bare (``@app.tool``) or with options.

        Args:
            name: tool name (default: the function's name).
            title: display name.
            description: overrides the docstring's description.
            timeout_s: per-call limit; the fleet default (60 s) applies when ``None``.
            read_only, destructive, idempotent, open_world: behaviour hints published as
                ``annotations``; ``idempotent`` also allows redelivery after a worker loss.
            icons: icons a client may show for the tool (sent from 2025-11-25 on).
            input_schema: a hand-written ``inputSchema`` published instead of the derived
                one; its top-level properties must name exactly the handler's parameters,
                whose types still check the arguments.
            structured_output: False publishes no ``outputSchema`` whatever the return
                annotation (results are then text, as for an unannotated handler).

        Raises:
            ToolDefinitionError: invalid name, duplicate name, unsupported signature, bad
                icons or a hand-written schema that does not fit the handler.
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
            try:
                type_hints = get_type_hints(func, include_extras=True)
            except Exception as exc:  # any failure to resolve hints is a definition error
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: cannot resolve type hints: {exc}"
                ) from exc
            summary, param_docs = parse_docstring(func.__doc__)
            args = build_args_spec(
                tool_name,
                func,
                ToolContext,
                param_docs,
                hints=type_hints,
                input_schema=input_schema,
            )
            output = None
            if structured_output and "return" in type_hints:
                output = build_output_spec(type_hints["return"])
            self._tools[tool_name] = ToolDefinition(
                name=tool_name,
                fn=func,
                args=args,
                output=output,
                title=title,
                description=description or summary,
                icons=_checked_icons(tool_name, icons),
                timeout_s=timeout_s,
                annotations=hints if hints != ToolAnnotations() else None,
            )
            return func

        if fn is not None:
            return register(fn)
        return register


def _hint(value: bool | None) -> bool | msgspec.UnsetType:
    return msgspec.UNSET if value is None else value


def _checked_icons(tool_name: str, icons: Sequence[Icon]) -> tuple[Icon, ...]:
    # Structs are not type-checked when built, only when decoded: round-trip them once here
    # so a bad theme or a missing src fails at import, naming the tool.
    try:
        return tuple(msgspec.convert(msgspec.to_builtins(list(icons)), list[Icon]))
    except (TypeError, msgspec.ValidationError) as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: invalid icons: {exc}") from exc
