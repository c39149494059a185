"""The tool-author API of mcpfleet: a ``Toolset`` of plain typed functions.

Handlers run in worker processes, never in the HTTP front. Besides text and JSON values, a
handler may return content: ``Text`` (text with annotations), ``Image``/``Audio`` (bytes),
``TextResource``/``BlobResource`` (embedded resources), ``ResourceLink``, or the raw
``TextContent``/``ImageContent``/``AudioContent`` blocks; ``Annotations`` (audience,
priority, last modified) go on any of them and on resources. Machinery for running workers
lives in :mod:`workers.runtime`.
"""

from proto import AudioContent, Icon, ImageContent, Principal, ResourceLink, TextContent
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
    "Completion",
    "Header",
    "Icon",
    "Image",
    "ImageContent",
    "Principal",
    "ResourceLink",
    "Text",
    "TextContent",
    "TextResource",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "Toolset",
    "UserMessage",
]
