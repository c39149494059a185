"""The tools this front serves, as the front needs them: listing pages per protocol version
(``server/list_pages.py``: built once, then served from memory) and a fast argument check per
tool; it also holds the app's resource and prompt catalogs and its identity.

The front validates arguments before anything is queued (DESIGN.md section 5), with the
same msgspec Struct the worker decodes them into, so what passes here also decodes there.

Turned off (ADR-0010): a tool registered ``enabled=False`` or turned off fleet-wide is left
out of the listing and unknown to :meth:`ToolCatalog.get`, so a call of it is refused as a
call of an unknown tool, before anything is queued. The same holds for the resources and
prompts catalogs. Each list's pages are rebuilt whole when what is on changes, and their
cursors are bound to what is off (``VisibleItems.view_digest``): a cursor from before a
toggle is refused, and the client lists again from the start.

Scopes (ADR-0016): a tool may require OAuth scopes. A caller with a bearer token that lacks
one of them does not see the tool (:meth:`ToolCatalog.hidden_for` names those, and
:meth:`ToolCatalog.list_result` leaves them out), its pages built once per set of hidden
tools and bound to it; once any tool requires a scope, ``tools/list`` is
``cacheScope: "private"`` (what a listing holds depends on who asks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from proto import (
    TOOLS_LIST,
    ChangeKind,
    Implementation,
    InvalidParamsError,
    ListToolsResult,
    ParamHeader,
    PromptReference,
    ResourceTemplateReference,
    ResultMeta,
    TaskSupport,
    Tool,
    ToolExecution,
    completion_key,
    structured_content_is_object,
    supports_icons,
    supports_structured_content,
    supports_tasks,
)
from server.list_pages import ListPages, ListResult, ListSettings
from server.prompt_catalog import CatalogPrompt, PromptCatalog
from server.resource_catalog import CatalogResource, ResourceCatalog
from server.visible_items import SwitchableCatalog, VisibleItems

__all__ = ["CatalogTool", "ToolCatalog"]

_EMPTY_ARGS: Final = b"{}"
_NOTHING: Final[frozenset[str]] = frozenset()
_MAX_SCOPE_VIEWS: Final = 1024
"""Sets of granted scopes whose hidden tools are remembered, and sets of hidden tools whose
pages are (each is small; past the bound the memory starts over)."""


class CatalogTool:
    """One tool: its listing entry, argument decoder, timeout and mirrored parameters.

    Args:
        listing: the ``Tool`` entry as published (most recent revision's fields).
        args_type: the Struct its arguments must decode into.
        timeout_s: how long a worker may run it.
        param_headers: its ``x-mcp-header`` annotations (``Mcp-Param-*`` on HTTP).
        legacy_output_schema: the ``outputSchema`` of revisions that require an object
            root (2025-06-18, 2025-11-25) when it differs from ``listing``'s.
        required_client: the client capabilities it cannot run without
            (``ClientCapability`` flags).
        task_support: whether it runs as a durable task (ADR-0011).
        retryable: a task run lost with its worker may be run again (an idempotent tool).
        input_before_task: at 2026-07-28, the input its task asks for as it starts is
            gathered by rounds of the creating ``tools/call`` (ADR-0011).
        enabled: the declared state: False for a tool registered turned off (ADR-0010).
        scopes: the OAuth scopes a bearer caller needs, all of them (ADR-0016).
    """

    __slots__ = (
        "_decoder",
        "_legacy_output_schema",
        "enabled",
        "input_before_task",
        "listing",
        "name",
        "param_headers",
        "required_client",
        "retryable",
        "scopes",
        "task_support",
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
        required_client: int = 0,
        task_support: TaskSupport = TaskSupport.FORBIDDEN,
        retryable: bool = False,
        input_before_task: bool = False,
        enabled: bool = True,
        scopes: tuple[str, ...] = (),
    ) -> None:
        self.name = listing.name
        self.scopes = scopes
        self.required_client = required_client
        self.task_support = task_support
        self.retryable = retryable
        self.input_before_task = input_before_task
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
        ``outputSchema`` from 2025-06-18, ``icons`` from 2025-11-25, an object-rooted
        ``outputSchema`` before 2026-07-28, and at 2025-11-25 ``execution.taskSupport`` for
        a tool that may run as a task (absent means forbidden, mcp-protocol.md 10.1)."""
        tool = self.listing
        if supports_tasks(version) and self.task_support is not TaskSupport.FORBIDDEN:
            tool = msgspec.structs.replace(
                tool, execution=ToolExecution(task_support=self.task_support.value)
            )
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


class ToolCatalog(SwitchableCatalog[CatalogTool]):
    """The app as the front serves it: its tools in registration order (a deterministic
    listing order), its resources and prompts, and its identity. Tools turned off are
    neither listed nor found (:meth:`apply_overrides`).

    Args:
        server_info: the app's identity (``serverInfo``; ``_meta`` at 2026-07-28).
        instructions: guidance for the model, sent at initialize/discover.
        tools, resources, prompts: what the app registered, in registration order.
        list_ttl_ms: the ``ttlMs`` hint on 2026-07-28 listings.
        page_size: the most entries one page of any list holds.
        completions: keys of the arguments with a completion provider.
    """

    def __init__(
        self,
        *,
        server_info: Implementation,
        instructions: str | None,
        tools: Sequence[CatalogTool],
        list_ttl_ms: int,
        page_size: int,
        resources: Sequence[CatalogResource] = (),
        prompts: Sequence[CatalogPrompt] = (),
        completions: frozenset[str] = frozenset(),
    ) -> None:
        self.server_info = server_info
        self.instructions = instructions
        settings = ListSettings(
            page_size=page_size, ttl_ms=list_ttl_ms, meta=ResultMeta(server_info=server_info)
        )
        self.resources = ResourceCatalog(resources, settings)
        """The app's resources and templates (ADR-0007)."""
        self.prompts = PromptCatalog(prompts, settings)
        """The app's prompts."""
        self.completions = completions
        """Keys (``workers.completions.completion_key``) of the arguments with a provider."""
        self._settings = settings
        self._registered = VisibleItems({tool.name: tool for tool in tools})
        self._digest = self._registered.digest(
            [tool.listing for tool in self._registered.items.values()]
        )
        self._scoped = {name: t.scopes for name, t in self._registered.items.items() if t.scopes}
        self._hidden_by_grant: dict[tuple[str, ...], frozenset[str]] = {}
        self._show()

    def _show(self) -> None:
        # Replaced whole, never mutated: a lookup is one dict access (DESIGN.md section 6),
        # and the pages (built on first use) are those of the tools on now, their cursors
        # bound to the tools off.
        visible = self._registered.visible
        self._tools = visible
        self._view_digest = self._registered.view_digest(self._digest)
        self._pages = self._pages_without(_NOTHING)
        self._pages_by_hidden: dict[frozenset[str], ListPages[CatalogTool]] = {}

    def _pages_without(self, hidden: frozenset[str]) -> ListPages[CatalogTool]:
        """The pages of the tools on now but ``hidden``, their cursors bound to both."""
        digest = self._view_digest
        if hidden:
            data = f"{digest}\nscopes:".encode() + "\n".join(sorted(hidden)).encode()
            digest = hashlib.sha256(data).hexdigest()
        return ListPages(
            TOOLS_LIST,
            [tool for name, tool in self._tools.items() if name not in hidden],
            digest=digest,
            render=_tools_page,
            settings=self._settings,
            cache_scope="private" if self._scoped else "public",
        )

    def get(self, name: str) -> CatalogTool | None:
        """The tool named ``name``, or None: not registered, or turned off."""
        return self._tools.get(name)

    def __len__(self) -> int:
        """How many tools are registered (turned off or not)."""
        return len(self._registered)

    @property
    def has_task_tools(self) -> bool:
        """Whether a registered tool may run as a durable task (ADR-0011): tasks are then
        advertised and served."""
        return any(
            tool.task_support is not TaskSupport.FORBIDDEN
            for tool in self._registered.items.values()
        )

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every scope some registered tool requires, sorted (what a 401 challenge asks for
        when ``auth.scopes_supported`` is not set)."""
        return tuple(sorted({s for scopes in self._scoped.values() for s in scopes}))

    def required_scopes(self, name: str) -> tuple[str, ...]:
        """The scopes a registered tool requires (on or off); () for any other name."""
        return self._scoped.get(name, ())

    def hidden_for(self, granted: tuple[str, ...]) -> frozenset[str]:
        """The registered tools a caller granted ``granted`` may not see nor call: those
        requiring a scope it lacks (all-of semantics). Remembered per set of scopes: a
        listing or a call pays a dict lookup."""
        if not self._scoped:
            return _NOTHING
        hidden = self._hidden_by_grant.get(granted)
        if hidden is None:
            have = set(granted)
            hidden = frozenset(
                n for n, scopes in self._scoped.items() if not have.issuperset(scopes)
            )
            if len(self._hidden_by_grant) >= _MAX_SCOPE_VIEWS:
                self._hidden_by_grant.clear()
            self._hidden_by_grant[granted] = hidden
        return hidden

    @property
    def longest_timeout_s(self) -> float:
        """The longest any call (tool, read, prompt) may run (0 without any); tools turned
        off count too (a call may have started before)."""
        tools = self._longest_registered_timeout_s()
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

    def list_result(
        self,
        version: str,
        cursor: str | UnsetType = UNSET,
        *,
        hidden: frozenset[str] = _NOTHING,
    ) -> bytes:
        """The encoded ``tools/list`` page for ``version`` that ``cursor`` names, without
        the ``hidden`` tools (:meth:`hidden_for`).

        Raises:
            InvalidParamsError: a cursor this list did not issue for the tools on now
                (foreign, forged, or from before a tool was turned on or off) and these
                hidden ones.
        """
        if not hidden:
            return self._pages.result(version, cursor)
        pages = self._pages_by_hidden.get(hidden)
        if pages is None:
            if len(self._pages_by_hidden) >= _MAX_SCOPE_VIEWS:
                self._pages_by_hidden.clear()
            pages = self._pages_by_hidden[hidden] = self._pages_without(hidden)
        return pages.result(version, cursor)


def _tools_page(
    version: str, tools: Sequence[CatalogTool], next_cursor: str | UnsetType
) -> ListResult:
    return ListToolsResult(
        tools=[tool.listing_for(version) for tool in tools], next_cursor=next_cursor
    )
