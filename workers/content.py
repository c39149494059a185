"""Content a tool returns besides text: images, audio and embedded resources from bytes.

A handler returns one of these (or a list mixing them with strings and the ``proto``
content blocks) and the worker turns it into the wire block, base64-encoding the bytes::

    @app.tool
    def chart(city: str) -> Image:
        \"\"\"A chart of the week's temperatures.\"\"\"
        return Image.from_path(f"/srv/charts/{city}.png")

``ResourceLink`` (a pointer, no bytes) is the ``proto`` block itself, re-exported by
:mod:`workers`.
"""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

from msgspec import UNSET

from proto import (
    AudioContent,
    BlobResourceContents,
    EmbeddedResource,
    ImageContent,
    TextResourceContents,
)

__all__ = ["Audio", "BlobResource", "Image", "TextResource"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _guessed_type(path: Path, kind: str) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None or not guessed.startswith(kind + "/"):
        raise ValueError(f"cannot tell the {kind} type of {path.name!r}: pass mime_type=")
    return guessed


@dataclass(frozen=True, slots=True)
class _Media:
    """Raw bytes and their type, read from a file if need be (``Image`` and ``Audio``).

    Raises (``from_path``):
        ValueError: the type cannot be guessed from the file name and none was given.
        OSError: the file cannot be read.
    """

    data: bytes
    mime_type: str

    _kind: ClassVar[str]

    @classmethod
    def from_path(cls, path: str | Path, mime_type: str | None = None) -> Self:
        """Read a file; its type is guessed from the suffix unless given."""
        file = Path(path)
        return cls(file.read_bytes(), mime_type or _guessed_type(file, cls._kind))


@dataclass(frozen=True, slots=True)
class Image(_Media):
    """An image to return from a tool: raw bytes and their type (``image/png``)."""

    _kind: ClassVar[str] = "image"

    def to_block(self) -> ImageContent:
        """The ``image`` content block (base64 data)."""
        return ImageContent(data=_b64(self.data), mime_type=self.mime_type)


@dataclass(frozen=True, slots=True)
class Audio(_Media):
    """Audio to return from a tool: raw bytes and their type (``audio/wav``)."""

    _kind: ClassVar[str] = "audio"

    def to_block(self) -> AudioContent:
        """The ``audio`` content block (base64 data)."""
        return AudioContent(data=_b64(self.data), mime_type=self.mime_type)


@dataclass(frozen=True, slots=True)
class TextResource:
    """A resource's text embedded in the result (a ``resource`` block), e.g. a file the
    tool produced: ``TextResource("file:///tmp/report.md", text, mime_type="text/markdown")``."""

    uri: str
    text: str
    mime_type: str | None = None

    def to_block(self) -> EmbeddedResource:
        """The ``resource`` content block."""
        return EmbeddedResource(
            resource=TextResourceContents(
                uri=self.uri, text=self.text, mime_type=self.mime_type or UNSET
            )
        )


@dataclass(frozen=True, slots=True)
class BlobResource:
    """A resource's bytes embedded in the result (a ``resource`` block, base64 ``blob``)."""

    uri: str
    data: bytes
    mime_type: str | None = None

    def to_block(self) -> EmbeddedResource:
        """The ``resource`` content block."""
        return EmbeddedResource(
            resource=BlobResourceContents(
                uri=self.uri, blob=_b64(self.data), mime_type=self.mime_type or UNSET
            )
        )
