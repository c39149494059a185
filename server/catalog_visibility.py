"""The fleet's visibility overrides as one front applies them (ADR-0010): which registered
tools, prompts and resources are on.

The overrides live in Redis (``Keyspace.visibility``, one hash per list). A front reads a
list's hash whole when its change feed (``server/change_feed.py``) starts, when the change
channel announces a change of that list, and after a gap in its subscription; in between it
serves from memory (the catalogs' visible items), so the call path never pays a Redis round
trip for it (DESIGN.md section 6).

Read-your-writes on this front: a handler's toggle is applied and announced on the change
channel before the call's answer is published on the front's reply channel, and both reach
the front on its one pub/sub connection in that order. While the feed re-reads the overrides
it took from that announcement, requests wait for it (:meth:`CatalogVisibility.settled`,
bounded), so a client acting on the call's answer at once sees the new lists here. Other
fronts apply the change when their own subscription delivers it; a client that reaches one
a moment before may still see the old lists, as during a redeploy (ADR-0006).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final, Protocol

import structlog
import trio

from proto import LIST_KINDS, ChangeKind, Keyspace, decode_overrides
from server.redis_client import RedisClient
from server.tool_catalog import ToolCatalog

__all__ = ["CatalogVisibility"]

log = structlog.get_logger()

SETTLE_WAIT_S: Final = 1.0
"""The longest a request waits for overrides being re-read (they normally take one Redis
round trip; past this the request is served with the overrides it has)."""


class _Switchable(Protocol):
    def __len__(self) -> int: ...

    def apply_overrides(self, overrides: Mapping[str, bool]) -> bool: ...

    @property
    def hidden(self) -> frozenset[str]: ...


class CatalogVisibility:
    """Applies the fleet's overrides to this front's catalogs.

    Args:
        catalog: the catalogs served (tools, and their resources and prompts).
        redis: the front's Redis client.
        keys: the fleet's key schema.

    Attributes:
        refreshing: True while overrides are being re-read (requests then wait, briefly:
            :meth:`settled`); a plain attribute, read on every request.
    """

    def __init__(self, catalog: ToolCatalog, redis: RedisClient, keys: Keyspace) -> None:
        lists: dict[str, _Switchable] = {
            ChangeKind.TOOLS: catalog,
            ChangeKind.PROMPTS: catalog.prompts,
            ChangeKind.RESOURCES: catalog.resources,
        }
        # Tools always (a tool list is always served), others only when the app has some.
        self._lists = {
            kind: items for kind, items in lists.items() if kind == ChangeKind.TOOLS or len(items)
        }
        self._redis = redis
        self._keys = keys
        self._settled = trio.Event()
        self._settled.set()
        self.refreshing = False

    @property
    def kinds(self) -> frozenset[str]:
        """The lists this front applies overrides to."""
        return frozenset(self._lists)

    async def refresh(self, kinds: Collection[str] = LIST_KINDS) -> frozenset[str]:
        """Re-read the overrides of ``kinds`` (those this front serves; others are
        skipped) in one round trip and apply them.

        Returns:
            The kinds whose items on changed.

        Raises:
            BackendUnavailableError: Redis did not answer; the overrides applied before
                stay in force.
            RedisCommandError: Redis refused the read (a key of another type).

        Cancellation: nothing is applied; the overrides applied before stay in force.
        """
        wanted = [kind for kind in LIST_KINDS if kind in kinds and kind in self._lists]
        if not wanted:
            return frozenset()
        settled = self._settled = trio.Event()
        self.refreshing = True
        try:
            replies = await self._redis.execute_many(
                [("HGETALL", self._keys.visibility(kind)) for kind in wanted]
            )
            return frozenset(
                kind
                for kind, reply in zip(wanted, replies, strict=True)
                if self._apply(kind, reply)
            )
        finally:
            self.refreshing = False
            settled.set()

    async def settled(self) -> None:
        """Wait until overrides being re-read are applied (at most :data:`SETTLE_WAIT_S`).

        Cancellation: returns nothing and leaves nothing behind.
        """
        with trio.move_on_after(SETTLE_WAIT_S):
            await self._settled.wait()

    def _apply(self, kind: str, reply: object) -> bool:
        items = self._lists[kind]
        if not items.apply_overrides(decode_overrides(reply)):
            return False
        log.info("visibility.applied", kind=kind, off=sorted(items.hidden))
        return True
