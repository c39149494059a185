"""Input schemas from type hints: a function's parameters become a msgspec Struct (used to
validate arguments) and an inlined JSON Schema object (published as ``inputSchema``).

The root of ``msgspec.json.schema`` is a ``$ref``; MCP wants ``"type": "object"`` at the top,
so the root definition is inlined and ``$defs`` kept only for nested types. msgspec writes
no ``format`` for a ``datetime`` or ``time`` that may be naive or aware; a parameter of
either type (or ``... | None``) gets ``date-time`` / ``time`` here, since the decoder accepts
every RFC 3339 value those formats describe.

A tool may publish a hand-written schema instead (``@app.tool(input_schema=...)``), for
keywords no type hint expresses (``if``/``then``/``else``, ``allOf``): its top-level
properties must name exactly the handler's parameters, and arguments are still checked
against the parameters' types, not against the hand-written keywords.
"""

from __future__ import annotations

import datetime
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Union, get_type_hints

import msgspec

from proto import HEADER_ANNOTATION, param_header_problem
from workers.errors import ToolDefinitionError

__all__ = ["ArgsSpec", "Header", "build_args_spec", "inline_root", "parse_docstring"]


def Header(token: str) -> msgspec.Meta:  # capitalised: reads as a marker, like msgspec.Meta
    """Mirror a parameter into the ``Mcp-Param-<token>`` HTTP header (2026-07-28).

        @app.tool
        def forecast(region: Annotated[str, Header("Region")], days: int) -> str: ...

    Clients then send the argument's value in that header too, so a load balancer or
    gateway can route on it without reading the body; the front checks the two agree
    (``-32020`` otherwise). Only for top-level ``str``, ``int`` or ``bool`` parameters (not
    Optional ones); ``token`` is an HTTP token, unique (ignoring case) within the tool.
    Headers are visible to every intermediary: never mark a secret.
    """
    return msgspec.Meta(extra_json_schema={HEADER_ANNOTATION: token})


class ArgsSpec:
    """What registration derives from a handler's signature.

    Attributes:
        struct: the arguments Struct (keyword-only, unknown fields forbidden).
        schema: the inlined JSON Schema object for ``inputSchema``.
        context_param: the name of the parameter that receives the ``ToolContext``, if any.
    """

    __slots__ = ("context_param", "schema", "struct")

    def __init__(
        self, struct: type[msgspec.Struct], schema: dict[str, Any], context_param: str | None
    ) -> None:
        self.struct = struct
        self.schema = schema
        self.context_param = context_param


_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Returns|Return|Yields|Raises|Examples?|Notes?|"
    r"Attributes|See Also|Warnings?|Todo|References|Cancellation|Resources):\s*$"
)
_ARGS_SECTIONS = frozenset({"Args", "Arguments", "Parameters"})
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str | None, dict[str, str]]:
    """Split a Google-style docstring into its description (the text before the first
    section such as ``Args:``) and the per-parameter descriptions of its ``Args:`` section."""
    if not doc:
        return None, {}
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in inspect.cleandoc(doc).splitlines():
        header = _SECTION.match(line)
        if header:
            section, current = header.group(1), None
            continue
        if section is None:
            summary.append(line)
            continue
        if section not in _ARGS_SECTIONS:
            continue
        entry = _ARG_LINE.match(line.strip())
        indent = len(line) - len(line.lstrip())
        if entry and (current is None or indent <= 4):
            current = entry.group(1).lstrip("*")
            params[current] = entry.group(2).strip()
        elif current and line.strip():
            params[current] = f"{params[current]} {line.strip()}".strip()
    text = "\n".join(summary).strip()
    return (text or None), params


def resolve_hints(label: str, fn: Callable[..., Any]) -> dict[str, Any]:
    """``fn``'s type hints, extras included.

    Raises:
        ToolDefinitionError: they cannot be resolved (a name that does not exist, say),
            naming ``label``.
    """
    try:
        return get_type_hints(fn, include_extras=True)
    except Exception as exc:  # any failure to resolve hints is a definition error
        raise ToolDefinitionError(f"{label}: cannot resolve type hints: {exc}") from exc


def build_args_spec(
    tool_name: str,
    fn: Callable[..., Any],
    context_type: type,
    param_docs: dict[str, str],
    *,
    hints: Mapping[str, Any] | None = None,
    input_schema: Mapping[str, Any] | None = None,
    kind: str = "tool",
) -> ArgsSpec:
    """Derive the arguments Struct and ``inputSchema`` of ``fn``; ``hints`` are its resolved
    type hints when the caller has them (resolved here otherwise), ``input_schema``
    replaces the published schema. Errors name it as ``<kind> '<tool_name>'`` (a tool, a
    prompt, a resource).

    Raises:
        ToolDefinitionError: positional-only or ``*args``/``**kwargs`` parameters, a
            parameter without a type hint, a type msgspec cannot handle, or a hand-written
            schema that is not an object schema naming exactly the parameters.
    """
    if hints is None:
        hints = resolve_hints(f"{kind} {tool_name!r}", fn)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    context_param: str | None = None
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ToolDefinitionError(
                f"{kind} {tool_name!r}: parameter {param.name!r} must be a named parameter "
                "(no *args, **kwargs or positional-only parameters)"
            )
        hint = hints.get(param.name)
        if hint is None:
            raise ToolDefinitionError(
                f"{kind} {tool_name!r}: parameter {param.name!r} needs a type hint"
            )
        if hint is context_type:
            context_param = param.name
            continue
        hint = _with_format(hint)
        if param.name in param_docs:
            hint = Annotated[hint, msgspec.Meta(description=param_docs[param.name])]
        if param.default is param.empty:
            fields.append((param.name, hint))
        else:
            fields.append((param.name, hint, param.default))
    struct_name = re.sub(r"\W", "_", tool_name) + "_arguments"
    try:
        struct = msgspec.defstruct(struct_name, fields, kw_only=True, forbid_unknown_fields=True)
        schema = inline_root(msgspec.json.schema(struct))
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(
            f"{kind} {tool_name!r}: unsupported parameter type: {exc}"
        ) from exc
    schema.setdefault("properties", {})
    if input_schema is not None:
        schema = _hand_written(tool_name, input_schema, set(struct.__struct_fields__))
    problem = param_header_problem(schema)
    if problem is not None:
        raise ToolDefinitionError(f"{kind} {tool_name!r}: {problem}")
    return ArgsSpec(struct, schema, context_param)


def inline_root(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace a root ``$ref`` by the definition it names (MCP wants ``"type": "object"``
    at the top of a tool's schemas), keeping ``$defs`` for nested types. The definition
    stays in ``$defs`` too when something still refers to it (a recursive type)."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith(_DEFS_PREFIX):
        return schema
    defs: dict[str, Any] = dict(schema.get("$defs", {}))
    root_name = ref.removeprefix(_DEFS_PREFIX)
    root: dict[str, Any] = dict(defs.pop(root_name))
    root.pop("title", None)
    if f'"{ref}"'.encode() in msgspec.json.encode([root, defs]):
        defs[root_name] = schema["$defs"][root_name]
    if defs:
        root["$defs"] = defs
    return root


_DEFS_PREFIX: Final = "#/$defs/"

_FORMATS: Final[Mapping[Any, str]] = {datetime.datetime: "date-time", datetime.time: "time"}


def _with_format(hint: Any) -> Any:
    """``datetime``/``time`` (or either ``| None``) with its JSON Schema ``format``."""
    name = _FORMATS.get(hint)
    if name is not None:
        return Annotated[hint, msgspec.Meta(extra_json_schema={"format": name})]
    if typing.get_origin(hint) in (Union, types.UnionType):
        members = typing.get_args(hint)
        if any(member in _FORMATS for member in members):
            return Union[tuple(_with_format(member) for member in members)]  # noqa: UP007
    return hint


def _hand_written(
    tool_name: str, input_schema: Mapping[str, Any], params: set[str]
) -> dict[str, Any]:
    """A copy of an author's ``input_schema``, checked against the handler's parameters."""
    try:
        decoded: object = msgspec.json.decode(msgspec.json.encode(input_schema))
    except (TypeError, msgspec.MsgspecError) as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: input_schema is not JSON: {exc}") from exc
    if not isinstance(decoded, dict) or decoded.get("type") != "object":
        raise ToolDefinitionError(f'tool {tool_name!r}: input_schema must have "type": "object"')
    schema: dict[str, Any] = decoded
    external = _external_ref(schema)
    if external is not None:
        # Clients must not fetch them (mcp-protocol.md 8.1), so they could never resolve it.
        raise ToolDefinitionError(
            f"tool {tool_name!r}: input_schema refers outside itself ($ref {external!r}); "
            "inline the definition under $defs"
        )
    properties = schema.get("properties", {})
    named = set(properties) if isinstance(properties, dict) else set()
    if named != params:
        raise ToolDefinitionError(
            f"tool {tool_name!r}: input_schema properties {sorted(named)} must name exactly "
            f"the handler's parameters {sorted(params)}"
        )
    return schema


def _external_ref(node: object) -> str | None:
    """The first ``$ref`` that does not point inside the document (``#...``), if any."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return ref
        children: list[object] = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _external_ref(child)
        if found is not None:
            return found
    return None
