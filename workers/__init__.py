"""The tool-author API of mcpfleet: a ``Toolset`` of plain typed functions.

Handlers run in worker processes, never in the HTTP front. Machinery for running workers
lives in :mod:`workers.runtime`.
"""

from proto import AudioContent, ImageContent, TextContent
from workers.completions import Completion
from workers.context import CancelledByClientError, ToolContext
from workers.errors import ToolDefinitionError, ToolError
from workers.prompts import AssistantMessage, UserMessage
from workers.resources import BlobResource, TextResource
from workers.tool_schema import Header
from workers.toolset import Toolset

__all__ = [
    "AssistantMessage",
    "AudioContent",
    "BlobResource",
    "CancelledByClientError",
    "Completion",
    "Header",
    "ImageContent",
    "TextContent",
    "TextResource",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "Toolset",
    "UserMessage",
]
