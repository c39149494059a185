"""The tool-author API of mcpfleet: a ``Toolset`` of plain typed functions.

Handlers run in worker processes, never in the HTTP front. Machinery for running workers
lives in :mod:`workers.runtime`.
"""

from proto import AudioContent, ImageContent, Principal, TextContent
from workers.context import CancelledByClientError, ToolContext
from workers.errors import ToolDefinitionError, ToolError
from workers.tool_schema import Header
from workers.toolset import Toolset

__all__ = [
    "AudioContent",
    "CancelledByClientError",
    "Header",
    "ImageContent",
    "Principal",
    "TextContent",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "Toolset",
]
