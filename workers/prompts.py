"""Prompts for tool authors (ADR-0007): definitions made by ``Toolset.prompt``, the message
helpers, and the rendering of what a prompt handler returns.

    @app.prompt
    def review(code: str, language: str = "python") -> str:
        \"\"\"Ask for a code review.

        Args:
            code: the code to review.
            language: its language.
        \"\"\"
        return f"Review this {language} code:\\n{code}"

The handler's parameters are the prompt's arguments (those without a default are
required); clients send every value as a string, decoded leniently for the parameter's type.
A message's content is text, a content block, or one of the content helpers (``Text``,
``Image``, ``Audio``, ``TextResource``, ``BlobResource``, any of them with ``Annotations``),
shaped for the call's protocol version as in tool results.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final, Literal, final

import msgspec

from proto import (
    MODERN_VERSIONS,
    ContentBlock,
    GetPromptResult,
    PromptArgument,
    PromptMessage,
    ResultMeta,
    TextContent,
    content_for_version,
)
from workers.content import Audio, BlobResource, Image, Text, TextResource
from workers.context import ToolContext
from workers.errors import ToolDefinitionError
from workers.tool_schema import ArgsSpec, build_args_spec, parse_docstring

__all__ = [
    "AssistantMessage",
    "PromptDefinition",
    "UserMessage",
    "define_prompt",
    "render_prompt",
]

_encoder: Final = msgspec.json.Encoder()


MessageContent = str | ContentBlock | Text | Image | Audio | TextResource | BlobResource
"""What one prompt message holds: text, a content block, or a content helper."""

_HELPERS: Final = (Text, Image, Audio, TextResource, BlobResource)


class UserMessage(msgspec.Struct, frozen=True):
    """A message of the prompt spoken by the user: text, a content block or helper
    (``UserMessage(Image(png, "image/png"))``)."""

    content: MessageContent


class AssistantMessage(msgspec.Struct, frozen=True):
    """A message of the prompt spoken by the assistant (a few-shot example, say)."""

    content: MessageContent


@final
class PromptDefinition:
    """A registered prompt. Read-only."""

    __slots__ = (
        "args",
        "arguments",
        "description",
        "enabled",
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
        arguments: list[PromptArgument],
        title: str | None,
        description: str | None,
        timeout_s: float | None,
        enabled: bool = True,
    ) -> None:
        self.name = name
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.args = args
        self.arguments = arguments
        self.title = title
        self.description = description
        self.timeout_s = timeout_s
        self.enabled = enabled
        """Whether the prompt is listed and served until the fleet says otherwise
        (ADR-0010)."""

    @property
    def required(self) -> frozenset[str]:
        """Arguments a ``prompts/get`` must carry."""
        return frozenset(a.name for a in self.arguments if a.required is True)


def define_prompt(
    fn: Callable[..., Any],
    *,
    name: str | None,
    title: str | None,
    description: str | None,
    timeout_s: float | None,
    enabled: bool = True,
) -> PromptDefinition:
    """Build a prompt's definition from its handler.

    Raises:
        ToolDefinitionError: an empty name or an unsupported signature.
    """
    prompt_name = fn.__name__ if name is None else name
    if not prompt_name:
        raise ToolDefinitionError("a prompt needs a non-empty name")
    summary, param_docs = parse_docstring(fn.__doc__)
    args = build_args_spec(prompt_name, fn, ToolContext, param_docs, kind="prompt")
    required = set(args.schema.get("required", ()))
    arguments = [
        PromptArgument(
            name=parameter,
            description=param_docs.get(parameter, msgspec.UNSET),
            required=parameter in required,
        )
        for parameter in args.struct.__struct_fields__
    ]
    return PromptDefinition(
        name=prompt_name,
        fn=fn,
        args=args,
        arguments=arguments,
        title=title,
        description=description or summary,
        timeout_s=timeout_s,
        enabled=enabled,
    )


def render_prompt(
    value: object, *, description: str | None, version: str, meta: ResultMeta
) -> bytes:
    """The ``prompts/get`` result: a ``str`` is one user message; otherwise one message or
    a list of them (``UserMessage`` / ``AssistantMessage``).

    Raises:
        TypeError: the handler returned something that is not a prompt.
    """
    items = value if isinstance(value, list | tuple) else [value]
    messages = [_message(item, version) for item in items]
    modern = version in MODERN_VERSIONS
    return _encoder.encode(
        GetPromptResult(
            messages=messages,
            description=description or msgspec.UNSET,
            result_type="complete" if modern else msgspec.UNSET,
            meta=meta if modern else msgspec.UNSET,
        )
    )


def _message(item: object, version: str) -> PromptMessage:
    role: Literal["user", "assistant"]
    if isinstance(item, str):
        return PromptMessage(role="user", content=TextContent(text=item))
    if isinstance(item, UserMessage):
        role, content = "user", item.content
    elif isinstance(item, AssistantMessage):
        role, content = "assistant", item.content
    else:
        raise TypeError(
            f"a prompt handler returned {type(item).__name__}; return str, UserMessage or "
            "AssistantMessage, or a list of them"
        )
    block: ContentBlock
    if isinstance(content, str):
        block = TextContent(text=content)
    elif isinstance(content, _HELPERS):
        block = content.to_block()
    else:
        block = content
    (shaped,) = content_for_version([block], version)
    return PromptMessage(role=role, content=shaped)
