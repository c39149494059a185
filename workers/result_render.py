"""Turn a handler's return value (or failure) into the era's ``CallToolResult`` bytes.

Mapping: ``str`` → one text block; ``None`` → no content; a content block or a list of
them → as is; a value that encodes to a JSON object (dict, Struct, dataclass) →
``structuredContent`` plus its JSON as text (for clients that read only text); anything
else JSON-encodable → its JSON as text.
"""

from __future__ import annotations

from typing import Final

import msgspec

from proto import (
    AudioContent,
    ContentBlock,
    ImageContent,
    Implementation,
    ResultMeta,
    TextContent,
    build_call_result,
    supports_structured_content,
)

__all__ = ["ResultRenderer"]

_CONTENT_TYPES: Final = (TextContent, ImageContent, AudioContent)
_encoder: Final = msgspec.json.Encoder()


class ResultRenderer:
    """Renders results for one server identity (stamped on 2026-07-28 results)."""

    def __init__(self, server_info: Implementation) -> None:
        self._meta = ResultMeta(server_info=server_info)

    def success(self, value: object, version: str) -> bytes:
        """Encode a handler's return value for protocol ``version``.

        Raises:
            TypeError: the value is not JSON-encodable (reported as a tool error upstream).
        """
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


def _content_of(value: object, structured_ok: bool) -> tuple[list[ContentBlock], bytes | None]:
    if isinstance(value, str):
        return [TextContent(text=value)], None  # a one-element list of the union type
    if value is None:
        return [], None
    if isinstance(value, _CONTENT_TYPES):
        return [value], None
    if isinstance(value, list) and value and all(isinstance(v, _CONTENT_TYPES) for v in value):
        return list(value), None
    encoded = _encoder.encode(value)
    text: list[ContentBlock] = [TextContent(text=encoded.decode())]
    if structured_ok and encoded[:1] == b"{":
        return text, encoded
    return text, None
