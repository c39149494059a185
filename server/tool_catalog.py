"""The tools this front serves, as the front needs them: listing bytes per protocol version
(built once, then served from memory) and a fast argument check per tool.

The front validates arguments before anything is queued (DESIGN.md section 5), with the
same msgspec Struct the worker decodes them into, so what passes here also decodes there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import msgspec

from proto import (
    MODERN_VERSIONS,
    ChangeKind,
    Implementation,
    ListToolsResult,
    ParamHeader,
    ResultMeta,
    Tool,
    supports_structured_content,
)
from server.prompt_catalog import PromptCatalog
from server.resource_catalog import ResourceCatalog

__all__ = ["CatalogTool", "ToolCatalog"]

_encoder: Final = msgspec.json.Encoder()
_EMPTY_ARGS: Final = b"{}"


class CatalogTool:
    """One tool: its listing entry, argument decoder, timeout and mirrored parameters.

    Args:
        listing: the ``Tool`` entry as published (most recent revision's fields).
        args_type: the Struct its arguments must decode into.
        timeout_s: how long a worker may run it.
        param_headers: its ``x-mcp-header`` annotations (``Mcp-Param-*`` on HTTP).
    """

    __slots__ = ("_decoder", "listing", "name", "param_headers", "timeout_s")

    def __init__(
        self,
        listing: Tool,
        args_type: type[msgspec.Struct],
        timeout_s: float,
        param_headers: tuple[ParamHeader, ...] = (),
    ) -> None:
        self.name = listing.name
        self.listing = listing
        self.timeout_s = timeout_s
        self.param_headers = param_headers
        self._decoder: msgspec.json.Decoder[msgspec.Struct] = msgspec.json.Decoder(
            args_type, strict=False
        )

    def argument_problem(self, arguments: bytes) -> str | None:
        """Why ``arguments`` (raw JSON) do not fit the tool's input schema, or ``None``."""
        try:
            self._decoder.decode(arguments or _EMPTY_ARGS)
        except msgspec.ValidationError as exc:
            return f"Invalid arguments for tool {self.name!r}: {exc}"
        except msgspec.DecodeError as exc:  # pragma: no cover - the envelope already parsed
            return f"Invalid arguments for tool {self.name!r}: {exc}"
        except UnicodeDecodeError:
            # Arguments stay raw through the envelope decode; their strings are checked here.
            return f"Invalid arguments for tool {self.name!r}: invalid UTF-8"
        except RecursionError:
            return f"Invalid arguments for tool {self.name!r}: nested too deeply"
        return None


class ToolCatalog:
    """All tools of the app, in registration order (a deterministic listing order)."""

    def __init__(
        self,
        *,
        server_info: Implementation,
        instructions: str | None,
        tools: Sequence[CatalogTool],
        list_ttl_ms: int,
        resources: ResourceCatalog | None = None,
        prompts: PromptCatalog | None = None,
        completions: frozenset[str] = frozenset(),
    ) -> None:
        self.server_info = server_info
        self.instructions = instructions
        self.resources = resources or ResourceCatalog()
        """The app's resources and templates (ADR-0007)."""
        self.prompts = prompts or PromptCatalog()
        """The app's prompts."""
        self.completions = completions
        """Keys (``workers.completions.completion_key``) of the arguments with a provider."""
        self._tools = {tool.name: tool for tool in tools}
        self._list_ttl_ms = list_ttl_ms
        self._listings: dict[str, bytes] = {}

    def get(self, name: str) -> CatalogTool | None:
        return self._tools.get(name)

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def longest_timeout_s(self) -> float:
        """The longest any call (tool, read, prompt) may run (0 without any)."""
        tools = max((tool.timeout_s for tool in self._tools.values()), default=0.0)
        return max(tools, self.resources.longest_timeout_s, self.prompts.longest_timeout_s)

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the tool entries as the latest revision lists them (in order):
        equal for two fronts exactly when they list the same tools. The fleet announces a
        tools change when a front with another digest starts (``server/change_feed.py``)."""
        entries = _encoder.encode([tool.listing for tool in self._tools.values()])
        return hashlib.sha256(entries).hexdigest()

    @property
    def digests(self) -> dict[str, str]:
        """The digest of each list this front serves, by change kind (``ChangeKind``):
        tools, resources (resources and templates together) and prompts."""
        return {
            ChangeKind.TOOLS: self.digest,
            ChangeKind.RESOURCES: self.resources.digest,
            ChangeKind.PROMPTS: self.prompts.digest,
        }

    @property
    def served_changes(self) -> frozenset[str]:
        """The list-change kinds worth telling clients about: tools always, resources and
        prompts when the app registers any (a client that cached them must refetch)."""
        kinds = {ChangeKind.TOOLS}
        if len(self.resources):
            kinds.add(ChangeKind.RESOURCES)
        if len(self.prompts):
            kinds.add(ChangeKind.PROMPTS)
        return frozenset(kinds)

    def list_result(self, version: str) -> bytes:
        """The encoded ``tools/list`` result for ``version``, built on first use."""
        cached = self._listings.get(version)
        if cached is None:
            cached = self._listings[version] = self._build_listing(version)
        return cached

    def _build_listing(self, version: str) -> bytes:
        modern = version in MODERN_VERSIONS
        tools = [_tool_for(tool.listing, version) for tool in self._tools.values()]
        if not modern:
            return _encoder.encode(ListToolsResult(tools=tools))
        return _encoder.encode(
            ListToolsResult(
                tools=tools,
                result_type="complete",
                ttl_ms=self._list_ttl_ms,
                cache_scope="public",
                meta=ResultMeta(server_info=self.server_info),
            )
        )


def _tool_for(tool: Tool, version: str) -> Tool:
    """Drop fields the revision does not define (checklist 45)."""
    if supports_structured_content(version):
        return tool
    return msgspec.structs.replace(tool, title=msgspec.UNSET, output_schema=msgspec.UNSET)
