"""Input schemas from type hints (through ``Toolset`` registration) and docstring parsing."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import threading
import uuid
from typing import Annotated, Any, Literal, TypedDict

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


# --- rich parameter types: the published schema and what the argument decoders accept ----


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Place:
    city: str
    country: str = "FR"


class Address(TypedDict, total=False):
    street: str
    city: str


def rich_types(
    *,
    when: datetime.datetime,
    day: datetime.date,
    at: datetime.time,
    ident: uuid.UUID,
    amount: decimal.Decimal,
    color: Color,
    priority: Priority,
    place: Place,
    address: Address,
    sizes: list[int],
    pair: tuple[int, str],
    labels: set[str],
    blob: bytes,
    lasting: datetime.timedelta,
    until: datetime.datetime | None = None,
) -> str:
    return ""


@pytest.fixture(scope="module")
def rich_types_tool() -> Any:
    return _register(rich_types)


def test_rich_types_publish_json_schema_types_and_formats(rich_types_tool: Any) -> None:
    schema = rich_types_tool.args.schema
    props = schema["properties"]
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["day"] == {"type": "string", "format": "date"}
    assert props["at"] == {"type": "string", "format": "time"}
    assert props["ident"] == {"type": "string", "format": "uuid"}
    assert props["amount"] == {"type": "string", "format": "decimal"}
    assert props["lasting"] == {"type": "string", "format": "duration"}
    assert props["blob"] == {"type": "string", "contentEncoding": "base64"}
    assert props["sizes"] == {"type": "array", "items": {"type": "integer"}}
    assert props["labels"] == {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    assert props["pair"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert props["until"] == {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
        "default": None,
    }
    assert props["color"] == {"$ref": "#/$defs/Color"}
    assert schema["$defs"]["Color"]["enum"] == ["green", "red"]
    assert schema["$defs"]["Priority"]["enum"] == [1, 2]
    assert schema["$defs"]["Place"]["required"] == ["city"]
    assert schema["$defs"]["Address"]["required"] == []
    assert "until" not in schema["required"]


RICH_ARGUMENTS = {
    "when": "2026-03-01T09:30:00+01:00",
    "day": "2026-03-01",
    "at": "09:30:00Z",
    "ident": "c3f1a7e4-2f0e-4e0f-9a55-4b8d1c2e3f40",
    "amount": "12.50",
    "color": "red",
    "priority": 2,
    "place": {"city": "Lyon"},
    "address": {"city": "Lyon"},
    "sizes": [1, 2],
    "pair": [1, "a"],
    "labels": ["x", "y"],
    "blob": "aGk=",
    "lasting": "PT1H",
}


def test_rich_arguments_decode_to_python_types(rich_types_tool: Any) -> None:
    """The front (``strict=False``) and the worker decode with the same Struct."""
    args = msgspec.json.decode(
        msgspec.json.encode(RICH_ARGUMENTS), type=rich_types_tool.args.struct, strict=False
    )
    assert args.when == datetime.datetime(
        2026, 3, 1, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert args.day == datetime.date(2026, 3, 1)
    assert args.at == datetime.time(9, 30, tzinfo=datetime.UTC)
    assert args.ident == uuid.UUID("c3f1a7e4-2f0e-4e0f-9a55-4b8d1c2e3f40")
    assert args.amount == decimal.Decimal("12.50")
    assert args.color is Color.RED
    assert args.priority is Priority.HIGH
    assert args.place == Place(city="Lyon")
    assert args.address == {"city": "Lyon"}
    assert args.pair == (1, "a")
    assert args.labels == {"x", "y"}
    assert args.blob == b"hi"
    assert args.lasting == datetime.timedelta(hours=1)
    assert args.until is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("when", "yesterday"),
        ("day", "2026-02-30"),
        ("ident", "not-a-uuid"),
        ("amount", "twelve"),
        ("color", "blue"),
        ("priority", 3),
        ("place", {"country": "FR"}),
        ("pair", [1]),
        ("blob", "***"),
    ],
)
def test_rich_arguments_that_do_not_fit(rich_types_tool: Any, field: str, value: object) -> None:
    with pytest.raises(msgspec.ValidationError, match=field):
        msgspec.json.decode(
            msgspec.json.encode({**RICH_ARGUMENTS, field: value}),
            type=rich_types_tool.args.struct,
            strict=False,
        )


# --- hand-written input schemas ------------------------------------------------------------

HAND_WRITTEN = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"phone": {"type": "string"}, "email": {"type": "string"}},
    "anyOf": [{"required": ["phone"]}, {"required": ["email"]}],
    "additionalProperties": False,
}


def contact(phone: str | None = None, email: str | None = None) -> str:
    return phone or email or ""


def test_a_hand_written_schema_is_published_verbatim() -> None:
    tool = _register(contact, input_schema=HAND_WRITTEN)
    assert tool.args.schema == HAND_WRITTEN
    assert tool.args.schema is not HAND_WRITTEN  # a copy: later edits do not leak in
    # Arguments are still checked against the parameters' types.
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"phone": 5}', type=tool.args.struct)


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "array"}, '"type": "object"'),
        ({"properties": {"phone": {}, "email": {}}}, '"type": "object"'),
        ({"type": "object", "properties": {"phone": {}}}, "exactly"),
        ({"type": "object", "properties": {"phone": {}, "email": {}, "fax": {}}}, "exactly"),
        ({"type": "object", "properties": {"phone": {}, "email": object()}}, "not JSON"),
        (
            {"type": "object", "properties": {"phone": {"x-mcp-header": "A B"}, "email": {}}},
            "HTTP token",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "phone": {"$ref": "#/$defs/phone"},
                    "email": {"allOf": [{"$ref": "https://example.com/email.json"}]},
                },
                "$defs": {"phone": {"type": "string"}},
            },
            "refers outside itself",
        ),
    ],
)
def test_hand_written_schemas_that_do_not_fit_are_refused(
    schema: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=reason) as info:
        Toolset("t").tool(name="contact_tool", input_schema=schema)(contact)
    assert "'contact_tool'" in str(info.value)
