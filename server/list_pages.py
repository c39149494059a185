"""Paged listings (mcp-protocol.md 8.1, 9.5), one piece for the four lists the front serves:
``tools/list``, ``resources/list``, ``resources/templates/list`` and ``prompts/list``.

A page holds at most ``page_size`` entries, in registration order. Pages are built once per
protocol version and start position, then served from memory (the list path is hot). At
2026-07-28 every page of a list carries the same ``ttlMs`` and ``cacheScope`` (checklist 27)
and the server identity in ``_meta``.

One :class:`ListPages` holds the entries on now: when items are turned on or off (ADR-0010)
the catalog builds a new one for the new set and replaces the old whole, so a page is never
built from one set and served for another.

A cursor names the list it belongs to (its method), a prefix of that list's digest (the hex
SHA-256 of its entries as the latest revision lists them, bound by the catalog to the items
turned off when there are any: ``VisibleItems.view_digest``) and the position of the next
page, encoded as unpadded base64url. It stays valid on every front of the deployment
whatever their page size. A cursor of another list, of another deployment's list (the
fleet was redeployed between two pages), from before an item of the list was turned on or
off, or one we never issued is refused with -32602, and the client lists again from the
start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from typing import Final, Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from proto import (
    MODERN_VERSIONS,
    InvalidParamsError,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    ResultMeta,
)

__all__ = ["ListPages", "ListResult", "ListSettings", "PageRenderer", "listing_digest"]

_encoder: Final = msgspec.json.Encoder()
_CURSOR_DIGEST_CHARS: Final = 32
_MAX_CURSOR_CHARS: Final = 128

ListResult = ListToolsResult | ListResourcesResult | ListResourceTemplatesResult | ListPromptsResult
"""The result of any of the four list methods (they share the paging and cache fields)."""

E = TypeVar("E")

PageRenderer = Callable[[str, Sequence[E], str | UnsetType], ListResult]
"""Builds one page's result for a protocol version from its entries and the cursor of the
next page (``UNSET`` on the last); :class:`ListPages` adds the 2026-07-28 fields."""


class ListSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How every list of one front is served.

    Args:
        page_size: the most entries one page holds (``front.list_page_size``).
        ttl_ms: the ``ttlMs`` hint on 2026-07-28 pages.
        meta: the ``_meta`` (server identity) on 2026-07-28 pages.
    """

    page_size: int
    ttl_ms: int
    meta: ResultMeta


def listing_digest(listings: Sequence[msgspec.Struct]) -> str:
    """Hex SHA-256 of ``listings`` encoded in order: equal for two fronts exactly when they
    list the same entries (ADR-0006 announces list changes with it)."""
    return hashlib.sha256(_encoder.encode(listings)).hexdigest()


class ListPages(Generic[E]):
    """The pages of one list.

    Args:
        method: the list method (``tools/list``, ...); its cursors name it, so a cursor of
            one list never opens a page of another.
        entries: the list (the items on now), in listing order.
        digest: the list's :func:`listing_digest`, bound to the items off when any are;
            its cursors carry a prefix of it.
        render: one page's result (see :data:`PageRenderer`).
        settings: page size and 2026-07-28 hints.
        cache_scope: the 2026-07-28 ``cacheScope``: ``"private"`` for a list that depends on
            who asks (tools some callers may not see, ADR-0016).
    """

    __slots__ = ("_cache_scope", "_entries", "_method", "_pages", "_render", "_settings", "_tag")

    def __init__(
        self,
        method: str,
        entries: Sequence[E],
        *,
        digest: str,
        render: PageRenderer[E],
        settings: ListSettings,
        cache_scope: Literal["public", "private"] = "public",
    ) -> None:
        self._cache_scope: Literal["public", "private"] = cache_scope
        self._method = method
        self._entries = tuple(entries)
        self._tag = f"{method}:{digest[:_CURSOR_DIGEST_CHARS]}:".encode()
        self._render = render
        self._settings = settings
        self._pages: dict[tuple[str, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def result(self, version: str, cursor: str | UnsetType = UNSET) -> bytes:
        """The encoded page for ``version`` that ``cursor`` names (the first without one).

        Raises:
            InvalidParamsError: a cursor this list did not issue (foreign, stale or forged).
        """
        if isinstance(cursor, UnsetType):
            return self.page(version)
        start = self.page_start(cursor)
        if start is None:
            # Another deployment's cursor looks the same as a forged one: either way the
            # client starts over (docs/tool-authoring.md, "Listing").
            raise InvalidParamsError(
                f"Invalid cursor: not from this server's current {self._method} result; "
                "list again without a cursor"
            )
        return self.page(version, start)

    def page_start(self, cursor: str) -> int | None:
        """Where the page ``cursor`` names starts, or None for a cursor this list did not
        issue (invalid, of another list or deployment, or past the end)."""
        if len(cursor) > _MAX_CURSOR_CHARS:
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, binascii.Error):
            return None
        if not raw.startswith(self._tag):
            return None
        position = raw[len(self._tag) :]
        if not position.isdigit():
            return None
        start = int(position)
        return start if 0 < start < len(self._entries) else None

    def page(self, version: str, start: int = 0) -> bytes:
        """The encoded page for ``version`` starting at entry ``start`` (0 or a
        :meth:`page_start`), built on first use."""
        key = (version, start)
        cached = self._pages.get(key)
        if cached is None:
            cached = self._pages[key] = self._build(version, start)
        return cached

    def cursor(self, start: int) -> str:
        """The cursor of the page starting at entry ``start``."""
        return base64.urlsafe_b64encode(self._tag + str(start).encode()).rstrip(b"=").decode()

    def _build(self, version: str, start: int) -> bytes:
        settings = self._settings
        end = start + settings.page_size
        next_cursor = self.cursor(end) if end < len(self._entries) else UNSET
        result = self._render(version, self._entries[start:end], next_cursor)
        if version in MODERN_VERSIONS:
            result = msgspec.structs.replace(
                result,
                result_type="complete",
                ttl_ms=settings.ttl_ms,
                cache_scope=self._cache_scope,
                meta=settings.meta,
            )
        return _encoder.encode(result)
