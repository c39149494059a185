"""Fleet-wide changes for one front (ADR-0006): announced at start-up, watched for the
front's whole life, and handed to every local consumer that opened an inbox (listen
streams, handshake-era GET streams, the stdio connection).

The source today is the tool catalog. It is static per deployment, so the fleet's tool list
changes when fronts of another deployment come up (a rolling deploy behind a load
balancer). At start a front records the digest of its catalog at the fleet's key
(``ANNOUNCE_CATALOG``); if the digest recorded before differs, the script publishes a tools
change on the fleet's change channel, and every front passes it on to its clients.

Start-up order: the digest is recorded *before* the channel is watched, so a front does not
hear its own announcement. What it misses meanwhile cannot matter: it has no consumer before
it is ready.

Gaps: pub/sub is at-most-once. When the watch reports a gap (the subscription reconnected,
or the feed fell a whole queue behind) announcements may have been lost, so the feed hands
every kind it serves to every inbox as if it had changed. A needless list change costs a
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

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Final

import msgspec
import structlog
import trio

from proto import (
    ANNOUNCE_CATALOG,
    ChangeAnnouncement,
    Keyspace,
    decode_announcement,
    encode_announcement,
)
from server.redis_client import RedisClient
from server.redis_subscriber import RedisSubscriber

__all__ = ["MAX_PENDING_TARGETED", "ChangeFeed", "ChangeInbox", "Wants"]

log = structlog.get_logger()

MAX_PENDING_TARGETED: Final = 256
"""Targeted changes (resource updates) an inbox holds before it coalesces further ones
into one untargeted change of their kind."""

Wants = Callable[[ChangeAnnouncement], bool]
"""Whether a consumer carries a change (its filter); must not block."""


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
    """

    def __init__(
        self,
        *,
        redis: RedisClient,
        keys: Keyspace,
        subscriber: RedisSubscriber,
        catalog_digests: Mapping[str, str],
        served: frozenset[str],
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._subscriber = subscriber
        self._digests = dict(catalog_digests)
        self._served = served
        self._inboxes: set[ChangeInbox] = set()
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
        the watch is confirmed.

        Raises:
            BackendUnavailableError: Redis did not take the announcement or the watch.
            RedisCommandError: Redis refused the script.

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
            task_status.started()
            while True:
                payload = await watch.receive()
                if payload is None:
                    self._replay_served()
                else:
                    self._on_payload(payload)

    def _on_payload(self, payload: bytes) -> None:
        try:
            announcement = decode_announcement(payload)
        except msgspec.MsgspecError as exc:
            log.error("change.undecodable", error=str(exc))
            return
        log.info("change.received", kind=announcement.kind, inboxes=len(self._inboxes))
        self._fan_out(announcement)

    def _replay_served(self) -> None:
        """A gap: every served kind may have changed meanwhile, every resource too
        (untargeted; module docstring)."""
        self.gaps += 1
        log.info("change.gap", kinds=sorted(self._served), inboxes=len(self._inboxes))
        for kind in sorted(self._served):
            self._fan_out(ChangeAnnouncement(kind))

    def _fan_out(self, announcement: ChangeAnnouncement) -> None:
        for inbox in list(self._inboxes):
            inbox.deliver(announcement)
