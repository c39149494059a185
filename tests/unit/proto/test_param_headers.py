"""x-mcp-header annotations and Mcp-Param-* checks (mcp-protocol.md 5.3)."""

from __future__ import annotations

from typing import Any

import pytest

from proto import (
    ParamHeader,
    decode_header_value,
    param_header_mismatch,
    param_header_problem,
    param_headers_of,
)


def prop(kind: object = "string", token: object = "Region", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "x-mcp-header": token, **extra}


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


VALID = obj(
    region=prop(),
    limits=obj(shard=prop("integer", "Shard"), dry=prop("boolean", "Dry-Run")),
    plain={"type": "string"},
)


def test_a_valid_schema_has_no_problem_and_lists_its_annotations() -> None:
    assert param_header_problem(VALID) is None
    assert set(param_headers_of(VALID)) == {
        ParamHeader(("region",), "Region"),
        ParamHeader(("limits", "shard"), "Shard"),
        ParamHeader(("limits", "dry"), "Dry-Run"),
    }
    assert ParamHeader(("region",), "Region").header_name == "Mcp-Param-Region"


def test_a_schema_without_annotations_is_fine() -> None:
    assert param_header_problem(obj(a={"type": "number"})) is None
    assert param_headers_of(obj(a={"type": "number"})) == ()


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "object", "x-mcp-header": "Root"}, "reachable"),
        (obj(xs={"type": "array", "items": prop()}), "reachable"),
        (obj(x={"anyOf": [prop(), {"type": "null"}]}), "reachable"),
        ({**obj(x={"$ref": "#/$defs/X"}), "$defs": {"X": obj(y=prop())}}, "reachable"),
        (obj(x={"if": prop(), "then": {}}), "reachable"),
        (obj(x=prop(token="A B")), "not an HTTP token"),
        (obj(x=prop(token="")), "not an HTTP token"),
        (obj(x=prop(token="Région")), "not an HTTP token"),
        (obj(x=prop(token=7)), "must be a string"),
        (obj(x=prop("number")), "type string, integer or boolean"),
        (obj(x=prop(["string", "null"])), "type string, integer or boolean"),
        (obj(x={"x-mcp-header": "X"}), "type string, integer or boolean"),
        (obj(x=prop("integer", maximum=2**60)), "2^53"),
        (obj(a=prop(token="Id"), b=prop(token="ID")), "already used"),
    ],
)
def test_invalid_annotations_are_named(schema: dict[str, Any], reason: str) -> None:
    problem = param_header_problem(schema)
    assert problem is not None
    assert reason in problem


def test_data_keywords_are_not_mistaken_for_annotations() -> None:
    schema = obj(
        x={"type": "object", "default": {"x-mcp-header": 1}, "enum": [{"x-mcp-header": 2}]}
    )
    assert param_header_problem(schema) is None


DECLARED = param_headers_of(VALID)


def sent(**values: str) -> dict[str, list[str]]:
    return {key.replace("_", "-").lower(): [value] for key, value in values.items()}


@pytest.mark.parametrize(
    ("arguments", "headers"),
    [
        ({}, {}),
        ({"region": None, "limits": {"shard": None}}, {}),
        ({"region": "eu"}, sent(Region="eu")),
        ({"region": "Hello, 世界"}, sent(Region="=?base64?SGVsbG8sIOS4lueVjA==?=")),
        ({"region": "=?base64?x"}, sent(Region="=?base64?x")),  # no closing marker: literal
        ({"limits": {"shard": 42}}, sent(Shard="42")),
        ({"limits": {"shard": 42}}, sent(Shard="42.0")),
        ({"limits": {"shard": 42.0}}, sent(Shard="42")),
        ({"limits": {"shard": 100}}, sent(Shard="1e2")),
        ({"limits": {"shard": 0}}, sent(Shard="-0")),
        ({"limits": {"shard": 2**60}}, sent(Shard=str(2**60))),
        ({"limits": {"dry": False}}, sent(Dry_Run="false")),
        ({"region": "eu"}, {"region": ["eu"], "unknown": ["x"]}),
    ],
)
def test_headers_that_mirror_the_arguments_match(
    arguments: dict[str, Any], headers: dict[str, list[str]]
) -> None:
    assert param_header_mismatch(DECLARED, headers, arguments) is None


@pytest.mark.parametrize(
    ("arguments", "headers", "reason"),
    [
        ({"region": "eu"}, {}, "missing"),
        ({}, sent(Region="eu"), "absent"),
        ({"region": None}, sent(Region="eu"), "absent"),
        ({"region": "eu"}, {"region": ["eu", "eu"]}, "once"),
        ({"region": "eu"}, sent(Region="EU"), "does not equal"),
        ({"region": "Hello"}, sent(Region="=?base64?SGVsbG8?="), "malformed"),
        ({"region": "Hello"}, sent(Region="=?base64?SGVsbG9=?="), "malformed"),
        ({"region": "Hello"}, sent(Region="=?base64?SGVs!!bG8=?="), "malformed"),
        ({"limits": {"shard": 10}}, sent(Shard="1_0"), "does not equal"),
        ({"limits": {"shard": 1}}, sent(Shard="+1"), "does not equal"),
        ({"limits": {"shard": 42}}, sent(Shard="٤٢"), "does not equal"),
        ({"limits": {"shard": 42}}, sent(Shard="042"), "does not equal"),
        ({"limits": {"shard": 42}}, sent(Shard="NaN"), "does not equal"),
        ({"limits": {"dry": True}}, sent(Dry_Run="True"), "does not equal"),
        ({"limits": {"dry": True}}, sent(Dry_Run="1"), "does not equal"),
        ({"region": ["eu"]}, sent(Region="eu"), "does not equal"),
        ({"region": {"a": 1}}, sent(Region="eu"), "does not equal"),
    ],
)
def test_headers_that_disagree_are_a_mismatch(
    arguments: dict[str, Any], headers: dict[str, list[str]], reason: str
) -> None:
    problem = param_header_mismatch(DECLARED, headers, arguments)
    assert problem is not None
    assert reason in problem


def test_a_non_object_where_a_path_goes_through_counts_as_absent() -> None:
    assert param_header_mismatch(DECLARED, {}, {"limits": 5}) is None
    assert param_header_mismatch(DECLARED, {}, []) is None


def test_non_canonical_base64_is_malformed() -> None:
    assert decode_header_value("=?base64?SGVsbG8=?=") == "Hello"
    assert decode_header_value("=?base64?SGVsbG9=?=") is None
