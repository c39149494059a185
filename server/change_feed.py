"""Fleet-wide changes for one front (ADR-0006): announced at start-up, watched for the
front's whole life, and handed to every local consumer that opened an inbox (listen
streams, handshake-era GET streams, the stdio connection).

Lists change in two ways. The registry is static per deployment, so the fleet's lists
change when fronts of another deployment come up (a rolling deploy behind a load balancer):
at start a front records the digest of each of its lists at the fleet's key
(``ANNOUNCE_CATALOG``); if the digest recorded before differs, the script publishes a change
of that kind on the fleet's change channel, and every front passes it on to its clients.
And registered items are turned on and off at runtime (ADR-0010): ``SET_VISIBILITY`` stores
the fleet's overrides and announces the change the same way. Before passing on a list
change, the feed re-reads that list's overrides (``server/catalog_visibility.py``), so a
client that refetches on hearing it gets the new list from this front. If Redis does not
answer that read, the change is passed on anyway and the read is retried with backoff;
should the retry change the lists, that change is passed on too.

Start-up order: the digest is recorded *before* the channel is watched, so a front does not
hear its own announcement. What it misses meanwhile cannot matter: it has no consumer before
it is ready. The overrides are read once the watch is confirmed, so a toggle made meanwhile
is either read then or heard afterwards.

Gaps: pub/sub is at-most-once. When the watch reports a gap (the subscription reconnected,
or the feed fell a whole queue behind) announcements may have been lost, so the feed hands
every kind it serves to every inbox as if it had changed, after re-reading every list's
overrides. A needless list change costs a
client one refetch of a list it caches; a missed one leaves it serving a stale list until it
reconnects. Gaps are rare (a Redis restart, a network cut), and a spurious change is
indistinguishable from a real redeploy for the client, which handles both alike.

Resource updates (``ChangeKind.RESOURCE``, announced by handlers with
``ctx.resource_updated``) carry their URI as target. A gap may have lost some of them too;
inventing a URI is impossible, so the replay includes one untargeted resource update,
"any resource may have changed", which each consumer turns into an update of every URI its
client subscribes to (``proto/subscriptions.py``): a spurious update costs a client one
re-read, like a spurious list change.

Inboxes coalesce: a change already pending is not queued again (list changes are level
triggers: "refetch if you care"), and an inbox only takes what its consumer wants, so its
memory is bounded by its filter however fast changes come and however slowly its client
reads. Targeted changes (one per URI) are bounded too: past :data:`MAX_PENDING_TARGETED`
pending ones, a new one is queued untargeted (any target may have changed), which stands
for all of them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Final

import msgspec
import structlog
import trio

from proto import (
    ANNOUNCE_CATALOG,
    BackendUnavailableError,
    ChangeAnnouncement,
    Keyspace,
    RedisCommandError,
    decode_announcement,
    encode_announcement,
)
from server.catalog_visibility import CatalogVisibility
from server.redis_client import RedisClient
from server.redis_subscriber import ChannelWatch, RedisSubscriber

__all__ = ["MAX_PENDING_TARGETED", "ChangeFeed", "ChangeInbox", "Wants"]

log = structlog.get_logger()

MAX_PENDING_TARGETED: Final = 256
"""Targeted changes (resource updates) an inbox holds before it coalesces further ones
into one untargeted change of their kind."""

Wants = Callable[[ChangeAnnouncement], bool]
"""Whether a consumer carries a change (its filter); must not block."""

_RETRY_FIRST_S: Final = 0.5
_RETRY_MAX_S: Final = 8.0
"""Backoff of re-reading overrides Redis did not answer."""


class _Retry(enum.Enum):
    """What :meth:`ChangeFeed._receive` returns when a retry of the overrides' read is due."""

    DUE = enum.auto()


class ChangeInbox:
    """The changes pending for one consumer, each at most once, in arrival order."""

    __slots__ = ("_arrived", "_pending", "_targeted", "_wants")

    def __init__(self, wants: Wants) -> None:
        self._wants = wants
        self._pending: dict[ChangeAnnouncement, None] = {}  # an ordered set
        self._targeted = 0
        self._arrived = trio.Event()

    def deliver(self, announcement: ChangeAnnouncement) -> None:
        """Queue a change the consumer wants (a pending duplicate is dropped; past the
        bound, a targeted change is queued untargeted)."""
        if not self._wants(announcement) or announcement in self._pending:
            return
        if announcement.target is not None:
            if self._targeted >= MAX_PENDING_TARGETED:
                announcement = ChangeAnnouncement(announcement.kind)
                if announcement in self._pending:
                    return
            else:
                self._targeted += 1
        self._pending[announcement] = None
        self._arrived.set()

    async def receive(self) -> ChangeAnnouncement:
        """The next pending change, waiting for one.

        Cancellation: nothing is lost; a pending change stays pending.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while not self._pending:
            self._arrived = trio.Event()
            await self._arrived.wait()
        return self._pop()

    def receive_nowait(self) -> ChangeAnnouncement | None:
        """The next pending change, or None (to flush before a stream ends)."""
        return self._pop() if self._pending else None

    def _pop(self) -> ChangeAnnouncement:
        announcement = next(iter(self._pending))
        del self._pending[announcement]
        if announcement.target is not None:
            self._targeted -= 1
        return announcement


class ChangeFeed:
    """A front's view of the fleet's change channel (module docstring).

    Args:
        redis: the front's Redis client (the start-up announcement).
        keys: the fleet's key schema.
        subscriber: the front's pub/sub connection (the channel is watched on it).
        catalog_digests: the digest of each list this front serves, by change kind.
        served: the change kinds this front's consumers can carry; a gap replays these.
        visibility: applies the fleet's overrides to this front's catalogs (ADR-0010).
    """

    def __init__(
        self,
        *,
        redis: RedisClient,
        keys: Keyspace,
        subscriber: RedisSubscriber,
        catalog_digests: Mapping[str, str],
        served: frozenset[str],
        visibility: CatalogVisibility,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._subscriber = subscriber
        self._digests = dict(catalog_digests)
        self._served = served
        self._visibility = visibility
        self._inboxes: set[ChangeInbox] = set()
        self._stale: set[str] = set()
        self._retry_s = _RETRY_FIRST_S
        self.gaps = 0

    def is_served(self, announcement: ChangeAnnouncement) -> bool:
        """Whether this front tells clients about changes of this kind (a ``Wants`` for
        consumers that carry every served kind: GET streams, stdio connections)."""
        return announcement.kind in self._served

    @property
    def open_inboxes(self) -> int:
        """Consumers currently taking changes."""
        return len(self._inboxes)

    @contextmanager
    def inbox(self, wants: Wants) -> Iterator[ChangeInbox]:
        """Take the changes ``wants`` accepts for the duration of the block; every change
        announced after entering is delivered."""
        inbox = ChangeInbox(wants)
        self._inboxes.add(inbox)
        try:
            yield inbox
        finally:
            self._inboxes.discard(inbox)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Announce this front's catalog, then watch the channel until cancelled; ready once
        the watch is confirmed and the fleet's overrides are applied.

        Raises:
            BackendUnavailableError: Redis did not take the announcement or the watch, or
                did not give the overrides at start.
            RedisCommandError: Redis refused the script or the overrides' read.

        Cancellation: the watch is dropped; nothing is left behind in Redis.
        """
        channel = self._keys.change_channel()
        for kind, digest in self._digests.items():
            announced = await self._redis.run_script(
                ANNOUNCE_CATALOG,
                [self._keys.catalog_digest(kind)],
                [digest, channel, encode_announcement(ChangeAnnouncement(kind))],
            )
            log.info("catalog.recorded", kind=kind, digest=digest[:16], announced=announced == 1)
        async with self._subscriber.watch(channel) as watch:
            await self._visibility.refresh()
            task_status.started()
            while True:
                payload = await self._receive(watch)
                if payload is _Retry.DUE:
                    await self._retry_stale()
                elif payload is None:
                    await self._replay_served()
                else:
                    await self._on_payload(payload)

    async def _receive(self, watch: ChannelWatch) -> bytes | _Retry | None:
        """The next payload (None after a gap), or ``_Retry.DUE`` when overrides Redis did
        not give are due to be read again."""
        if not self._stale:
            return await watch.receive()
        with trio.move_on_after(self._retry_s):
            return await watch.receive()
        return _Retry.DUE

    async def _on_payload(self, payload: bytes) -> None:
        try:
            announcement = decode_announcement(payload)
        except msgspec.MsgspecError as exc:
            log.error("change.undecodable", error=str(exc))
            return
        log.info("change.received", kind=announcement.kind, inboxes=len(self._inboxes))
        if announcement.kind in self._visibility.kinds:
            await self._refresh({announcement.kind})
        self._fan_out(announcement)

    async def _replay_served(self) -> None:
        """A gap: every served kind may have changed meanwhile, every resource too
        (untargeted; module docstring)."""
        self.gaps += 1
        log.info("change.gap", kinds=sorted(self._served), inboxes=len(self._inboxes))
        await self._refresh(self._visibility.kinds)
        for kind in sorted(self._served):
            self._fan_out(ChangeAnnouncement(kind))

    async def _retry_stale(self) -> None:
        """Read overrides Redis did not give before; pass on the lists that changed."""
        for kind in sorted(await self._refresh(set(self._stale))):
            if kind in self._served:
                self._fan_out(ChangeAnnouncement(kind))

    async def _refresh(self, kinds: Collection[str]) -> frozenset[str]:
        """Re-read the overrides of ``kinds``; on failure, keep those in force and retry
        later (module docstring). Returns the kinds whose lists changed."""
        try:
            changed = await self._visibility.refresh(kinds)
        except (BackendUnavailableError, RedisCommandError) as exc:
            self._stale.update(kinds)
            log.warning("visibility.refresh_failed", error=str(exc), retry_in_s=self._retry_s)
            self._retry_s = min(self._retry_s * 2, _RETRY_MAX_S)
            return frozenset()
        self._stale.difference_update(kinds)
        if not self._stale:
            self._retry_s = _RETRY_FIRST_S
        return changed

    def _fan_out(self, announcement: ChangeAnnouncement) -> None:
        for inbox in list(self._inboxes):
            inbox.deliver(announcement)
