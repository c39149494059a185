"""Content a tool returns besides plain text and JSON: text with annotations, images, audio
and embedded resources from bytes, and the annotations any of them may carry.

A handler returns one of these (or a list mixing them with strings and the ``proto``
content blocks) and the worker turns it into the wire block, base64-encoding the bytes::

    @app.tool
    def chart(city: str) -> Image:
        \"\"\"A chart of the week's temperatures.\"\"\"
        return Image.from_path(f"/srv/charts/{city}.png", annotations=Annotations(priority=0.3))

``ResourceLink`` (a pointer, no bytes) is the ``proto`` block itself, re-exported by
:mod:`workers`; give it ``annotations=Annotations(...).wire``.
"""

from __future__ import annotations

import base64
import datetime
import math
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Final, Literal, Self, cast

from msgspec import UNSET, UnsetType

from proto import Annotations as WireAnnotations
from proto import (
    AudioContent,
    BlobResourceContents,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)

__all__ = ["Annotations", "Audio", "BlobResource", "Image", "Text", "TextResource"]

_ROLES: Final = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class Annotations:
    """Hints for the client about a content block or a resource, checked when built::

        Annotations(audience=["user"], priority=0.8, last_modified=datetime.now(UTC))

    Args:
        audience: whom it is for: ``"user"``, ``"assistant"`` or both.
        priority: how important it is, from 0 (entirely optional) to 1 (effectively
            required).
        last_modified: when it last changed: a timezone-aware ``datetime`` or an ISO 8601
            string with an offset (``"2025-01-12T17:00:58+02:00"``), sent as UTC
            (``"2025-01-12T15:00:58Z"``) to 2025-06-18 clients and later (earlier revisions
            have no such field).

    Raises:
        ValueError: an audience other than those two, a priority outside [0, 1], a moment
            without a time zone or a string that is not ISO 8601 (the message names it).
        TypeError: an audience that is a bare string, a priority that is not a number, a
            last_modified that is neither a datetime nor a string.
    """

    audience: Sequence[str] = ()
    priority: float | None = None
    last_modified: datetime.datetime | str | None = None
    wire: WireAnnotations | UnsetType = field(init=False, repr=False, compare=False)
    """The ``annotations`` object as sent (``UNSET`` when there is nothing to say)."""

    def __post_init__(self) -> None:
        audience = _checked_audience(self.audience)
        priority = _checked_priority(self.priority)
        last_modified = _checked_last_modified(self.last_modified)
        wire: WireAnnotations | UnsetType = UNSET
        if audience or priority is not None or last_modified is not None:
            wire = WireAnnotations(
                audience=audience or UNSET,
                priority=UNSET if priority is None else priority,
                last_modified=last_modified or UNSET,
            )
        object.__setattr__(self, "wire", wire)  # frozen: set once, here


def _checked_audience(audience: Sequence[str]) -> list[Literal["user", "assistant"]]:
    if isinstance(audience, str):
        raise TypeError(f"audience must be a list such as [{audience!r}], not {audience!r}")
    for role in audience:
        if role not in _ROLES:
            raise ValueError(f"audience {role!r} is neither 'user' nor 'assistant'")
    return cast(list[Literal["user", "assistant"]], list(audience))


def _checked_priority(priority: float | None) -> float | None:
    if priority is None:
        return None
    if isinstance(priority, bool) or not isinstance(priority, int | float):
        raise TypeError(f"priority must be a number from 0 to 1, not {priority!r}")
    if math.isnan(priority) or not 0 <= priority <= 1:
        raise ValueError(f"priority {priority!r} is outside 0 to 1")
    return priority


def _checked_last_modified(value: datetime.datetime | str | None) -> str | None:
    """``value`` as ISO 8601 in UTC (``Z``)."""
    if value is None:
        return None
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"last_modified {value!r} is not an ISO 8601 date and time") from None
    if not isinstance(moment, datetime.datetime):
        raise TypeError(f"last_modified must be a datetime or an ISO 8601 string, not {value!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"last_modified {value!r} has no time zone (give an offset, or UTC)")
    utc = moment.astimezone(datetime.UTC).isoformat()
    return utc.removesuffix("+00:00") + "Z"


def _wire(annotations: Annotations | None) -> WireAnnotations | UnsetType:
    return UNSET if annotations is None else annotations.wire


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _guessed_type(path: Path, kind: str) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None or not guessed.startswith(kind + "/"):
        raise ValueError(f"cannot tell the {kind} type of {path.name!r}: pass mime_type=")
    return guessed


@dataclass(frozen=True, slots=True)
class Text:
    """Text with annotations (a plain ``str`` is a text block without them):
    ``Text("Saved.", annotations=Annotations(audience=["user"]))``."""

    text: str
    annotations: Annotations | None = None

    def to_block(self) -> TextContent:
        """The ``text`` content block."""
        return TextContent(text=self.text, annotations=_wire(self.annotations))


@dataclass(frozen=True, slots=True)
class _Media:
    """Raw bytes and their type, read from a file if need be (``Image`` and ``Audio``).

    Raises (``from_path``):
        ValueError: the type cannot be guessed from the file name and none was given.
        OSError: the file cannot be read.
    """

    data: bytes
    mime_type: str
    annotations: Annotations | None = None

    _kind: ClassVar[str]

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        mime_type: str | None = None,
        *,
        annotations: Annotations | None = None,
    ) -> Self:
        """Read a file; its type is guessed from the suffix unless given."""
        file = Path(path)
        return cls(file.read_bytes(), mime_type or _guessed_type(file, cls._kind), annotations)


@dataclass(frozen=True, slots=True)
class Image(_Media):
    """An image to return from a tool: raw bytes and their type (``image/png``)."""

    _kind: ClassVar[str] = "image"

    def to_block(self) -> ImageContent:
        """The ``image`` content block (base64 data)."""
        return ImageContent(
            data=_b64(self.data), mime_type=self.mime_type, annotations=_wire(self.annotations)
        )


@dataclass(frozen=True, slots=True)
class Audio(_Media):
    """Audio to return from a tool: raw bytes and their type (``audio/wav``)."""

    _kind: ClassVar[str] = "audio"

    def to_block(self) -> AudioContent:
        """The ``audio`` content block (base64 data)."""
        return AudioContent(
            data=_b64(self.data), mime_type=self.mime_type, annotations=_wire(self.annotations)
        )


@dataclass(frozen=True, slots=True)
class TextResource:
    """A resource's text embedded in the result (a ``resource`` block), e.g. a file the
    tool produced: ``TextResource("file:///tmp/report.md", text, mime_type="text/markdown")``."""

    uri: str
    text: str
    mime_type: str | None = None
    annotations: Annotations | None = None
    """On the ``resource`` block of a tool result or prompt message (a resource read's
    contents carry none)."""

    def to_block(self) -> EmbeddedResource:
        """The ``resource`` content block."""
        return EmbeddedResource(
            resource=TextResourceContents(
                uri=self.uri, text=self.text, mime_type=self.mime_type or UNSET
            ),
            annotations=_wire(self.annotations),
        )


@dataclass(frozen=True, slots=True)
class BlobResource:
    """A resource's bytes embedded in the result (a ``resource`` block, base64 ``blob``)."""

    uri: str
    data: bytes
    mime_type: str | None = None
    annotations: Annotations | None = None
    """As for ``TextResource``."""

    def to_block(self) -> EmbeddedResource:
        """The ``resource`` content block."""
        return EmbeddedResource(
            resource=BlobResourceContents(
                uri=self.uri, blob=_b64(self.data), mime_type=self.mime_type or UNSET
            ),
            annotations=_wire(self.annotations),
        )
