"""The resources this front serves, as the front needs them (ADR-0007): listing bytes per
protocol version, and which registered resource answers a URI — before anything is queued,
so an unknown URI is refused here and a worker never sees it. A resource or template turned
off (ADR-0010) is neither listed nor matched: its URIs are unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from proto import (
    MODERN_VERSIONS,
    ListResourcesResult,
    ListResourceTemplatesResult,
    Resource,
    ResourceTemplate,
    ResultMeta,
    UriTemplate,
)
from server.visible_items import VisibleItems

__all__ = ["CatalogResource", "ResourceCatalog", "ResourceMatch"]

_encoder: Final = msgspec.json.Encoder()


class CatalogResource:
    """One registered resource or template.

    Args:
        uri: the URI or URI template as registered (the worker finds its handler by it).
        name, title, description, mime_type: its listing.
        args_type: the Struct its template variables decode into (leniently: ``"7"`` for
            an ``int``), the same one the worker decodes them with.
        timeout_s: how long a worker may take to read it.
        enabled: the declared state: False for one registered turned off (ADR-0010).
    """

    __slots__ = ("_decoder", "enabled", "listing", "template", "timeout_s", "uri")

    def __init__(
        self,
        uri: str,
        *,
        name: str,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        args_type: type[msgspec.Struct],
        timeout_s: float,
        enabled: bool = True,
    ) -> None:
        self.uri = uri
        self.enabled = enabled
        self.template = UriTemplate(uri)
        self.timeout_s = timeout_s
        self._decoder: msgspec.json.Decoder[msgspec.Struct] = msgspec.json.Decoder(
            args_type, strict=False
        )
        listing = Resource(
            uri=uri,
            name=name,
            title=title or msgspec.UNSET,
            description=description or msgspec.UNSET,
            mime_type=mime_type or msgspec.UNSET,
        )
        self.listing: Resource | ResourceTemplate = (
            ResourceTemplate(
                uri_template=uri,
                name=listing.name,
                title=listing.title,
                description=listing.description,
                mime_type=listing.mime_type,
            )
            if self.template.is_template
            else listing
        )

    def variables_problem(self, variables: dict[str, str]) -> str | None:
        """Why the values a URI gave do not fit the handler's parameters, or None."""
        try:
            self._decoder.decode(_encoder.encode(variables))
        except msgspec.ValidationError as exc:
            return f"Invalid URI for resource template {self.uri!r}: {exc}"
        return None


class ResourceMatch(msgspec.Struct, frozen=True):
    """The resource answering a URI, and the template variables the URI gave it."""

    resource: CatalogResource
    variables: dict[str, str]


class ResourceCatalog:
    """All registered resources in registration order: exact URIs first when matching,
    then templates in the order they were registered; those turned off are neither listed
    nor matched (:meth:`apply_overrides`)."""

    def __init__(self, resources: Sequence[CatalogResource] = (), *, list_ttl_ms: int = 0) -> None:
        self._registered = VisibleItems({r.uri: r for r in resources})
        self._list_ttl_ms = list_ttl_ms
        self._show()

    def _show(self) -> None:
        visible = self._registered.visible.values()
        self._static = {r.uri: r for r in visible if not r.template.is_template}
        self._templates = [r for r in visible if r.template.is_template]
        self._listings: dict[tuple[str, bool], bytes] = {}

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the listing entries in order (see ``ToolCatalog.digest``)."""
        registered = self._registered.items.values()
        ordered = sorted(registered, key=lambda r: r.template.is_template)  # static first
        return self._registered.digest([r.listing for r in ordered])

    def __len__(self) -> int:
        """How many resources and templates are registered (turned off or not)."""
        return len(self._registered)

    def apply_overrides(self, overrides: Mapping[str, bool]) -> bool:
        """Show the resources and templates the fleet's overrides (URI as registered →
        enabled, ADR-0010) leave on; True if that changed which are listed."""
        changed = self._registered.apply(overrides)
        if changed:
            self._show()
        return changed

    @property
    def hidden(self) -> frozenset[str]:
        """The resources and templates (as registered) turned off now."""
        return self._registered.hidden

    @property
    def longest_timeout_s(self) -> float:
        everything = self._registered.items.values()
        return max((r.timeout_s for r in everything), default=0.0)

    def match(self, uri: str) -> ResourceMatch | None:
        """The resource that answers ``uri``, or None (the caller answers "not found")."""
        static = self._static.get(uri)
        if static is not None:
            return ResourceMatch(static, {})
        for resource in self._templates:
            variables = resource.template.match(uri)
            if variables is not None:
                return ResourceMatch(resource, variables)
        return None

    def template(self, uri_template: str) -> CatalogResource | None:
        """The template registered as ``uri_template`` (completion references name it)."""
        return next((r for r in self._templates if r.uri == uri_template), None)

    def list_result(self, version: str, *, meta: ResultMeta) -> bytes:
        """The encoded ``resources/list`` result for ``version``, built on first use."""
        return self._listing(version, templates=False, meta=meta)

    def templates_result(self, version: str, *, meta: ResultMeta) -> bytes:
        """The encoded ``resources/templates/list`` result for ``version``."""
        return self._listing(version, templates=True, meta=meta)

    def _listing(self, version: str, *, templates: bool, meta: ResultMeta) -> bytes:
        cached = self._listings.get((version, templates))
        if cached is None:
            cached = self._listings[(version, templates)] = self._build(version, templates, meta)
        return cached

    def _build(self, version: str, templates: bool, meta: ResultMeta) -> bytes:
        result: ListResourcesResult | ListResourceTemplatesResult
        if templates:
            listed = [r.listing for r in self._templates]
            result = ListResourceTemplatesResult(
                resource_templates=[e for e in listed if isinstance(e, ResourceTemplate)]
            )
        else:
            listed = [r.listing for r in self._static.values()]
            result = ListResourcesResult(resources=[e for e in listed if isinstance(e, Resource)])
        if version in MODERN_VERSIONS:
            result = msgspec.structs.replace(
                result,
                result_type="complete",
                ttl_ms=self._list_ttl_ms,
                cache_scope="public",
                meta=meta,
            )
        return _encoder.encode(result)
