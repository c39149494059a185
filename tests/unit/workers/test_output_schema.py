"""Output schemas from return annotations: which tools are structured, and what each
revision is published."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Annotated, Any, Literal, TypedDict

import jsonschema
import msgspec
import pytest

from proto import ImageContent, ResourceLink, TextContent
from workers import Image, TextResource, Toolset
from workers.output_schema import OutputSpec, build_output_spec


class Weather(msgspec.Struct):
    city: str
    temp_c: float


@dataclasses.dataclass
class Pair:
    left: int
    right: int = 0


class Totals(TypedDict):
    count: int


class Node(msgspec.Struct):
    name: str
    children: list[Node] = []


class Opaque:
    pass


def _spec(hint: Any) -> OutputSpec:
    spec = build_output_spec(hint)
    assert spec is not None
    return spec


@pytest.mark.parametrize(
    "hint",
    [
        str,
        None,
        type(None),
        Any,
        object,
        Annotated[str, msgspec.Meta(description="x")],
        Image,
        TextContent,
        list[ImageContent],
        list[str | TextResource],
        ResourceLink | None,
        tuple[TextContent, ...],
        dict[str, object],  # msgspec cannot describe ``object`` inside a container
        Opaque,  # a plain class: nothing msgspec can describe
    ],
)
def test_unstructured_return_types(hint: Any) -> None:
    assert build_output_spec(hint) is None


@pytest.mark.parametrize(
    ("hint", "required"),
    [(Weather, ["city", "temp_c"]), (Pair, ["left"]), (Totals, ["count"])],
)
def test_object_types_are_published_as_they_are(hint: Any, required: list[str]) -> None:
    spec = _spec(hint)
    assert spec.is_object
    assert spec.schema["type"] == "object"
    assert spec.schema["required"] == required
    assert "title" not in spec.schema
    assert "$ref" not in spec.schema
    assert spec.legacy_schema is spec.schema


def test_a_dict_of_str_keys_is_an_object() -> None:
    spec = _spec(dict[str, int])
    assert spec.schema == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert spec.is_object


@pytest.mark.parametrize(
    ("hint", "schema"),
    [
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (list[str], {"type": "array", "items": {"type": "string"}}),
        (Literal["a", "b"], {"enum": ["a", "b"]}),
        (datetime.date, {"type": "string", "format": "date"}),
        (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    ],
)
def test_other_types_are_wrapped_for_revisions_that_need_an_object(
    hint: Any, schema: dict[str, Any]
) -> None:
    spec = _spec(hint)
    assert not spec.is_object
    assert spec.schema == schema
    assert spec.legacy_schema == {
        "type": "object",
        "properties": {"result": schema},
        "required": ["result"],
    }


def test_wrapping_keeps_definitions_at_the_root() -> None:
    spec = _spec(list[Weather])
    assert spec.schema["items"] == {"$ref": "#/$defs/Weather"}
    assert set(spec.legacy_schema) == {"type", "properties", "required", "$defs"}
    assert spec.legacy_schema["properties"]["result"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Weather"},
    }
    jsonschema.validate({"result": [{"city": "Oslo", "temp_c": 1.5}]}, spec.legacy_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"result": [{"city": "Oslo"}]}, spec.legacy_schema)


def test_a_recursive_type_keeps_its_definition() -> None:
    spec = _spec(Node)
    assert spec.schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert "Node" in spec.schema["$defs"]
    jsonschema.validate({"name": "r", "children": [{"name": "c"}]}, spec.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "r", "children": [{"label": "c"}]}, spec.schema)


@pytest.mark.parametrize(
    ("hint", "good", "bad"),
    [
        (int, b"3", b'"3"'),
        (Weather, b'{"city":"Oslo","temp_c":2}', b'{"city":"Oslo"}'),
        (list[str], b'["a"]', b"[1]"),
        (int | None, b"null", b"1.5"),
    ],
)
def test_conformance_of_encoded_values(hint: Any, good: bytes, bad: bytes) -> None:
    spec = _spec(hint)
    assert spec.conformance_problem(good) is None
    problem = spec.conformance_problem(bad)
    assert problem is not None


def test_registration_derives_the_output_from_the_return_annotation() -> None:
    app = Toolset("t")

    @app.tool
    def weather(city: str) -> Weather:
        return Weather(city, 1.0)

    @app.tool
    def unannotated(city: str):  # type: ignore[no-untyped-def]
        return city

    @app.tool(structured_output=False)
    def opted_out(city: str) -> Weather:
        return Weather(city, 1.0)

    output = app.tools["weather"].output
    assert output is not None and output.schema["required"] == ["city", "temp_c"]
    assert app.tools["unannotated"].output is None
    assert app.tools["opted_out"].output is None
