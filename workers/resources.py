"""Resources for tool authors (ADR-0007): definitions made by ``Toolset.resource`` and the
rendering of what a resource handler returns.

    @app.resource("config://app", mime_type="application/json")
    def app_config() -> str: ...

    @app.resource("users://{user_id}/profile", annotations=Annotations(audience=["user"]))
    async def profile(user_id: int) -> dict[str, object]: ...

A URI without ``{...}`` is a static resource (``resources/list``); with them it is a template
(``resources/templates/list``) whose variables are the handler's parameters, decoded from the
URI's strings leniently (``"42"`` becomes ``42`` for an ``int``).
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Final, final

import msgspec

from proto import (
    MODERN_VERSIONS,
    BlobResourceContents,
    ReadResourceResult,
    ResultMeta,
    TextResourceContents,
    UriTemplate,
    UriTemplateError,
)
from workers.content import Annotations, BlobResource, TextResource
from workers.context import ToolContext
from workers.errors import ToolDefinitionError
from workers.tool_schema import ArgsSpec, build_args_spec, parse_docstring

__all__ = ["ResourceDefinition", "define_resource", "render_read"]

_encoder: Final = msgspec.json.Encoder()
_TEXT_TYPE: Final = "text/plain"
_JSON_TYPE: Final = "application/json"
_BINARY_TYPE: Final = "application/octet-stream"


@final
class ResourceDefinition:
    """A registered resource or template. Read-only."""

    __slots__ = (
        "annotations",
        "args",
        "description",
        "enabled",
        "fn",
        "is_async",
        "mime_type",
        "name",
        "template",
        "timeout_s",
        "title",
        "uri",
    )

    def __init__(
        self,
        *,
        uri: str,
        template: UriTemplate,
        name: str,
        fn: Callable[..., Any],
        args: ArgsSpec,
        title: str | None,
        description: str | None,
        mime_type: str | None,
        timeout_s: float | None,
        annotations: Annotations | None = None,
        enabled: bool = True,
    ) -> None:
        self.uri = uri
        self.template = template
        self.name = name
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.args = args
        self.title = title
        self.description = description
        self.mime_type = mime_type
        self.timeout_s = timeout_s
        self.annotations = annotations
        """Hints listed with the resource or template (not on the contents it reads)."""
        self.enabled = enabled
        """Whether the resource is listed and read until the fleet says otherwise
        (ADR-0010)."""

    @property
    def is_template(self) -> bool:
        return self.template.is_template


def define_resource(
    uri: str,
    fn: Callable[..., Any],
    *,
    name: str | None,
    title: str | None,
    description: str | None,
    mime_type: str | None,
    timeout_s: float | None,
    annotations: Annotations | None = None,
    enabled: bool = True,
) -> ResourceDefinition:
    """Check ``fn`` against ``uri`` and build its definition.

    Raises:
        ToolDefinitionError: a template outside the supported subset, handler parameters
            that are not exactly the template's variables (query variables need defaults),
            or ``annotations`` that are not an ``Annotations``.
    """
    label = f"resource {uri!r}"
    if annotations is not None and not isinstance(annotations, Annotations):
        raise ToolDefinitionError(
            f"{label}: annotations must be workers.Annotations(...), not {annotations!r}"
        )
    try:
        template = UriTemplate(uri)
    except UriTemplateError as exc:
        raise ToolDefinitionError(f"{label}: {exc}") from None
    summary, param_docs = parse_docstring(fn.__doc__)
    args = build_args_spec(uri, fn, ToolContext, param_docs, kind="resource")
    _check_parameters(label, template, args)
    return ResourceDefinition(
        uri=uri,
        template=template,
        name=name or fn.__name__,
        fn=fn,
        args=args,
        title=title,
        description=description or summary,
        mime_type=mime_type,
        timeout_s=timeout_s,
        annotations=annotations,
        enabled=enabled,
    )


def _check_parameters(label: str, template: UriTemplate, args: ArgsSpec) -> None:
    parameters = set(args.struct.__struct_fields__)
    expected = set(template.variables) | set(template.query_names)
    if parameters != expected:
        raise ToolDefinitionError(
            f"{label}: the handler's parameters {sorted(parameters)} must be the template's "
            f"variables {sorted(expected)}"
        )
    required = set(args.schema.get("required", ()))
    optional_query = required & set(template.query_names)
    if optional_query:
        raise ToolDefinitionError(
            f"{label}: query variables are optional in a URI, so {sorted(optional_query)} "
            "need defaults"
        )


def render_read(
    value: object,
    *,
    uri: str,
    mime_type: str | None,
    version: str,
    meta: ResultMeta,
    ttl_ms: int,
) -> bytes:
    """The ``resources/read`` result for what a handler returned (see :func:`_contents`).

    Raises:
        TypeError: the handler returned something that is not resource contents.
    """
    contents = [_contents(item, uri, mime_type) for item in _items(value)]
    modern = version in MODERN_VERSIONS
    return _encoder.encode(
        ReadResourceResult(
            contents=contents,
            result_type="complete" if modern else msgspec.UNSET,
            ttl_ms=ttl_ms if modern else msgspec.UNSET,
            cache_scope="public" if modern else msgspec.UNSET,
            meta=meta if modern else msgspec.UNSET,
        )
    )


def _items(value: object) -> Sequence[object]:
    """Several contents only as a list of the helpers: any other list is JSON data."""
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(item, TextResource | BlobResource) for item in value)
    ):
        return value
    return [value]


def _contents(
    item: object, uri: str, mime_type: str | None
) -> TextResourceContents | BlobResourceContents:
    """``str`` → text; ``bytes`` → blob; a dict, list or Struct → JSON text; or the
    ``TextResource`` / ``BlobResource`` helpers (``workers.content``), which name their own
    URI and type (several related documents from one read)."""
    if isinstance(item, TextResource):
        return _text(item.uri, item.text, item.mime_type or mime_type or _TEXT_TYPE)
    if isinstance(item, BlobResource):
        return _blob(item.uri, item.data, item.mime_type or mime_type or _BINARY_TYPE)
    if isinstance(item, str):
        return _text(uri, item, mime_type or _TEXT_TYPE)
    if isinstance(item, bytes | bytearray | memoryview):
        return _blob(uri, bytes(item), mime_type or _BINARY_TYPE)
    try:
        text = _encoder.encode(item).decode()
    except TypeError:
        raise TypeError(
            f"a resource handler returned {type(item).__name__}; return str, bytes, "
            "JSON-encodable data, TextResource or BlobResource"
        ) from None
    return _text(uri, text, mime_type or _JSON_TYPE)


def _text(uri: str, text: str, mime_type: str) -> TextResourceContents:
    return TextResourceContents(uri=uri, text=text, mime_type=mime_type)


def _blob(uri: str, data: bytes, mime_type: str) -> BlobResourceContents:
    return BlobResourceContents(
        uri=uri, blob=base64.b64encode(data).decode("ascii"), mime_type=mime_type
    )
