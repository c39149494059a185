"""Resource URI templates (RFC 6570, the subset resources use): parse one at registration,
match concrete URIs against it when ``resources/read`` asks. Pure.

Supported expressions, the ones resource templates use in practice:

- ``{name}`` — simple expansion: one value without ``/ ? # [ ] @`` or whitespace (those
  would have been percent-encoded by an expander), percent-decoded when matched;
- ``{+name}`` — reserved expansion: any non-empty run of characters, ``/`` included (paths);
- ``{?a,b}`` — form-style query: an optional ``?a=..&b=..`` at the end, each key optional.

Several variables in one ``{...}`` (except the query form), other operators (``# . / ; &``),
modifiers (``:3``, ``*``) and nested braces are refused when the template is parsed, with a
message naming the problem, so a tool author learns at import rather than at the first read.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, unquote

__all__ = ["UriTemplate", "UriTemplateError"]

_EXPRESSION: Final = re.compile(r"\{([^{}]*)\}")
_VARNAME: Final = re.compile(r"[A-Za-z0-9_]+")
_SIMPLE_VALUE: Final = r"[^/?#\[\]@\s]+"
_RESERVED_VALUE: Final = r"[^?#\s]+"


class UriTemplateError(ValueError):
    """A template outside the supported subset (see the module docstring)."""


class UriTemplate:
    """A parsed template.

    Args:
        template: e.g. ``"file:///{+path}"`` or ``"weather://{city}/now{?units}"``.

    Raises:
        UriTemplateError: unsupported or malformed expression, or a variable named twice.
    """

    __slots__ = ("_pattern", "query_names", "template", "variables")

    def __init__(self, template: str) -> None:
        self.template = template
        self.variables: tuple[str, ...] = ()
        self.query_names: tuple[str, ...] = ()
        self._pattern = re.compile(self._compile(template))

    @property
    def is_template(self) -> bool:
        """False for a plain URI (no expression): a static resource, not a template."""
        return bool(self.variables or self.query_names)

    def match(self, uri: str) -> dict[str, str] | None:
        """The variables' values if ``uri`` is an instance of this template, else None.
        Query variables absent from the URI are absent from the result."""
        found = self._pattern.fullmatch(uri)
        if found is None:
            return None
        values = {name: unquote(found.group(name)) for name in self.variables}
        query = found.group("_query") if self.query_names else None
        if query:
            for key, value in parse_qsl(query, keep_blank_values=True):
                if key not in self.query_names or key in values:
                    return None  # an unknown or repeated key: not this template's URI
                values[key] = value
        return values

    def _compile(self, template: str) -> str:
        if template.count("{") != template.count("}"):
            raise UriTemplateError(f"unbalanced braces in URI template {template!r}")
        parts: list[str] = []
        seen: list[str] = []  # every variable so far, path and query alike
        variables: list[str] = []
        position = 0
        for expression in _EXPRESSION.finditer(template):
            if self.query_names:
                raise UriTemplateError(f"{template!r}: the {{?...}} query must come last")
            parts.append(re.escape(template[position : expression.start()]))
            operator, spec = _split_operator(expression.group(1))
            if operator == "?":
                self.query_names = _names(spec.split(","), seen, template)
                parts.append(r"(?:\?(?P<_query>[^#]*))?")
            elif operator in ("", "+"):
                if "," in spec:
                    raise UriTemplateError(
                        f"{template!r}: one variable per expression (except {{?a,b}})"
                    )
                (name,) = _names([spec], seen, template)
                variables.append(name)
                value = _RESERVED_VALUE if operator == "+" else _SIMPLE_VALUE
                parts.append(f"(?P<{name}>{value})")
            else:
                raise UriTemplateError(
                    f"{template!r}: operator {operator!r} is not supported (use {{name}}, "
                    "{+name} or {?a,b})"
                )
            position = expression.end()
        tail = template[position:]
        if "{" in tail or "}" in tail:
            raise UriTemplateError(f"malformed expression in URI template {template!r}")
        parts.append(re.escape(tail))
        self.variables = tuple(variables)
        return "".join(parts)


def _split_operator(body: str) -> tuple[str, str]:
    operator = body[:1] if body[:1] in "+?#./;&" else ""
    return operator, body[len(operator) :]


def _names(specs: list[str], seen: list[str], template: str) -> tuple[str, ...]:
    for spec in specs:
        if not _VARNAME.fullmatch(spec):
            raise UriTemplateError(
                f"{template!r}: {spec!r} is not a plain variable name (letters, digits, _; "
                "no modifiers such as :3 or *)"
            )
        if spec in seen or spec == "_query":
            raise UriTemplateError(f"{template!r}: variable {spec!r} appears twice")
        seen.append(spec)
    return tuple(specs)
