"""The tools this front serves, as the front needs them: listing pages per protocol version
(built once, then served from memory) and a fast argument check per tool.

The front validates arguments before anything is queued (DESIGN.md section 5), with the
same msgspec Struct the worker decodes them into, so what passes here also decodes there.

Pagination (mcp-protocol.md 8.1, 9.5): a page holds at most ``page_size`` tools, in
registration order. A cursor names the position of the next page and the list it belongs to
(a prefix of the catalog's digest, the one ADR-0006 announces list changes with, combined
with the tools turned off when any are), encoded as unpadded base64url. It stays valid on
every front of the deployment whatever their page size; a cursor from another deployment's
catalog (the fleet was redeployed between two pages), from before a tool was turned on or
off (ADR-0010), or one we never issued is refused, and the client lists again from the start.

Turned off (ADR-0010): a tool registered ``enabled=False`` or turned off fleet-wide is left
out of the listing and unknown to :meth:`ToolCatalog.get`, so a call of it is refused as a
call of an unknown tool, before anything is queued. The same holds for the resources and
prompts catalogs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from proto import (
    MODERN_VERSIONS,
    ChangeKind,
    Implementation,
    InvalidParamsError,
    ListToolsResult,
    ParamHeader,
    PromptReference,
    ResourceTemplateReference,
    ResultMeta,
    Tool,
    completion_key,
    structured_content_is_object,
    supports_icons,
    supports_structured_content,
)
from server.prompt_catalog import PromptCatalog
from server.resource_catalog import ResourceCatalog
from server.visible_items import VisibleItems

__all__ = ["CatalogTool", "ToolCatalog"]

_encoder: Final = msgspec.json.Encoder()
_EMPTY_ARGS: Final = b"{}"
_CURSOR_DIGEST_CHARS: Final = 32
_MAX_CURSOR_CHARS: Final = 128


class CatalogTool:
    """One tool: its listing entry, argument decoder, timeout and mirrored parameters.

    Args:
        listing: the ``Tool`` entry as published (most recent revision's fields).
        args_type: the Struct its arguments must decode into.
        timeout_s: how long a worker may run it.
        param_headers: its ``x-mcp-header`` annotations (``Mcp-Param-*`` on HTTP).
        legacy_output_schema: the ``outputSchema`` of revisions that require an object
            root (2025-06-18, 2025-11-25) when it differs from ``listing``'s.
        enabled: the declared state: False for a tool registered turned off (ADR-0010).
    """

    __slots__ = (
        "_decoder",
        "_legacy_output_schema",
        "enabled",
        "listing",
        "name",
        "param_headers",
        "timeout_s",
    )

    def __init__(
        self,
        listing: Tool,
        args_type: type[msgspec.Struct],
        timeout_s: float,
        param_headers: tuple[ParamHeader, ...] = (),
        *,
        legacy_output_schema: msgspec.Raw | None = None,
        enabled: bool = True,
    ) -> None:
        self.name = listing.name
        self.listing = listing
        self.enabled = enabled
        self.timeout_s = timeout_s
        self.param_headers = param_headers
        self._legacy_output_schema = legacy_output_schema
        self._decoder: msgspec.json.Decoder[msgspec.Struct] = msgspec.json.Decoder(
            args_type, strict=False
        )

    def listing_for(self, version: str) -> Tool:
        """The entry with only the fields ``version`` defines (checklist 45): ``title`` and
        ``outputSchema`` from 2025-06-18, ``icons`` from 2025-11-25, and an object-rooted
        ``outputSchema`` before 2026-07-28."""
        tool = self.listing
        if not supports_structured_content(version):
            return msgspec.structs.replace(
                tool, title=msgspec.UNSET, output_schema=msgspec.UNSET, icons=msgspec.UNSET
            )
        if not supports_icons(version):
            tool = msgspec.structs.replace(tool, icons=msgspec.UNSET)
        if self._legacy_output_schema is not None and structured_content_is_object(version):
            tool = msgspec.structs.replace(tool, output_schema=self._legacy_output_schema)
        return tool

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
    """All tools of the app, in registration order (a deterministic listing order); those
    turned off are neither listed nor found (:meth:`apply_overrides`).

    Args:
        list_ttl_ms: the ``ttlMs`` hint on 2026-07-28 listings.
        page_size: the most tools one ``tools/list`` page holds.
    """

    def __init__(
        self,
        *,
        server_info: Implementation,
        instructions: str | None,
        tools: Sequence[CatalogTool],
        list_ttl_ms: int,
        page_size: int,
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
        self._registered = VisibleItems({tool.name: tool for tool in tools})
        self._list_ttl_ms = list_ttl_ms
        self._page_size = page_size
        self._digest = self._registered.digest([tool.listing for tool in tools])
        self._show(self._registered.visible)

    def _show(self, visible: dict[str, CatalogTool]) -> None:
        # Replaced whole, never mutated: a lookup is one dict access (DESIGN.md section 6).
        self._tools = visible
        self._ordered = list(visible.values())
        self._listings: dict[tuple[str, int], bytes] = {}
        self._cursor_tag = self._registered.view_digest(self._digest)[:_CURSOR_DIGEST_CHARS]

    def get(self, name: str) -> CatalogTool | None:
        """The tool named ``name``, or None: not registered, or turned off."""
        return self._tools.get(name)

    def __len__(self) -> int:
        """How many tools are registered (turned off or not)."""
        return len(self._registered)

    def apply_overrides(self, overrides: Mapping[str, bool]) -> bool:
        """Show the tools the fleet's overrides (tool name → enabled, ADR-0010) leave on;
        True if that changed which tools are listed (pages and cursors then change too)."""
        changed = self._registered.apply(overrides)
        if changed:
            self._show(self._registered.visible)
        return changed

    @property
    def hidden(self) -> frozenset[str]:
        """The tools turned off now."""
        return self._registered.hidden

    @property
    def longest_timeout_s(self) -> float:
        """The longest any call (tool, read, prompt) may run (0 without any); tools turned
        off count too (a call may have started before)."""
        tools = max((tool.timeout_s for tool in self._registered.items.values()), default=0.0)
        return max(tools, self.resources.longest_timeout_s, self.prompts.longest_timeout_s)

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the tool entries as the latest revision lists them (in order),
        and of the names of those registered turned off when there are any: equal for two
        fronts exactly when they register the same tools alike. The fleet announces a tools
        change when a front with another digest starts (``server/change_feed.py``)."""
        return self._digest

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
        """The change kinds worth telling clients about: tool list changes always,
        resource and prompt list changes when the app registers any (a client that cached
        them must refetch), and resource updates when it has resources (subscriptions)."""
        kinds = {ChangeKind.TOOLS}
        if len(self.resources):
            kinds.add(ChangeKind.RESOURCES)
            kinds.add(ChangeKind.RESOURCE)
        if len(self.prompts):
            kinds.add(ChangeKind.PROMPTS)
        return frozenset(kinds)

    def completion_target(
        self, ref: PromptReference | ResourceTemplateReference, argument: str
    ) -> tuple[str, float]:
        """The completion key (``proto.completion_key``) of ``argument`` of the prompt or
        template ``ref`` names, and its time limit; whether a provider is registered for
        the key is for the caller to check (:attr:`completions`).

        Raises:
            InvalidParamsError: no such prompt or template, or it has no such argument.
        """
        if isinstance(ref, PromptReference):
            prompt = self.prompts.get(ref.name)
            if prompt is None:
                raise InvalidParamsError(f"Unknown prompt: {ref.name}")
            if all(a.name != argument for a in prompt.arguments):
                raise InvalidParamsError(f"Prompt {ref.name!r} has no argument {argument!r}")
            return completion_key("prompt", ref.name, argument), prompt.timeout_s
        template = self.resources.template(ref.uri)
        if template is None:
            raise InvalidParamsError(f"Unknown resource template: {ref.uri}")
        if argument not in (*template.template.variables, *template.template.query_names):
            raise InvalidParamsError(f"Resource template {ref.uri!r} has no variable {argument!r}")
        return completion_key("resource", ref.uri, argument), template.timeout_s

    def page_start(self, cursor: str) -> int | None:
        """Where the page ``cursor`` names starts, or None for a cursor this deployment's
        catalog did not issue for the tools on now (invalid, foreign, from before a tool
        was turned on or off, or past the end): -32602 for the caller."""
        if len(cursor) > _MAX_CURSOR_CHARS:
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, binascii.Error):
            return None
        tag, _, position = raw.partition(b":")
        if tag != self._cursor_tag.encode() or not position.isdigit():
            return None
        start = int(position)
        return start if 0 < start < len(self._ordered) else None

    def list_result(self, version: str, start: int = 0) -> bytes:
        """The encoded ``tools/list`` page for ``version`` starting at tool ``start`` (0 or
        a :meth:`page_start`), built on first use."""
        key = (version, start)
        cached = self._listings.get(key)
        if cached is None:
            cached = self._listings[key] = self._build_page(version, start)
        return cached

    def _cursor(self, start: int) -> str:
        raw = f"{self._cursor_tag}:{start}".encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def _build_page(self, version: str, start: int) -> bytes:
        end = start + self._page_size
        tools = [tool.listing_for(version) for tool in self._ordered[start:end]]
        next_cursor = self._cursor(end) if end < len(self._ordered) else msgspec.UNSET
        if version not in MODERN_VERSIONS:
            return _encoder.encode(ListToolsResult(tools=tools, next_cursor=next_cursor))
        # The cache hints are the same on every page (checklist 27).
        return _encoder.encode(
            ListToolsResult(
                tools=tools,
                next_cursor=next_cursor,
                result_type="complete",
                ttl_ms=self._list_ttl_ms,
                cache_scope="public",
                meta=ResultMeta(server_info=self.server_info),
            )
        )
