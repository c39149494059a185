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
from typing import Any, Final, TypeVar, final, overload

import msgspec

from proto import (
    Icon,
    Implementation,
    TaskSupport,
    ToolAnnotations,
    flags_from_names,
    is_scope_token,
    tool_name_problem,
)
from workers.completions import CompletionDefinition, CompletionKind, define_completion
from workers.content import Annotations
from workers.context import ToolContext
from workers.errors import ToolDefinitionError
from workers.output_schema import OutputSpec, build_output_spec
from workers.prompts import PromptDefinition, define_prompt
from workers.resources import ResourceDefinition, define_resource
from workers.tool_schema import ArgsSpec, build_args_spec, parse_docstring, resolve_hints

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
        "enabled",
        "fn",
        "icons",
        "input_before_task",
        "is_async",
        "name",
        "output",
        "required_client",
        "scopes",
        "task_support",
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
        required_client: int = 0,
        enabled: bool = True,
        task_support: TaskSupport = TaskSupport.FORBIDDEN,
        input_before_task: bool = False,
        scopes: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.scopes = scopes
        """The OAuth scopes a caller with a bearer token needs, all of them (ADR-0016)."""
        self.required_client = required_client
        self.task_support = task_support
        self.input_before_task = input_before_task
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.args = args
        self.output = output
        self.title = title
        self.description = description
        self.icons = icons
        self.timeout_s = timeout_s
        self.annotations = annotations
        self.enabled = enabled
        """Whether the tool is listed and callable until the fleet says otherwise
        (ADR-0010)."""

    def effective_timeout_s(self, default_s: float) -> float:
        """This tool's timeout, or the fleet-wide default when the tool sets none."""
        return self.timeout_s if self.timeout_s is not None else default_s


_TASK_SUPPORTS: Final = tuple(support.value for support in TaskSupport)


@final
class Toolset:
    """The tools one fleet serves, plus the identity it reports to clients (``serverInfo``
    at initialize, the ``_meta`` stamp at 2026-07-28; each revision gets the fields it has).

    Args:
        name: server name reported as ``serverInfo.name``.
        version: server version reported as ``serverInfo.version``.
        title: optional display name (sent from 2025-06-18 on).
        description: optional description of the server (sent from 2025-11-25 on).
        website_url: optional ``http(s)`` URL of its website (sent from 2025-11-25 on).
        icons: icons a client may show for the server (sent from 2025-11-25 on).
        instructions: optional guidance for the model, sent at initialize/discover.

    Raises:
        ToolDefinitionError: bad icons or a website URL that is not ``http(s)``.
    """

    def __init__(
        self,
        name: str,
        version: str = "0.1.0",
        *,
        title: str | None = None,
        description: str | None = None,
        website_url: str | None = None,
        icons: Sequence[Icon] = (),
        instructions: str | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.title = title
        self.description = description
        self.website_url = _checked_website(website_url)
        self.icons = _checked_icons("server", icons)
        self.instructions = instructions
        self._tools: dict[str, ToolDefinition] = {}
        self._resources: dict[str, ResourceDefinition] = {}
        self._prompts: dict[str, PromptDefinition] = {}
        self._completions: dict[str, CompletionDefinition] = {}

    def longest_timeout_s(self, default_s: float) -> float:
        """The longest any call (tool, read, prompt) may run, given the fleet's default
        timeout: how long a retiring worker lets its calls run (ADR-0014), and how far back
        a starting worker reads cancels."""
        limits = [t.effective_timeout_s(default_s) for t in self._tools.values()]
        limits += [r.timeout_s or default_s for r in self._resources.values()]
        limits += [p.timeout_s or default_s for p in self._prompts.values()]
        return max(limits, default=default_s)

    @property
    def server_info(self) -> Implementation:
        """The identity as the latest revision reports it (``proto.implementation_for_version``
        shapes it for older ones); the front and the workers stamp the same one."""
        return Implementation(
            name=self.name,
            version=self.version,
            title=self.title or msgspec.UNSET,
            description=self.description or msgspec.UNSET,
            icons=[msgspec.to_builtins(icon) for icon in self.icons] or msgspec.UNSET,
            website_url=self.website_url or msgspec.UNSET,
        )

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
        requires_client: Sequence[str] = (),
        enabled: bool = True,
        task_support: TaskSupport | str = TaskSupport.FORBIDDEN,
        input_before_task: bool = False,
        scopes: Sequence[str] = (),
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
        requires_client: Sequence[str] = (),
        enabled: bool = True,
        task_support: TaskSupport | str = TaskSupport.FORBIDDEN,
        input_before_task: bool = False,
        scopes: Sequence[str] = (),
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
            requires_client: client capabilities the tool cannot work without
                (``"sampling"``, ``"elicitation"``, ``"roots"``, ...): a call from a client
                that did not declare them is refused by the front, before a worker runs
                anything (``-32021`` at 2026-07-28, a tool error before).
            enabled: False registers the tool turned off: unlisted, and called it answers
                as an unknown tool, until a handler (``ctx.enable``) or an operator
                (``mcpfleet tools enable``) turns it on for the whole fleet (ADR-0010).
            task_support: whether calls may run as durable tasks (ADR-0011):
                ``"forbidden"`` (the default), ``"optional"`` (a task when the client asks
                for one, 2025-11-25, or declared the tasks extension, 2026-07-28) or
                ``"required"`` (only ever a task). A task run lost with its worker is
                retried only for ``idempotent=True`` tools.
            input_before_task: at 2026-07-28, input the task asks for as it starts is
                gathered by rounds of the creating ``tools/call`` (``InputRequiredResult``)
                before the client gets the task (ADR-0011); otherwise the task asks through
                ``tasks/get`` / ``tasks/update``. Needs a ``task_support``.
            scopes: OAuth scopes a caller authenticated with a bearer token must hold, all
                of them (``["files:read"]``), to see the tool in ``tools/list`` and call it
                (a call without them is refused with 403, before a worker runs anything;
                ADR-0016). The fleet's ``[auth] tool_scopes`` replaces them. stdio's local
                user and callers of a fleet without ``[auth]`` are not restricted.

        Raises:
            ToolDefinitionError: invalid name, duplicate name, unsupported signature, bad
                icons, an unknown client capability, an unknown task support, a scope that
                is not an OAuth scope token, or a hand-written schema that does not fit
                the handler.
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
            _check_timeout(f"tool {tool_name!r}", timeout_s)
            try:
                required_client = flags_from_names(requires_client)
            except ValueError as exc:
                raise ToolDefinitionError(f"tool {tool_name!r}: {exc}") from None
            if task_support not in _TASK_SUPPORTS:
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: task_support must be one of "
                    f"{', '.join(_TASK_SUPPORTS)}, not {task_support!r}"
                )
            support = TaskSupport(task_support)
            bad_scopes = [scope for scope in scopes if not is_scope_token(scope)]
            if isinstance(scopes, str) or bad_scopes:
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: scopes must be a list of OAuth scopes (visible "
                    f"ASCII without spaces, quotes or backslashes), not {scopes!r}"
                )
            if input_before_task and support is TaskSupport.FORBIDDEN:
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: input_before_task needs a task_support"
                )
            type_hints = resolve_hints(f"tool {tool_name!r}", func)
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
                icons=_checked_icons(f"tool {tool_name!r}", icons),
                timeout_s=timeout_s,
                annotations=hints if hints != ToolAnnotations() else None,
                required_client=required_client,
                enabled=enabled,
                task_support=support,
                input_before_task=input_before_task,
                scopes=tuple(dict.fromkeys(scopes)),
            )
            return func

        if fn is not None:
            return register(fn)
        return register

    # --- resources, prompts, completions (ADR-0007) -----------------------------------------

    @property
    def resources(self) -> Mapping[str, ResourceDefinition]:
        """Registered resources and templates by URI (template), in registration order."""
        return MappingProxyType(self._resources)

    @property
    def prompts(self) -> Mapping[str, PromptDefinition]:
        """Registered prompts by name, in registration order."""
        return MappingProxyType(self._prompts)

    @property
    def completions(self) -> Mapping[str, CompletionDefinition]:
        """Registered completion providers by ``completion_key``."""
        return MappingProxyType(self._completions)

    def resource(
        self,
        uri: str,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        timeout_s: float | None = None,
        annotations: Annotations | None = None,
        enabled: bool = True,
    ) -> Callable[[F], F]:
        """Register a function as the reader of ``uri``: a static resource, or a template
        whose ``{variables}`` are the function's parameters (``workers/resources.py``).

        Args:
            uri: e.g. ``"config://app"`` or ``"users://{user_id}/profile{?fields}"``.
            name: listed name (default: the function's name).
            title: display name.
            description: overrides the docstring's description.
            mime_type: of the contents (default: ``text/plain`` for text, JSON for data,
                ``application/octet-stream`` for bytes).
            timeout_s: per-read limit; the fleet default applies when ``None``.
            annotations: hints listed with it (audience, priority, last modified).
            enabled: False registers it turned off (unlisted, read as unknown) until the
                fleet turns it on (``ctx.enable``, ``mcpfleet resources enable``; ADR-0010).

        Raises:
            ToolDefinitionError: a template outside the supported subset, parameters that
                are not its variables, a URI registered twice, or annotations that are not
                an ``Annotations``.
        """

        def register(func: F) -> F:
            if uri in self._resources:
                raise ToolDefinitionError(f"resource {uri!r} is registered twice")
            _check_timeout(f"resource {uri!r}", timeout_s)
            self._resources[uri] = define_resource(
                uri,
                func,
                name=name,
                title=title,
                description=description,
                mime_type=mime_type,
                timeout_s=timeout_s,
                annotations=annotations,
                enabled=enabled,
            )
            return func

        return register

    @overload
    def prompt(self, fn: F, /) -> F: ...

    @overload
    def prompt(
        self,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        timeout_s: float | None = None,
        enabled: bool = True,
    ) -> Callable[[F], F]: ...

    def prompt(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        timeout_s: float | None = None,
        enabled: bool = True,
    ) -> F | Callable[[F], F]:
        """Register a function as a prompt; its parameters are the prompt's arguments
        (``workers/prompts.py``). Use bare (``@app.prompt``) or with options.

        ``enabled=False`` registers it turned off (unlisted, got as unknown) until the
        fleet turns it on (``ctx.enable``, ``mcpfleet prompts enable``; ADR-0010).

        Raises:
            ToolDefinitionError: a duplicate name or an unsupported signature.
        """

        def register(func: F) -> F:
            definition = define_prompt(
                func,
                name=name,
                title=title,
                description=description,
                timeout_s=timeout_s,
                enabled=enabled,
            )
            if definition.name in self._prompts:
                raise ToolDefinitionError(f"prompt {definition.name!r} is registered twice")
            _check_timeout(f"prompt {definition.name!r}", timeout_s)
            self._prompts[definition.name] = definition
            return func

        if fn is not None:
            return register(fn)
        return register

    def complete(
        self, *, argument: str, prompt: str | None = None, resource: str | None = None
    ) -> Callable[[F], F]:
        """Register a function that completes ``argument`` of a prompt or a resource
        template registered before it (``workers/completions.py``).

        Raises:
            ToolDefinitionError: not exactly one of ``prompt`` / ``resource``, an unknown
                target or argument, or a second provider for the same argument.
        """
        kind, target, arguments = self._completion_target(prompt, resource)
        label = f"completion of {kind} {target!r} argument {argument!r}"
        if argument not in arguments:
            raise ToolDefinitionError(f"{label}: the {kind} has no such argument")

        def register(func: F) -> F:
            definition = define_completion(kind, target, argument, func)
            if definition.key in self._completions:
                raise ToolDefinitionError(f"{label} is registered twice")
            self._completions[definition.key] = definition
            return func

        return register

    def _completion_target(
        self, prompt: str | None, resource: str | None
    ) -> tuple[CompletionKind, str, tuple[str, ...]]:
        if (prompt is None) == (resource is None):
            raise ToolDefinitionError("complete() needs exactly one of prompt= or resource=")
        if prompt is not None:
            found = self._prompts.get(prompt)
            if found is None:
                raise ToolDefinitionError(f"complete(): register prompt {prompt!r} first")
            return "prompt", prompt, tuple(a.name for a in found.arguments)
        assert resource is not None
        template = self._resources.get(resource)
        if template is None or not template.is_template:
            raise ToolDefinitionError(f"complete(): register resource template {resource!r} first")
        variables = template.template.variables + template.template.query_names
        return "resource", resource, variables


def _check_timeout(label: str, timeout_s: float | None) -> None:
    if timeout_s is not None and not (0 < timeout_s < math.inf):
        raise ToolDefinitionError(f"{label}: timeout_s must be positive and finite")


def _hint(value: bool | None) -> bool | msgspec.UnsetType:
    return msgspec.UNSET if value is None else value


def _checked_icons(label: str, icons: Sequence[Icon]) -> tuple[Icon, ...]:
    # Structs are not type-checked when built, only when decoded: round-trip them once here
    # so a bad theme or a missing src fails at import, naming the tool (or the server).
    try:
        return tuple(msgspec.convert(msgspec.to_builtins(list(icons)), list[Icon]))
    except (TypeError, msgspec.ValidationError) as exc:
        raise ToolDefinitionError(f"{label}: invalid icons: {exc}") from exc


def _checked_website(url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith(("https://", "http://")):
        raise ToolDefinitionError(f"server: website_url must be an http(s) URL, not {url!r}")
    return url
