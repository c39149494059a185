"""The resources this front serves, as the front needs them (ADR-0007): the pages of
``resources/list`` and ``resources/templates/list`` per protocol version (two lists, each
paged on its own: ``server/list_pages.py``), and which registered resource answers a URI —
before anything is queued, so an unknown URI is refused here and a worker never sees it. A
resource or template turned off (ADR-0010) is neither listed nor matched: its URIs are
unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from proto import (
    RESOURCES_LIST,
    RESOURCES_TEMPLATES_LIST,
    Annotations,
    ListResourcesResult,
    ListResourceTemplatesResult,
    Resource,
    ResourceTemplate,
    UriTemplate,
    annotations_for_version,
    supports_icons,
    supports_titles,
)
from server.list_pages import ListPages, ListResult, ListSettings, listing_digest
from server.visible_items import SwitchableCatalog, VisibleItems

__all__ = ["CatalogResource", "ResourceCatalog", "ResourceMatch"]

_encoder: Final = msgspec.json.Encoder()


class CatalogResource:
    """One registered resource or template.

    Args:
        uri: the URI or URI template as registered (the worker finds its handler by it).
        name, title, description, mime_type, annotations: its listing (the latest
            revision's fields; :meth:`listing_for` shapes it for older ones).
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
        annotations: Annotations | UnsetType = UNSET,
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
            annotations=annotations,
        )
        self.listing: Resource | ResourceTemplate = (
            ResourceTemplate(
                uri_template=uri,
                name=listing.name,
                title=listing.title,
                description=listing.description,
                mime_type=listing.mime_type,
                annotations=listing.annotations,
            )
            if self.template.is_template
            else listing
        )

    def listing_for(self, version: str) -> Resource | ResourceTemplate:
        """The entry with only the fields ``version`` defines (checklist 45): ``title`` and
        ``annotations.lastModified`` from 2025-06-18, ``icons`` from 2025-11-25."""
        listing = self.listing
        annotations = annotations_for_version(listing.annotations, version)
        if annotations is not listing.annotations:
            listing = msgspec.structs.replace(listing, annotations=annotations)
        if not supports_titles(version) and not isinstance(listing.title, UnsetType):
            listing = msgspec.structs.replace(listing, title=UNSET)
        if not supports_icons(version) and not isinstance(listing.icons, UnsetType):
            listing = msgspec.structs.replace(listing, icons=UNSET)
        return listing

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


class ResourceCatalog(SwitchableCatalog[CatalogResource]):
    """All registered resources in registration order: exact URIs first when matching,
    then templates in the order they were registered; those turned off are neither listed
    nor matched (:meth:`apply_overrides`).

    Args:
        resources: static resources and templates, in registration order.
        settings: how both lists are paged and hinted.
    """

    def __init__(self, resources: Sequence[CatalogResource], settings: ListSettings) -> None:
        self._registered = VisibleItems({r.uri: r for r in resources})
        registered = self._registered.items.values()
        static = [r for r in registered if not r.template.is_template]
        templates = [r for r in registered if r.template.is_template]
        self._static_uris = frozenset(r.uri for r in static)
        self._template_uris = frozenset(r.uri for r in templates)
        self._digest = self._registered.digest([e.listing for e in [*static, *templates]])
        self._static_digest = listing_digest([e.listing for e in static])
        self._templates_digest = listing_digest([e.listing for e in templates])
        self._settings = settings
        self._show()

    def _show(self) -> None:
        # Replaced whole, never mutated (see ToolCatalog): the lookups and the pages of the
        # resources and templates on now, each list's cursors bound to its items off.
        visible = self._registered.visible.values()
        self._static = {r.uri: r for r in visible if not r.template.is_template}
        self._templates = [r for r in visible if r.template.is_template]
        view_digest = self._registered.view_digest
        self._resource_pages = ListPages(
            RESOURCES_LIST,
            list(self._static.values()),
            digest=view_digest(self._static_digest, self._static_uris),
            render=_resources_page,
            settings=self._settings,
        )
        self._template_pages = ListPages(
            RESOURCES_TEMPLATES_LIST,
            self._templates,
            digest=view_digest(self._templates_digest, self._template_uris),
            render=_templates_page,
            settings=self._settings,
        )

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the listing entries in order, resources then templates, and of
        those registered turned off when there are any: one list change kind for both
        (see ``ToolCatalog.digest``)."""
        return self._digest

    def __len__(self) -> int:
        """How many resources and templates are registered (turned off or not)."""
        return len(self._registered)

    @property
    def longest_timeout_s(self) -> float:
        return self._longest_registered_timeout_s()

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

    def list_result(self, version: str, cursor: str | UnsetType = UNSET) -> bytes:
        """The encoded ``resources/list`` page for ``version`` that ``cursor`` names.

        Raises:
            InvalidParamsError: a cursor this list did not issue for the resources on now
                (foreign, forged, or from before a resource was turned on or off).
        """
        return self._resource_pages.result(version, cursor)

    def templates_result(self, version: str, cursor: str | UnsetType = UNSET) -> bytes:
        """The encoded ``resources/templates/list`` page for ``version`` that ``cursor``
        names (a cursor of ``resources/list`` is refused here, and the other way round).

        Raises:
            InvalidParamsError: a cursor this list did not issue for the templates on now
                (foreign, forged, or from before a template was turned on or off).
        """
        return self._template_pages.result(version, cursor)


def _resources_page(
    version: str, entries: Sequence[CatalogResource], next_cursor: str | UnsetType
) -> ListResult:
    listed = [e.listing_for(version) for e in entries]
    return ListResourcesResult(
        resources=[e for e in listed if isinstance(e, Resource)], next_cursor=next_cursor
    )


def _templates_page(
    version: str, entries: Sequence[CatalogResource], next_cursor: str | UnsetType
) -> ListResult:
    listed = [e.listing_for(version) for e in entries]
    return ListResourceTemplatesResult(
        resource_templates=[e for e in listed if isinstance(e, ResourceTemplate)],
        next_cursor=next_cursor,
    )
