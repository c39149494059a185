"""What a call runs, per kind (ADR-0007): the handler a call names, its decoded keyword
arguments, its time limit, and how its outcome becomes the reply.

The :class:`~workers.handler_runner.HandlerRunner` runs every kind the same way (deadline,
cancellation, thread pool); only these jobs differ:

- a **tool** renders its value as a ``CallToolResult``, and every failure of the handler
  (an exception, a timeout, a ``ToolError``) as an ``isError: true`` result the model sees
  (mcp-protocol.md 8.3);
- a **resource read**, **prompt get** or **completion** renders its value as that method's
  result, and a failure as a JSON-RPC error: ``-32603`` naming the resource, prompt or
  completion for an exception or a timeout; ``-32602`` with the author's message for a
  ``ToolError`` (the only input of these methods is the client's URI or arguments, so an
  author's refusal is a refusal of those; a resource's carries ``data.uri``, the shape
  2026-07-28 gives "not found").

A call naming something this worker does not serve, or carrying arguments it cannot decode,
gets ``-32602`` before anything runs: the front checked both, so only a version skew
between fronts and workers gets there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from proto import (
    MODERN_VERSIONS,
    CallKind,
    CallMessage,
    ErrorCode,
    ErrorObject,
    MissingClientCapabilityError,
    ResultMeta,
    decode_completion_arguments,
    decode_resource_arguments,
)
from workers.completions import CompletionDefinition, render_completion
from workers.prompts import PromptDefinition, render_prompt
from workers.resources import ResourceDefinition, render_read
from workers.result_render import ResultRenderer
from workers.toolset import ToolDefinition, Toolset

__all__ = ["HandlerJob", "HandlerJobs", "Outcome"]

Outcome = bytes | ErrorObject
"""A call's answer: the encoded ``result``, or a JSON-RPC error."""

_encoder: Final = msgspec.json.Encoder()
_READ_TTL_MS: Final = 0
"""``ttlMs`` on 2026-07-28 reads: a read runs handler code whose answer may change at any
moment, so clients revalidate (caching in the front is for later, ADR-0007)."""


class HandlerJob:
    """One call's handler, ready to run.

    Attributes:
        fn: the handler; ``is_async`` tells how to run it.
        kwargs: its arguments by parameter name; the runner adds the context.
        context_param: the parameter taking the ``ToolContext``, if it has one.
        limit_s: its time limit.
        version: the call's protocol version (results are rendered for it).
        tool: the registered tool's name for a tool's job (None for the other kinds): the
            ``tool`` label of the tool metrics.
    """

    __slots__ = ("context_param", "fn", "is_async", "kwargs", "limit_s", "tool", "version")

    fn: Callable[..., Any]
    is_async: bool
    kwargs: dict[str, object]
    context_param: str | None
    limit_s: float
    version: str
    tool: str | None
    # Each kind sets these in its own constructor, with no call to a shared one and no
    # per-call formatting: a tool call builds one of these (DESIGN.md section 6).

    @property
    def subject(self) -> str:
        """What the call runs, for messages (``Tool 'add'``, ``Resource 'x://y'``)."""
        raise NotImplementedError

    def render(self, value: object) -> bytes:
        """The result for what the handler returned.

        Raises:
            TypeError: the value is not what this kind of handler may return.
            ToolError: it does not fit the tool's declared output schema.
        """
        raise NotImplementedError

    def failed(self, message: str) -> Outcome:
        """The answer when the handler failed (raised, timed out): ``message`` says how."""
        return ErrorObject(ErrorCode.INTERNAL_ERROR, message)

    def refused(self, message: str) -> Outcome:
        """The answer when the handler raised ``ToolError(message)``."""
        return ErrorObject(ErrorCode.INVALID_PARAMS, message)

    def lacks_capability(self, error: MissingClientCapabilityError) -> Outcome:
        """The answer when the handler needed a client capability the client did not
        declare: ``-32021`` with ``data.requiredCapabilities`` (mcp-protocol.md 7.1)."""
        return ErrorObject(error.code, error.message, error.data)


class _ToolJob(HandlerJob):
    __slots__ = ("_renderer", "_tool")

    def __init__(
        self,
        tool: ToolDefinition,
        renderer: ResultRenderer,
        kwargs: dict[str, object],
        limit_s: float,
        version: str,
    ) -> None:
        self.fn = tool.fn
        self.is_async = tool.is_async
        self.kwargs = kwargs
        self.context_param = tool.args.context_param
        self.limit_s = limit_s
        self.version = version
        self.tool = tool.name
        self._tool = tool
        self._renderer = renderer

    @property
    def subject(self) -> str:
        return f"Tool {self._tool.name!r}"

    def render(self, value: object) -> bytes:
        return self._renderer.success(value, self.version, self._tool.output)

    def failed(self, message: str) -> Outcome:
        return self._renderer.tool_error(message, self.version)

    refused = failed  # a ToolError is a tool error like any other

    def lacks_capability(self, error: MissingClientCapabilityError) -> Outcome:
        # -32021 exists from 2026-07-28 on; before, what a tool cannot do is a tool error
        # the model reads.
        if self.version in MODERN_VERSIONS:
            return super().lacks_capability(error)
        return self.failed(f"{self.subject} cannot run: {error.message}")


class _ResourceJob(HandlerJob):
    __slots__ = ("_meta", "_resource", "_uri")

    def __init__(
        self,
        resource: ResourceDefinition,
        uri: str,
        meta: ResultMeta,
        kwargs: dict[str, object],
        limit_s: float,
        *,
        version: str,
    ) -> None:
        self.fn = resource.fn
        self.is_async = resource.is_async
        self.kwargs = kwargs
        self.context_param = resource.args.context_param
        self.limit_s = limit_s
        self.version = version
        self.tool = None
        self._resource = resource
        self._uri = uri
        self._meta = meta

    @property
    def subject(self) -> str:
        return f"Resource {self._uri!r}"

    def render(self, value: object) -> bytes:
        return render_read(
            value,
            uri=self._uri,
            mime_type=self._resource.mime_type,
            version=self.version,
            meta=self._meta,
            ttl_ms=_READ_TTL_MS,
        )

    def refused(self, message: str) -> Outcome:
        return ErrorObject(ErrorCode.INVALID_PARAMS, message, {"uri": self._uri})


class _PromptJob(HandlerJob):
    __slots__ = ("_meta", "_prompt")

    def __init__(
        self,
        prompt: PromptDefinition,
        meta: ResultMeta,
        kwargs: dict[str, object],
        limit_s: float,
        version: str,
    ) -> None:
        self.fn = prompt.fn
        self.is_async = prompt.is_async
        self.kwargs = kwargs
        self.context_param = prompt.args.context_param
        self.limit_s = limit_s
        self.version = version
        self.tool = None
        self._prompt = prompt
        self._meta = meta

    @property
    def subject(self) -> str:
        return f"Prompt {self._prompt.name!r}"

    def render(self, value: object) -> bytes:
        return render_prompt(
            value, description=self._prompt.description, version=self.version, meta=self._meta
        )


class _CompletionJob(HandlerJob):
    __slots__ = ("_meta", "_provider")

    def __init__(
        self,
        provider: CompletionDefinition,
        meta: ResultMeta,
        kwargs: dict[str, object],
        limit_s: float,
        version: str,
    ) -> None:
        self.fn = provider.fn
        self.is_async = provider.is_async
        self.kwargs = kwargs
        self.context_param = provider.context_param
        self.limit_s = limit_s
        self.version = version
        self.tool = None
        self._provider = provider
        self._meta = meta

    @property
    def subject(self) -> str:
        provider = self._provider
        return f"Completion of {provider.kind} {provider.target!r} argument {provider.argument!r}"

    def render(self, value: object) -> bytes:
        return render_completion(value, version=self.version, meta=self._meta)


class HandlerJobs:
    """Turns calls into jobs for one worker.

    Args:
        toolset: what the worker serves.
        renderer: renders tool results (and stamps the server's identity).
        meta: the ``_meta`` stamped on 2026-07-28 results of the other kinds.
        default_timeout_s: the limit of a handler that sets none.
    """

    def __init__(
        self,
        toolset: Toolset,
        renderer: ResultRenderer,
        *,
        meta: ResultMeta,
        default_timeout_s: float,
    ) -> None:
        # Registration is over once a worker runs: look handlers up without a proxy per call.
        self._tools = dict(toolset.tools)
        self._resources = dict(toolset.resources)
        self._prompts = dict(toolset.prompts)
        self._completions = dict(toolset.completions)
        self._renderer = renderer
        self._meta = meta
        self._default_s = default_timeout_s

    def prepare(self, call: CallMessage) -> HandlerJob | Outcome:
        """The job ``call`` asks for, or the answer it gets without running anything: the
        ``-32602`` error it is refused with, or a tool's error result (module docstring)."""
        if call.kind == CallKind.TOOL:  # first: the hot path pays one comparison
            return self._tool(call)
        if call.kind == CallKind.RESOURCE:
            return self._resource(call)
        if call.kind == CallKind.PROMPT:
            return self._prompt(call)
        if call.kind == CallKind.COMPLETE:
            return self._completion(call)
        return _skew(f"Unknown kind of call: {call.kind!r}")

    def _tool(self, call: CallMessage) -> HandlerJob | Outcome:
        tool = self._tools.get(call.tool)
        if tool is None:
            return _skew(f"Unknown tool: {call.tool}")
        version = call.protocol_version
        try:
            args = msgspec.json.decode(call.arguments or b"{}", type=tool.args.struct, strict=False)
        except msgspec.MsgspecError as exc:
            # A tool's bad arguments are a tool error (the front refused them already).
            return self._renderer.tool_error(
                f"Invalid arguments for tool {tool.name!r}: {exc}", version
            )
        limit_s = tool.effective_timeout_s(self._default_s)
        return _ToolJob(tool, self._renderer, _fields(args), limit_s, version)

    def _resource(self, call: CallMessage) -> HandlerJob | ErrorObject:
        resource = self._resources.get(call.tool)
        if resource is None:
            return _skew(f"Unknown resource: {call.tool}")
        try:
            read = decode_resource_arguments(call.arguments)
            # Decoded as the front checked them (server/resource_catalog.py), so what passed
            # there decodes here.
            args = msgspec.json.decode(
                _encoder.encode(read.variables), type=resource.args.struct, strict=False
            )
        except msgspec.MsgspecError as exc:
            return _skew(f"Invalid URI for resource {resource.uri!r}: {exc}")
        limit_s = self._limit_s(resource)
        return _ResourceJob(
            resource, read.uri, self._meta, _fields(args), limit_s, version=call.protocol_version
        )

    def _prompt(self, call: CallMessage) -> HandlerJob | ErrorObject:
        prompt = self._prompts.get(call.tool)
        if prompt is None:
            return _skew(f"Unknown prompt: {call.tool}")
        try:
            args = msgspec.json.decode(
                call.arguments or b"{}", type=prompt.args.struct, strict=False
            )
        except msgspec.MsgspecError as exc:
            return _skew(f"Invalid arguments for prompt {prompt.name!r}: {exc}")
        limit_s = self._limit_s(prompt)
        return _PromptJob(prompt, self._meta, _fields(args), limit_s, call.protocol_version)

    def _completion(self, call: CallMessage) -> HandlerJob | ErrorObject:
        provider = self._completions.get(call.tool)
        if provider is None:
            return _skew(f"Unknown completion: {call.tool}")
        try:
            complete = decode_completion_arguments(call.arguments)
        except msgspec.MsgspecError as exc:
            return _skew(f"Invalid completion arguments: {exc}")
        value_param, context_param = provider.parameters
        kwargs: dict[str, object] = {value_param: complete.value, context_param: complete.context}
        limit_s = self._completion_limit_s(provider)
        return _CompletionJob(provider, self._meta, kwargs, limit_s, call.protocol_version)

    def _limit_s(self, definition: ResourceDefinition | PromptDefinition) -> float:
        return definition.timeout_s if definition.timeout_s is not None else self._default_s

    def _completion_limit_s(self, provider: CompletionDefinition) -> float:
        """A completion has the time limit of what it completes."""
        target: ResourceDefinition | PromptDefinition | None = (
            self._prompts.get(provider.target)
            if provider.kind == "prompt"
            else self._resources.get(provider.target)
        )
        return self._default_s if target is None else self._limit_s(target)


def _fields(args: msgspec.Struct) -> dict[str, object]:
    return {name: getattr(args, name) for name in args.__struct_fields__}


def _skew(message: str) -> ErrorObject:
    return ErrorObject(ErrorCode.INVALID_PARAMS, message)
