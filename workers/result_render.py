"""Turn a handler's return value (or failure) into the era's ``CallToolResult`` bytes.

Mapping, for a tool with structured output (an ``outputSchema``, ``workers/output_schema.py``):
the value, checked against the return type, becomes ``structuredContent`` (wrapped as
``{"result": value}`` where the revision requires an object and the type is not one) plus its
JSON as text. Otherwise: ``str`` → one text block; ``None`` → no content; a content block or
helper (``Text``, ``Image``, ``TextResource``, ...), or a list of them and strings → those
blocks; a value that encodes to a JSON object (dict, Struct, dataclass) →
``structuredContent`` plus its JSON as text (for clients that read only text); anything else
JSON-encodable → its JSON as text.
"""

from __future__ import annotations

from typing import Final

import msgspec

from proto import (
    STRUCTURED_RESULT_KEY,
    ContentBlock,
    Implementation,
    ResultMeta,
    TextContent,
    build_call_result,
    structured_content_is_object,
    supports_structured_content,
)
from workers.content import Audio, BlobResource, Image, Text, TextResource
from workers.errors import ToolError
from workers.output_schema import CONTENT_TYPES, OutputSpec

__all__ = ["ResultRenderer"]

_HELPERS: Final = (Text, Image, Audio, TextResource, BlobResource)
_encoder: Final = msgspec.json.Encoder()
_WRAP_OPEN: Final = b'{"' + STRUCTURED_RESULT_KEY.encode() + b'":'


class ResultRenderer:
    """Renders results for one server identity (stamped on 2026-07-28 results)."""

    def __init__(self, server_info: Implementation) -> None:
        self._meta = ResultMeta(server_info=server_info)

    def success(self, value: object, version: str, output: OutputSpec | None = None) -> bytes:
        """Encode a handler's return value for protocol ``version``; ``output`` is the
        tool's structured output, if it has one.

        Raises:
            TypeError: the value is not JSON-encodable (reported as a tool error upstream).
            ToolError: the value does not fit the tool's declared output schema.
        """
        if output is not None:
            content, structured = _structured(value, output, version)
        else:
            content, structured = _content_of(value, supports_structured_content(version))
        return self._encode(content, structured, is_error=False, version=version)

    def tool_error(self, message: str, version: str) -> bytes:
        """An ``isError: true`` result carrying ``message`` as text."""
        return self._encode([TextContent(text=message)], None, is_error=True, version=version)

    def _encode(
        self,
        content: list[ContentBlock],
        structured: bytes | None,
        *,
        is_error: bool,
        version: str,
    ) -> bytes:
        result = build_call_result(
            content, is_error=is_error, structured=structured, version=version, meta=self._meta
        )
        return _encoder.encode(result)


def _structured(
    value: object, output: OutputSpec, version: str
) -> tuple[list[ContentBlock], bytes | None]:
    encoded = _encoder.encode(value)
    problem = output.conformance_problem(encoded)
    if problem is not None:
        # The client would reject the result (it validates structuredContent against the
        # schema), so the handler's mistake is reported as its own failure.
        raise ToolError(f"The tool's result does not match its output schema: {problem}")
    text: list[ContentBlock] = [TextContent(text=encoded.decode())]
    if not supports_structured_content(version):
        return text, None
    if output.is_object or not structured_content_is_object(version):
        return text, encoded
    return text, _WRAP_OPEN + encoded + b"}"


def _content_of(value: object, structured_ok: bool) -> tuple[list[ContentBlock], bytes | None]:
    if isinstance(value, str):
        return [TextContent(text=value)], None  # a one-element list of the union type
    if value is None:
        return [], None
    if isinstance(value, CONTENT_TYPES):
        return [_block(value)], None
    if isinstance(value, (list, tuple)) and _is_content_list(value):
        return [TextContent(text=v) if isinstance(v, str) else _block(v) for v in value], None
    encoded = _encoder.encode(value)
    text: list[ContentBlock] = [TextContent(text=encoded.decode())]
    if structured_ok and encoded[:1] == b"{":
        return text, encoded
    return text, None


def _is_content_list(values: list[object] | tuple[object, ...]) -> bool:
    """Content blocks and helpers, possibly with strings as text blocks; a list of only
    strings stays a JSON value (``["a", "b"]``)."""
    has_block = False
    for item in values:
        if isinstance(item, CONTENT_TYPES):
            has_block = True
        elif not isinstance(item, str):
            return False
    return has_block


def _block(value: object) -> ContentBlock:
    if isinstance(value, _HELPERS):
        return value.to_block()
    return value  # type: ignore[return-value]  # one of the proto blocks in CONTENT_TYPES
