"""Argument completion for tool authors (ADR-0007): definitions made by ``Toolset.complete``
and the rendering of what a completion handler returns.

    @app.complete(prompt="review", argument="language")
    def languages(value: str, context: dict[str, str]) -> list[str]:
        return [name for name in KNOWN if name.startswith(value)]

``value`` is what the user typed so far; ``context`` holds the other arguments already
chosen. Return the suggestions, best first, or a :class:`Completion` to report a total. A
third parameter typed ``ToolContext`` receives the call's context, as for tools.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final, Literal, final

import msgspec

from proto import MODERN_VERSIONS, CompleteResult, ResultMeta, completion_key
from proto import Completion as CompletionPayload
from workers.context import ToolContext
from workers.errors import ToolDefinitionError
from workers.tool_schema import resolve_hints

__all__ = [
    "MAX_VALUES",
    "Completion",
    "CompletionDefinition",
    "completion_key",
    "define_completion",
    "render_completion",
]

MAX_VALUES: Final = 100
"""The spec's cap on the values of one completion; more set ``hasMore``."""

_encoder: Final = msgspec.json.Encoder()


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """Suggestions with the size of the whole set (``total``) when it is known."""

    values: list[str]
    total: int | None = None
    has_more: bool = False


CompletionKind = Literal["prompt", "resource"]


@final
class CompletionDefinition:
    """A registered completion provider. Read-only.

    Attributes:
        parameters: the names the handler takes the typed value and the other arguments'
            values under, in that order.
        context_param: the name of its ``ToolContext`` parameter, if it has one.
    """

    __slots__ = ("argument", "context_param", "fn", "is_async", "kind", "parameters", "target")

    def __init__(
        self,
        *,
        kind: CompletionKind,
        target: str,
        argument: str,
        fn: Callable[..., Any],
        parameters: tuple[str, str] = ("value", "context"),
        context_param: str | None = None,
    ) -> None:
        self.kind: CompletionKind = kind
        self.target = target
        self.argument = argument
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.parameters = parameters
        self.context_param = context_param

    @property
    def key(self) -> str:
        return completion_key(self.kind, self.target, self.argument)


def define_completion(
    kind: CompletionKind, target: str, argument: str, fn: Callable[..., Any]
) -> CompletionDefinition:
    """Check ``fn``'s signature and build its definition.

    Raises:
        ToolDefinitionError: it does not take exactly two parameters (the value and the
            context) besides an optional ``ToolContext``, or takes ``*args``/``**kwargs``.
    """
    label = f"completion of {kind} {target!r} argument {argument!r}"
    hints = resolve_hints(label, fn)
    names: list[str] = []
    context_param: str | None = None
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"{label}: no *args or **kwargs")
        if hints.get(param.name) is ToolContext:
            context_param = param.name
        else:
            names.append(param.name)
    if len(names) != 2:
        raise ToolDefinitionError(
            f"{label}: the handler takes (value: str, context: dict[str, str]) and "
            f"optionally a ToolContext, not {names}"
        )
    return CompletionDefinition(
        kind=kind,
        target=target,
        argument=argument,
        fn=fn,
        parameters=(names[0], names[1]),
        context_param=context_param,
    )


def render_completion(value: object, *, version: str, meta: ResultMeta) -> bytes:
    """The ``completion/complete`` result, capped at :data:`MAX_VALUES` values.

    Raises:
        TypeError: the handler returned neither a list of strings nor a Completion.
    """
    if isinstance(value, Completion):
        values, total, has_more = value.values, value.total, value.has_more
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        values, total, has_more = list(value), len(value), False
    else:
        raise TypeError(
            f"a completion handler returned {type(value).__name__}; return a list of str "
            "or a Completion"
        )
    if len(values) > MAX_VALUES:
        values, has_more = values[:MAX_VALUES], True
    modern = version in MODERN_VERSIONS
    return _encoder.encode(
        CompleteResult(
            completion=CompletionPayload(
                values=values,
                total=msgspec.UNSET if total is None else total,
                has_more=has_more,
            ),
            result_type="complete" if modern else msgspec.UNSET,
            meta=meta if modern else msgspec.UNSET,
        )
    )
