"""``x-mcp-header`` annotations and the ``Mcp-Param-*`` headers that mirror them
(mcp-protocol.md 5.3, checklist 35). Pure: schemas and header values in, verdicts out.

A property of a tool's ``inputSchema`` may carry ``"x-mcp-header": "<Token>"``; a 2026-07-28
client on HTTP then mirrors that argument into ``Mcp-Param-<Token>`` so intermediaries can
route on it without reading the body. Two sides:

- registration: :func:`param_header_problem` says why a schema's annotations are invalid
  (conforming clients drop such a tool, so we refuse to publish it);
- serving: :func:`param_headers_of` lists a valid schema's annotations once, and
  :func:`param_header_mismatch` compares the headers of one request with its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import msgspec

from proto.headers import decode_header_value

__all__ = [
    "HEADER_ANNOTATION",
    "ParamHeader",
    "param_header_mismatch",
    "param_header_problem",
    "param_headers_of",
]

HEADER_ANNOTATION: Final = "x-mcp-header"

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110 ``token``: what may follow ``Mcp-Param-`` in a field name."""
_JSON_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_JSON_INTEGER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)")
_HEADER_TYPES: Final = frozenset({"string", "integer", "boolean"})
_MAX_SAFE_INTEGER: Final = 2**53 - 1

# Schema keywords whose values are subschemas. Only a chain of ``properties`` keeps a
# position statically reachable; crossing any other applicator leaves it unreachable.
# Data keywords (default, enum, const, examples) are never entered, and $ref never followed.
_ONE_SUBSCHEMA: Final = frozenset(
    {
        "items",
        "contains",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
        "contentSchema",
    }
)
_SUBSCHEMA_LISTS: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAPS: Final = frozenset(
    {"$defs", "definitions", "patternProperties", "dependentSchemas"}
)


class ParamHeader(msgspec.Struct, frozen=True):
    """One annotated property: where it sits in the arguments and its header's token."""

    path: tuple[str, ...]
    token: str

    @property
    def header_name(self) -> str:
        return f"Mcp-Param-{self.token}"


def _positions(schema: Any) -> Iterator[tuple[tuple[str, ...] | None, dict[str, Any]]]:
    """Every subschema with its ``properties`` path from the root (None: unreachable)."""
    pending: list[tuple[tuple[str, ...] | None, Any]] = [((), schema)]
    while pending:  # a stack, not recursion: schemas come from code, depth is not ours
        path, node = pending.pop()
        if not isinstance(node, dict):
            continue
        yield path, node
        for keyword, value in node.items():
            if keyword == "properties" and isinstance(value, dict):
                pending.extend(
                    (None if path is None else (*path, name), sub) for name, sub in value.items()
                )
            elif keyword in _ONE_SUBSCHEMA:
                pending.append((None, value))
            elif keyword in _SUBSCHEMA_LISTS and isinstance(value, list):
                pending.extend((None, sub) for sub in value)
            elif keyword in _SUBSCHEMA_MAPS and isinstance(value, dict):
                pending.extend((None, sub) for sub in value.values())


def param_header_problem(schema: Any) -> str | None:
    """Why the ``x-mcp-header`` annotations of ``schema`` are invalid, or None.

    Valid: a non-empty RFC 9110 token, case-insensitively unique in the schema, on a
    property of type string, integer or boolean that is reachable from the root through
    ``properties`` alone (not through items, combinators, conditionals or ``$defs``), with
    integer bounds inside ±(2^53-1) when the property declares any.
    """
    seen: dict[str, str] = {}
    for path, node in _positions(schema):
        if HEADER_ANNOTATION not in node:
            continue
        token = node[HEADER_ANNOTATION]
        if not path:
            return (
                f"{HEADER_ANNOTATION} is only allowed on properties reachable through 'properties'"
            )
        where = ".".join(path)
        if not isinstance(token, str):
            return f"property {where!r}: {HEADER_ANNOTATION} must be a string"
        if not _TOKEN.fullmatch(token):
            return f"property {where!r}: {HEADER_ANNOTATION} {token!r} is not an HTTP token"
        kind = node.get("type")
        if not isinstance(kind, str) or kind not in _HEADER_TYPES:
            return (
                f"property {where!r}: {HEADER_ANNOTATION} needs a property of type string, "
                "integer or boolean (a str, int or bool parameter, not Optional)"
            )
        if kind == "integer" and _exceeds_safe_range(node):
            return f"property {where!r}: integer bounds must stay within ±(2^53-1)"
        previous = seen.setdefault(token.lower(), where)
        if previous != where:
            return (
                f"property {where!r}: {HEADER_ANNOTATION} {token!r} is already used by "
                f"property {previous!r} (tokens are case-insensitive)"
            )
    return None


def _exceeds_safe_range(node: Mapping[str, Any]) -> bool:
    bounds = (
        node.get(key) for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    )
    return any(isinstance(b, int | float) and abs(b) > _MAX_SAFE_INTEGER for b in bounds)


def param_headers_of(schema: Any) -> tuple[ParamHeader, ...]:
    """The annotations of a schema :func:`param_header_problem` accepted."""
    return tuple(
        ParamHeader(path, node[HEADER_ANNOTATION])
        for path, node in _positions(schema)
        if path and isinstance(node.get(HEADER_ANNOTATION), str)
    )


def param_header_mismatch(
    declared: Sequence[ParamHeader], sent: Mapping[str, list[str]], arguments: Any
) -> str | None:
    """Why a request's ``Mcp-Param-*`` headers disagree with its arguments, or None.

    Args:
        declared: the called tool's annotations.
        sent: the request's ``Mcp-Param-*`` values by lower-cased token (undeclared ones
            are ignored, as the spec says).
        arguments: the decoded ``arguments`` object.

    A header must be present exactly when its argument is (``null`` counts as absent), once,
    and equal to it after decoding: strings exactly, numbers numerically (``42`` equals
    ``42.0``), booleans as ``true``/``false``.
    """
    for header in declared:
        problem = _mismatch(header, sent.get(header.token.lower(), []), arguments)
        if problem is not None:
            return problem
    return None


def _mismatch(header: ParamHeader, values: list[str], arguments: Any) -> str | None:
    name, argument = header.header_name, ".".join(header.path)
    value = _value_at(arguments, header.path)
    if value is None:
        return f"{name} was sent but argument {argument!r} is absent" if values else None
    if not values:
        return f"{name} is missing; argument {argument!r} is present"
    if len(values) > 1:
        return f"{name} must be sent once"
    decoded = decode_header_value(values[0])
    if decoded is None:
        return f"{name} has a malformed =?base64?...?= value"
    if not _same_value(decoded, value):
        return f"{name} does not equal argument {argument!r}"
    return None


def _value_at(arguments: Any, path: tuple[str, ...]) -> Any:
    node = arguments
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _same_value(header: str, value: Any) -> bool:
    if isinstance(value, bool):
        return header == ("true" if value else "false")
    if isinstance(value, int | float):
        return _number(header) == value
    if isinstance(value, str):
        return header == value
    return False  # an object or array cannot be mirrored into a header


def _number(text: str) -> int | float | None:
    """A JSON number's value (ASCII digits only: no ``1_000``, no ``+1``, no NaN)."""
    if not _JSON_NUMBER.fullmatch(text):
        return None
    try:
        return int(text) if _JSON_INTEGER.fullmatch(text) else float(text)
    except ValueError:  # more digits than int() converts
        return None
