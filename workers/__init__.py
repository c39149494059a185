"""The tool-author API of mcpfleet: a ``Toolset`` of plain typed functions.

Handlers run in worker processes, never in the HTTP front. Besides text and JSON values, a
handler may return content: ``Text`` (text with annotations), ``Image``/``Audio`` (bytes),
``TextResource``/``BlobResource`` (embedded resources), ``ResourceLink``, or the raw
``TextContent``/``ImageContent``/``AudioContent`` blocks; ``Annotations`` (audience,
priority, last modified) go on any of them and on resources. Handlers ask the client for
input through their context (``ctx.elicit``, ``ctx.sample``, ``ctx.list_roots``,
``ctx.ask`` with the ``*_request`` builders). Machinery for running workers lives in
:mod:`workers.runtime`.
"""

from proto import (
    AudioContent,
    Icon,
    ImageContent,
    MissingClientCapabilityError,
    Principal,
    ResourceLink,
    TextContent,
)
from workers.client_input import (
    ClientRequest,
    ClientRequestError,
    ClientRoot,
    Elicitation,
    SamplingResult,
    elicitation_request,
    roots_request,
    sampling_request,
    url_elicitation_request,
)
from workers.completions import Completion
from workers.content import Annotations, Audio, BlobResource, Image, Text, TextResource
from workers.context import CancelledByClientError, ToolContext
from workers.errors import ToolDefinitionError, ToolError
from workers.prompts import AssistantMessage, UserMessage
from workers.tool_schema import Header
from workers.toolset import Toolset

__all__ = [
    "Annotations",
    "AssistantMessage",
    "Audio",
    "AudioContent",
    "BlobResource",
    "CancelledByClientError",
    "ClientRequest",
    "ClientRequestError",
    "ClientRoot",
    "Completion",
    "Elicitation",
    "Header",
    "Icon",
    "Image",
    "ImageContent",
    "MissingClientCapabilityError",
    "Principal",
    "ResourceLink",
    "SamplingResult",
    "Text",
    "TextContent",
    "TextResource",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "Toolset",
    "UserMessage",
    "elicitation_request",
    "roots_request",
    "sampling_request",
    "url_elicitation_request",
]
