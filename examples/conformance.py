"""The fixtures the official MCP conformance suite calls by name, served by ``make
conformance`` (``mcpfleet up --app examples.conformance:app``).

Each tool does exactly what its scenario in ``@modelcontextprotocol/conformance`` asks (the
scenario's description states it): fixed texts, a 1x1 PNG, a short WAV, embedded resources,
a tool error, progress 0/50/100, a hand-written JSON Schema 2020-12 ``inputSchema``, and a
parameter mirrored into an ``Mcp-Param-*`` header. The logging fixtures are in
``examples/conformance_logging.py``; the resources, prompts and completion in
``examples/conformance_surface.py``; the handlers that ask the client for input in
``examples/conformance_input.py``; the tools that change the tool and prompt lists in
``examples/conformance_list_changes.py``. It is also a compact tour of the tool-author API;
docs/tool-authoring.md explains each feature.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import wave
import zlib
from typing import Annotated, Final, Literal, TypedDict

from examples import (
    conformance_input,
    conformance_list_changes,
    conformance_logging,
    conformance_surface,
    conformance_tasks,
)
from workers import Audio, Header, Image, TextResource, ToolContext, ToolError, Toolset

app = Toolset(
    "mcpfleet-conformance",
    "0.1.0",
    title="mcpfleet conformance fixtures",
    instructions="Fixtures of the MCP conformance suite; not useful to a model.",
)


def _png_pixel(red: int, green: int, blue: int) -> bytes:
    """A 1x1 RGB PNG of one colour (built here rather than stored)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, 8-bit RGB
    pixels = zlib.compress(bytes([0, red, green, blue]))  # filter byte, then the pixel
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _wav_silence(frames: int = 8) -> bytes:
    """A short mono 16-bit 8 kHz WAV of silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()


RED_PIXEL: Final = _png_pixel(255, 0, 0)
SILENCE: Final = _wav_silence()


@app.tool(read_only=True)
def test_simple_text() -> str:
    """Return a fixed text (scenario tools-call-simple-text)."""
    return "This is a simple text response for testing."


@app.tool(read_only=True)
def test_image_content() -> Image:
    """Return a 1x1 red PNG (scenario tools-call-image)."""
    return Image(RED_PIXEL, "image/png")


@app.tool(read_only=True)
def test_audio_content() -> Audio:
    """Return a short WAV of silence (scenario tools-call-audio)."""
    return Audio(SILENCE, "audio/wav")


@app.tool(read_only=True)
def test_embedded_resource() -> TextResource:
    """Return an embedded text resource (scenario tools-call-embedded-resource)."""
    return TextResource(
        "test://embedded-resource", "This is an embedded resource content.", mime_type="text/plain"
    )


@app.tool(read_only=True)
def test_multiple_content_types() -> list[str | Image | TextResource]:
    """Return text, an image and an embedded resource (scenario tools-call-mixed-content)."""
    return [
        "Multiple content types test:",
        Image(RED_PIXEL, "image/png"),
        TextResource(
            "test://mixed-content-resource",
            json.dumps({"test": "data", "value": 123}),
            mime_type="application/json",
        ),
    ]


@app.tool(read_only=True)
def test_error_handling() -> str:
    """Always fail with a tool error (scenario tools-call-error)."""
    raise ToolError("This tool intentionally returns an error for testing")


@app.tool(read_only=True)
async def test_tool_with_progress(ctx: ToolContext) -> str:
    """Report progress 0, 50 and 100 of 100, about 50 ms apart (scenario
    tools-call-with-progress)."""
    for done in (0, 50, 100):
        if done:
            # A little over the context's 50 ms coalescing interval, so each report goes out.
            await asyncio.sleep(0.06)
        ctx.progress(done, 100, f"Completed step {done} of 100")
    return "Progress reported: 0, 50, 100 of 100"


class Address(TypedDict, total=False):
    """A postal address (both parts optional)."""

    street: str
    city: str


JSON_SCHEMA_2020_12: Final = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}
"""A schema using 2020-12 keywords no type hint expresses (scenario json-schema-2020-12)."""


@app.tool(read_only=True, input_schema=JSON_SCHEMA_2020_12)
def json_schema_2020_12_tool(
    name: str | None = None,
    address: Address | None = None,
    contactMethod: Literal["phone", "email"] | None = None,  # the schema's name
    phone: str | None = None,
    email: str | None = None,
) -> str:
    """Tool with JSON Schema 2020-12 features (a hand-written inputSchema)."""
    if contactMethod == "phone" and phone is None:
        raise ToolError("contactMethod 'phone' needs a phone number")
    if phone is None and email is None:
        raise ToolError("give a phone number or an email address")
    return f"Contact {name or 'someone'} by {contactMethod or ('phone' if phone else 'email')}"


@app.tool(read_only=True)
def test_custom_headers(region: Annotated[str, Header("Region")], query: str = "") -> str:
    """Echo a region mirrored into the Mcp-Param-Region header (scenario
    http-custom-header-server-validation, 2026-07-28).

    Args:
        region: where to run the query; clients send it as the Mcp-Param-Region header too.
        query: what to run.
    """
    return f"[{region}] {query}"


# The logging fixtures (test_tool_with_logging, test_logging_tool), the input fixtures
# (test_sampling, test_elicitation, ...), the resources, prompts and completions, and the
# list-change triggers live in modules of their own.
conformance_logging.register(app)
conformance_input.register(app)
conformance_surface.register(app, png=RED_PIXEL)
conformance_list_changes.register(app)
conformance_tasks.register(app)
