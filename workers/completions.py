"""Argument completion for tool authors (ADR-0007): definitions made by ``Toolset.complete``
and the rendering of what a completion handler returns.

    @app.complete(prompt="review", argument="language")
    def languages(value: str, context: dict[str, str]) -> list[str]:
        return [name for name in KNOWN if name.startswith(value)]

``value`` is what the user typed so far; ``context`` holds the other arguments already
chosen. Return the suggestions, best first, or a :class:`Completion` to report a total.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final, final

import msgspec

from proto import MODERN_VERSIONS, CompleteResult, ResultMeta
from proto import Completion as CompletionPayload

__all__ = [
    "MAX_VALUES",
    "Completion",
    "CompletionDefinition",
    "completion_key",
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


def completion_key(kind: str, target: str, argument: str) -> str:
    """How a completion is filed: ``prompt:<name>:<argument>`` or
    ``resource:<template>:<argument>`` (one provider per argument)."""
    return f"{kind}:{target}:{argument}"


@final
class CompletionDefinition:
    """A registered completion provider. Read-only."""

    __slots__ = ("argument", "fn", "is_async", "kind", "target")

    def __init__(self, *, kind: str, target: str, argument: str, fn: Callable[..., Any]) -> None:
        self.kind = kind
        self.target = target
        self.argument = argument
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)

    @property
    def key(self) -> str:
        return completion_key(self.kind, self.target, self.argument)


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
