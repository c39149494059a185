"""Struct policy for MCP spec messages: frozen, keyword-only, camelCase, absent = ``UNSET``."""

from __future__ import annotations

import msgspec

__all__ = ["JsonObject", "McpStruct"]

JsonObject = dict[str, object]
"""An opaque JSON object we pass through without interpreting it."""


class McpStruct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"):
    """Base of every MCP message Struct. ``_meta`` fields are named explicitly."""
