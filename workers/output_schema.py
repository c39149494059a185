"""Output schemas from return annotations: which tools have structured results, the
``outputSchema`` each revision gets, and the check that a returned value conforms.

A tool is *structured* when its return annotation is a type msgspec describes and that is
neither text (``str``), nothing (``None``), "anything" (``Any``, ``object``) nor content
(``Image``, ``TextContent``, lists or unions of them). Its value then travels as
``structuredContent`` (plus its JSON as text) and the schema as ``outputSchema``:

- 2026-07-28 takes any JSON value: the schema is the type's own (``{"type": "integer"}``
  for ``-> int``, an array schema for ``-> list[str]``);
- 2025-06-18 and 2025-11-25 require an object: a type whose schema is not an object is
  published wrapped, ``{"type": "object", "properties": {"result": <schema>}, "required":
  ["result"]}``, and its value sent as ``{"result": value}`` (``proto.STRUCTURED_RESULT_KEY``);
- 2025-03-26 has neither: the JSON text only.

Return annotations msgspec cannot describe (a plain class, ``object`` inside a container)
publish no schema: the value is still sent as JSON text, and as ``structuredContent`` when it
is an object, as for a tool without a return annotation.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Final, Union

import msgspec

from proto import (
    STRUCTURED_RESULT_KEY,
    AudioContent,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
)
from workers.content import Audio, BlobResource, Image, Text, TextResource
from workers.tool_schema import inline_root

__all__ = ["CONTENT_TYPES", "OutputSpec", "build_output_spec"]

CONTENT_TYPES: Final = (
    TextContent,
    ImageContent,
    AudioContent,
    EmbeddedResource,
    ResourceLink,
    Text,
    Image,
    Audio,
    TextResource,
    BlobResource,
)
"""What a handler may return as content blocks (alone, or in a list with strings)."""

_UNSTRUCTURED: Final = frozenset({str, None, type(None), Any, object})


class OutputSpec:
    """A structured tool's output: its schemas and the check of returned values.

    Attributes:
        schema: the value's own JSON Schema (2026-07-28's ``outputSchema``).
        legacy_schema: the object-rooted schema of 2025-06-18 and 2025-11-25: ``schema``
            itself when ``is_object``, else the ``{"result": ...}`` wrapper.
        is_object: the value is a JSON object, so no revision needs it wrapped.
    """

    __slots__ = ("_decoder", "is_object", "legacy_schema", "schema")

    def __init__(self, schema: dict[str, Any], return_type: Any) -> None:
        self.schema = schema
        self.is_object = schema.get("type") == "object"
        self.legacy_schema = schema if self.is_object else _wrapped(schema)
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(return_type)

    def conformance_problem(self, encoded: bytes) -> str | None:
        """Why the encoded value does not fit the return type (so not the schema), or None."""
        try:
            self._decoder.decode(encoded)
        except msgspec.ValidationError as exc:
            return str(exc)
        return None


def build_output_spec(return_hint: Any) -> OutputSpec | None:
    """The output of a handler annotated ``-> return_hint``, or None when unstructured
    (see the module docstring); ``return_hint`` as ``get_type_hints`` reports it."""
    if _is_unstructured(return_hint):
        return None
    try:
        schema = inline_root(msgspec.json.schema(return_hint))
        return OutputSpec(schema, return_hint)
    except (TypeError, ValueError):
        return None  # msgspec cannot describe it: published without a schema


def _wrapped(schema: dict[str, Any]) -> dict[str, Any]:
    body = {key: value for key, value in schema.items() if key != "$defs"}
    wrapper: dict[str, Any] = {
        "type": "object",
        "properties": {STRUCTURED_RESULT_KEY: body},
        "required": [STRUCTURED_RESULT_KEY],
    }
    if "$defs" in schema:  # references resolve against the document root
        wrapper["$defs"] = schema["$defs"]
    return wrapper


def _is_unstructured(hint: Any) -> bool:
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if hint in _UNSTRUCTURED:
        return True
    return _mentions_content(hint)


def _mentions_content(hint: Any) -> bool:
    """Content types anywhere in the annotation (``list[Image]``, ``str | TextContent``)."""
    if isinstance(hint, type) and issubclass(hint, CONTENT_TYPES):
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _mentions_content(typing.get_args(hint)[0])
    if origin in (Union, types.UnionType, list, tuple, collections.abc.Sequence):
        return any(_mentions_content(arg) for arg in typing.get_args(hint))
    return False
