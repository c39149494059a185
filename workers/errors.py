"""Errors a tool author raises or meets; all under ``proto.FleetError``."""

from __future__ import annotations

from proto import FleetError

__all__ = ["ToolDefinitionError", "ToolError"]


class ToolError(FleetError):
    """Raise from a handler to report a tool execution error (``isError: true``) whose
    message the model should see verbatim."""


class ToolDefinitionError(FleetError):
    """A tool cannot be registered (bad name, unsupported signature); names the tool."""
