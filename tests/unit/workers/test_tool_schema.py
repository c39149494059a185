"""Input schemas from type hints (through ``Toolset`` registration) and docstring parsing."""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

import msgspec
import pytest

from workers import Header, ToolContext, ToolDefinitionError, Toolset
from workers.tool_schema import parse_docstring

# --- parse_docstring --------------------------------------------------------------------


@pytest.mark.parametrize("doc", [None, "", "   ", "\n\n"])
def test_no_docstring(doc: str | None) -> None:
    assert parse_docstring(doc) == (None, {})


def test_summary_only() -> None:
    assert parse_docstring("Add two numbers.") == ("Add two numbers.", {})


def test_summary_args_and_ignored_sections() -> None:
    doc = """Search the index.

    Results come back ranked.

    Args:
        query (str): what to look for,
            possibly over two lines.
        limit: how many results.
        **extra: passed through.

    Returns:
        hits: not a parameter.

    Raises:
        ValueError: not a parameter either.
    """
    summary, params = parse_docstring(doc)
    assert summary == "Search the index.\n\nResults come back ranked."
    assert params == {
        "query": "what to look for, possibly over two lines.",
        "limit": "how many results.",
        "extra": "passed through.",
    }


@pytest.mark.parametrize("header", ["Args:", "Arguments:", "Parameters:"])
def test_args_section_synonyms(header: str) -> None:
    doc = f"""Do it.

    {header}
        x: the x.
    """
    assert parse_docstring(doc) == ("Do it.", {"x": "the x."})


def test_continuation_line_that_looks_like_an_entry() -> None:
    doc = """Do it.

    Args:
        a: first line
            note: still about a.
        b: second.
    """
    assert parse_docstring(doc)[1] == {"a": "first line note: still about a.", "b": "second."}


def test_args_after_another_section_are_read_only_inside_args() -> None:
    doc = """Do it.

    Example:
        x: not a parameter
    Args:
        y: a parameter
    """
    assert parse_docstring(doc) == ("Do it.", {"y": "a parameter"})


def test_docstring_without_summary() -> None:
    assert parse_docstring("Args:\n    a: x\n") == (None, {"a": "x"})


# --- build_args_spec via Toolset ----------------------------------------------------------


class Point(msgspec.Struct):
    x: int
    y: int = 0


def rich(
    ctx: ToolContext,
    count: int,
    where: Point,
    *,
    mode: Literal["fast", "slow"] = "fast",
    tags: list[str] | None = None,
    ratio: float = 0.5,
) -> str:
    """Do a rich thing.

    Args:
        ctx: the context, not published.
        count: how many times,
            at least one.
        where: a point.
        mode: how fast.
    """
    return ""


def _register(fn: Any, **options: Any) -> Any:
    app = Toolset("t")
    app.tool(**options)(fn)
    return next(iter(app.tools.values()))


@pytest.fixture(scope="module")
def rich_tool() -> Any:
    return _register(rich)


def test_root_schema_is_an_inlined_object(rich_tool: Any) -> None:
    schema = rich_tool.args.schema
    assert schema["type"] == "object"
    assert "$ref" not in schema
    assert "title" not in schema
    assert schema["additionalProperties"] is False


def test_required_lists_parameters_without_defaults(rich_tool: Any) -> None:
    assert rich_tool.args.schema["required"] == ["count", "where"]


def test_properties_in_signature_order_without_context(rich_tool: Any) -> None:
    """Keyword-only parameters are named parameters too."""
    assert list(rich_tool.args.schema["properties"]) == ["count", "where", "mode", "tags", "ratio"]
    assert rich_tool.args.context_param == "ctx"


def test_parameter_descriptions_and_types(rich_tool: Any) -> None:
    props = rich_tool.args.schema["properties"]
    assert props["count"] == {"type": "integer", "description": "how many times, at least one."}
    assert props["mode"]["description"] == "how fast."
    assert "description" not in props["ratio"]


def test_defaults_and_literal_enum(rich_tool: Any) -> None:
    props = rich_tool.args.schema["properties"]
    assert props["mode"]["enum"] == ["fast", "slow"]
    assert props["mode"]["default"] == "fast"
    assert props["ratio"] == {"type": "number", "default": 0.5}
    assert props["tags"]["default"] is None


def test_nested_struct_is_kept_in_defs(rich_tool: Any) -> None:
    schema = rich_tool.args.schema
    ref = schema["properties"]["where"]["$ref"]
    assert ref == "#/$defs/Point"
    point = schema["$defs"]["Point"]
    assert point["type"] == "object"
    assert point["required"] == ["x"]
    assert set(point["properties"]) == {"x", "y"}
    assert set(schema["$defs"]) == {"Point"}


def test_description_comes_from_the_docstring_summary(rich_tool: Any) -> None:
    assert rich_tool.description == "Do a rich thing."


def test_arguments_struct_validates_like_the_schema(rich_tool: Any) -> None:
    struct = rich_tool.args.struct
    args = msgspec.json.decode(b'{"count": 2, "where": {"x": 1}}', type=struct)
    assert args.count == 2
    assert args.where == Point(x=1)
    assert args.mode == "fast"
    assert "ctx" not in struct.__struct_fields__
    for bad in (
        b'{"where": {"x": 1}}',
        b'{"count": 2, "where": {"x": 1}, "zzz": 1}',
        b'{"count": 2, "where": {"x": 1}, "mode": "medium"}',
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(bad, type=struct)


def no_params() -> str:
    return "x"


def only_context(context: ToolContext) -> str:
    return "x"


@pytest.mark.parametrize("fn", [no_params, only_context])
def test_tool_without_arguments_has_an_empty_object_schema(fn: Any) -> None:
    schema = _register(fn).args.schema
    assert schema["type"] == "object"
    assert schema["properties"] == {}
    assert schema.get("required", []) == []
    assert schema["additionalProperties"] is False
    assert "$defs" not in schema


def test_tool_without_docstring_has_no_description() -> None:
    assert _register(no_params).description is None


def test_context_parameter_may_have_any_name() -> None:
    tool = _register(only_context)
    assert tool.args.context_param == "context"


def var_positional(*values: int) -> int:
    return 0


def var_keyword(**options: int) -> int:
    return 0


def positional_only(a: int, /, b: int) -> int:
    return 0


def untyped(a, b: int) -> int:  # type: ignore[no-untyped-def]
    return 0


def unresolvable(a: NoSuchType) -> int:  # type: ignore[name-defined]  # noqa: F821
    return 0


def unsupported_type(flag: threading.Event) -> int:
    return 0


def optional_context(ctx: ToolContext | None) -> int:
    return 0


@pytest.mark.parametrize(
    ("fn", "param"),
    [
        (var_positional, "values"),
        (var_keyword, "options"),
        (positional_only, "a"),
        (untyped, "a"),
        (unresolvable, None),
        (unsupported_type, None),
        (optional_context, None),
    ],
)
def test_unsupported_signatures_raise_naming_the_tool(fn: Any, param: str | None) -> None:
    app = Toolset("t")
    with pytest.raises(ToolDefinitionError) as info:
        app.tool(name="renamed-tool")(fn)
    message = str(info.value)
    assert "'renamed-tool'" in message
    if param is not None:
        assert repr(param) in message
    assert "renamed-tool" not in app.tools


# --- Header: arguments mirrored into Mcp-Param-* headers ------------------------------------


def test_header_marks_the_property_and_keeps_its_description() -> None:
    app = Toolset("t")

    @app.tool
    def routed(region: Annotated[str, Header("Region")], days: int = 1) -> str:
        """Route.

        Args:
            region: where to go.
        """
        return region

    schema = app.tools["routed"].args.schema
    assert schema["properties"]["region"] == {
        "x-mcp-header": "Region",
        "description": "where to go.",
        "type": "string",
    }
    assert "x-mcp-header" not in schema["properties"]["days"]


class _Nested(msgspec.Struct):
    region: Annotated[str, Header("Region")]


def _optional(region: Annotated[str | None, Header("Region")] = None) -> str:
    return ""


def _number(ratio: Annotated[float, Header("Ratio")]) -> str:
    return ""


def _twice(a: Annotated[str, Header("Zone")], b: Annotated[int, Header("zone")]) -> str:
    return ""


def _bad_token(a: Annotated[str, Header("Two Words")]) -> str:
    return ""


def _nested(where: _Nested) -> str:
    return ""


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (_optional, "not Optional"),
        (_number, "not Optional"),
        (_twice, "already used"),
        (_bad_token, "not an HTTP token"),
        (_nested, "reachable through 'properties'"),
    ],
)
def test_invalid_header_marks_are_refused_naming_the_tool(fn: Any, reason: str) -> None:
    with pytest.raises(ToolDefinitionError, match=reason) as info:
        Toolset("t").tool(name="bad_tool")(fn)
    assert "'bad_tool'" in str(info.value)
