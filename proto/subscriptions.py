"""``subscriptions/listen`` (2026-07-28) and the fleet's change announcements, sans-IO
(mcp-protocol.md 5.7, 7.6, 8.4; checklist 32, 46).

Two layers:

- **On the wire to clients**: :class:`ListenParams` (the request's opt-in filter) and
  :class:`Subscription`, which owns one listen stream's messages: the acknowledgement that
  must come first, each change notification tagged with the subscription id (the listen
  request's id, same JSON type), and the ``resultType: "complete"`` response plus the
  ``notifications/cancelled`` that end it when the server tears it down. Only kinds the
  client asked for *and* the server serves are acknowledged and sent.
- **Between fronts**: a :class:`ChangeAnnouncement` on the fleet's change channel says
  "this changed" (a kind, and for later kinds a target such as a resource URI or a task
  id). Array-like and appended-to only (STYLE: schema evolution), and ``kind`` is a plain
  string, so a front of an older version decodes an announcement of a kind it does not
  know and ignores it: new kinds need no wire change.

Every change is a level trigger ("refetch if you care"), so announcements are idempotent:
sending one twice costs a client one refetch, which is why a front that may have missed
some sends them again rather than risk missing one (``server/change_feed.py``).

Resource updates (``ChangeKind.RESOURCE``) name their resource in ``target``. An untargeted
one means "any resource may have changed" (a front that may have missed announcements): it
is never sent as it is, but as ``notifications/resources/updated`` for each URI the
consumer subscribes to, so a client never receives an update without a URI and never one
for a resource it did not subscribe to.

The tasks extension's ``taskIds`` filter is not part of the core ``SubscriptionFilter``
and this server does not serve the extension: a request carrying it is served (the field
is ignored like any unknown one) and the acknowledgement leaves it out, which tells the
client it will not be honoured. (A server serving the extension answers -32021 to
``taskIds`` without the extension declared, mcp-protocol.md 10.2; declaring it would not
make us honour it, so that error would mislead.)
"""

from __future__ import annotations

import enum
from typing import Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from proto.jsonrpc import RequestId, encode_notification
from proto.lifecycle import CancelledParams, Implementation
from proto.mcp_struct import McpStruct
from proto.methods import (
    NOTIFICATION_CANCELLED,
    NOTIFICATION_PROMPTS_LIST_CHANGED,
    NOTIFICATION_RESOURCES_LIST_CHANGED,
    NOTIFICATION_RESOURCES_UPDATED,
    NOTIFICATION_SUBSCRIPTIONS_ACKNOWLEDGED,
    NOTIFICATION_TOOLS_LIST_CHANGED,
)

__all__ = [
    "SUBSCRIPTION_ID_KEY",
    "TOOLS_CHANGED",
    "ChangeAnnouncement",
    "ChangeKind",
    "ListenParams",
    "Subscription",
    "SubscriptionFilter",
    "decode_announcement",
    "encode_announcement",
    "handshake_change_notification",
    "resource_updated_notification",
]

SUBSCRIPTION_ID_KEY: Final = "io.modelcontextprotocol/subscriptionId"
"""The ``_meta`` key tagging every listen-stream frame with its subscription."""


class ChangeKind(enum.StrEnum):
    """What an announcement says changed. Later kinds (a task with its id as target) are
    new members; receivers ignore kinds they do not know."""

    TOOLS = "tools"
    """The tool list changed (a deployment with another catalog came up, or a tool was
    turned on or off, ADR-0010)."""
    RESOURCES = "resources"
    """The resource list (resources or templates) changed."""
    PROMPTS = "prompts"
    """The prompt list changed."""
    RESOURCE = "resource"
    """The contents of the resource whose URI is the target changed (a handler's
    ``ctx.resource_updated``); without a target, any resource may have changed (a gap)."""


class ChangeAnnouncement(msgspec.Struct, frozen=True, array_like=True):
    """One change, as published on the fleet's change channel: ``["tools",null]``.

    ``kind`` stays a plain string (not :class:`ChangeKind`) so an unknown kind decodes;
    ``target`` is for kinds about one thing (a resource URI, a task id). Fields are only
    ever appended: a decoder fills missing trailing ones with defaults and ignores extra.
    """

    kind: str
    target: str | None = None


TOOLS_CHANGED: Final = ChangeAnnouncement(ChangeKind.TOOLS)
"""The tool list changed."""

_encoder: Final = msgspec.json.Encoder()
_announcement_decoder: Final = msgspec.json.Decoder(ChangeAnnouncement)


def encode_announcement(announcement: ChangeAnnouncement) -> bytes:
    """The channel payload of an announcement."""
    return _encoder.encode(announcement)


def decode_announcement(payload: bytes) -> ChangeAnnouncement:
    """Decode a change channel message.

    Raises:
        msgspec.MsgspecError: not an announcement.
    """
    try:
        return _announcement_decoder.decode(payload)
    except UnicodeDecodeError:
        raise msgspec.DecodeError("invalid UTF-8 in a change announcement") from None


class SubscriptionFilter(McpStruct, frozen=True):
    """The kinds a listen stream opts in to (all optional; absent = not wanted). Also the
    acknowledgement's ``notifications``: the subset the server will honour."""

    tools_list_changed: bool | UnsetType = UNSET
    prompts_list_changed: bool | UnsetType = UNSET
    resources_list_changed: bool | UnsetType = UNSET
    resource_subscriptions: tuple[str, ...] | UnsetType = UNSET


class ListenParams(McpStruct, frozen=True):
    """``subscriptions/listen`` params beyond the envelope: the filter is required
    (2026-07-28 schema), each of its kinds opt-in."""

    notifications: SubscriptionFilter


class _SubscriptionMeta(msgspec.Struct, frozen=True):
    subscription_id: RequestId = msgspec.field(name=SUBSCRIPTION_ID_KEY)


class _AcknowledgedParams(McpStruct, frozen=True):
    meta: _SubscriptionMeta = msgspec.field(name="_meta")
    notifications: SubscriptionFilter


class _TaggedParams(McpStruct, frozen=True):
    meta: _SubscriptionMeta = msgspec.field(name="_meta")


class _TaggedUpdateParams(McpStruct, frozen=True):
    uri: str
    meta: _SubscriptionMeta = msgspec.field(name="_meta")


class _UpdateParams(McpStruct, frozen=True):
    uri: str


class _ListenResultMeta(msgspec.Struct, frozen=True):
    server_info: Implementation = msgspec.field(name="io.modelcontextprotocol/serverInfo")
    subscription_id: RequestId = msgspec.field(name=SUBSCRIPTION_ID_KEY)


class _ListenResult(McpStruct, frozen=True):
    # No default on result_type: omit_defaults would drop it.
    result_type: Literal["complete"]
    meta: _ListenResultMeta = msgspec.field(name="_meta")


_LIST_CHANGED_METHODS: Final[dict[str, str]] = {
    ChangeKind.TOOLS: NOTIFICATION_TOOLS_LIST_CHANGED,
    ChangeKind.RESOURCES: NOTIFICATION_RESOURCES_LIST_CHANGED,
    ChangeKind.PROMPTS: NOTIFICATION_PROMPTS_LIST_CHANGED,
}
"""The notification of each list kind, in both eras."""

_TEARDOWN_REASON: Final = "The server ended the subscription"


class Subscription:
    """One listen stream's protocol side: what it honours and every frame it sends.

    Args:
        subscription_id: the listen request's id (kept with its JSON type).
        requested: the client's filter.
        served: the kinds this server can deliver.
        server_info: stamped on the final result's ``_meta`` (mcp-protocol.md 7.3).
    """

    __slots__ = ("_meta", "_server_info", "_uris", "honoured", "id")

    def __init__(
        self,
        subscription_id: RequestId,
        requested: SubscriptionFilter,
        *,
        served: frozenset[str],
        server_info: Implementation,
    ) -> None:
        self.id = subscription_id
        self.honoured = _honoured(requested, served)
        uris = self.honoured.resource_subscriptions
        self._uris = frozenset(() if isinstance(uris, UnsetType) else uris)
        self._meta = _SubscriptionMeta(subscription_id)
        self._server_info = server_info

    def honours(self, announcement: ChangeAnnouncement) -> bool:
        """Whether the stream carries this change (never a kind not requested, never an
        update of a resource it does not subscribe to)."""
        honoured = self.honoured
        if announcement.kind == ChangeKind.TOOLS:
            return honoured.tools_list_changed is True
        if announcement.kind == ChangeKind.RESOURCE:
            target = announcement.target
            return bool(self._uris) if target is None else target in self._uris
        if announcement.kind == ChangeKind.RESOURCES:
            return honoured.resources_list_changed is True
        if announcement.kind == ChangeKind.PROMPTS:
            return honoured.prompts_list_changed is True
        return False

    def acknowledgement(self) -> bytes:
        """``notifications/subscriptions/acknowledged``: the stream's first frame."""
        params = _AcknowledgedParams(meta=self._meta, notifications=self.honoured)
        return encode_notification(NOTIFICATION_SUBSCRIPTIONS_ACKNOWLEDGED, _encoder.encode(params))

    def notification(self, announcement: ChangeAnnouncement) -> bytes | None:
        """The tagged notification for a change, or None when the stream does not carry it
        or it takes several frames (an untargeted resource update: :meth:`notifications`)."""
        if not self.honours(announcement):
            return None
        if announcement.kind == ChangeKind.RESOURCE:
            if announcement.target is None:
                return None
            return self._updated(announcement.target)
        params = _encoder.encode(_TaggedParams(meta=self._meta))
        return encode_notification(_LIST_CHANGED_METHODS[announcement.kind], params)

    def notifications(self, announcement: ChangeAnnouncement) -> list[bytes]:
        """Every tagged frame a change takes on this stream: none, one, or for an
        untargeted resource update one per subscribed URI (module docstring)."""
        if announcement.kind == ChangeKind.RESOURCE and announcement.target is None:
            return [self._updated(uri) for uri in sorted(self._uris)]
        frame = self.notification(announcement)
        return [] if frame is None else [frame]

    def _updated(self, uri: str) -> bytes:
        params = _TaggedUpdateParams(uri=uri, meta=self._meta)
        return encode_notification(NOTIFICATION_RESOURCES_UPDATED, _encoder.encode(params))

    def completion(self) -> bytes:
        """The listen request's ``result``, sent only when the server ends the stream."""
        meta = _ListenResultMeta(server_info=self._server_info, subscription_id=self.id)
        return _encoder.encode(_ListenResult(result_type="complete", meta=meta))

    def cancellation(self) -> bytes:
        """``notifications/cancelled`` naming the listen request: on stdio the server also
        sends it when it ends the stream (mcp-protocol.md 14, open question 11)."""
        params = CancelledParams(request_id=self.id, reason=_TEARDOWN_REASON)
        return encode_notification(NOTIFICATION_CANCELLED, _encoder.encode(params))


def _honoured(requested: SubscriptionFilter, served: frozenset[str]) -> SubscriptionFilter:
    """The requested kinds the server serves; unserved ones are left out (7.6)."""

    def wanted(flag: bool | UnsetType, kind: str) -> Literal[True] | UnsetType:
        return True if flag is True and kind in served else UNSET

    uris = requested.resource_subscriptions
    return SubscriptionFilter(
        tools_list_changed=wanted(requested.tools_list_changed, ChangeKind.TOOLS),
        prompts_list_changed=wanted(requested.prompts_list_changed, ChangeKind.PROMPTS),
        resources_list_changed=wanted(requested.resources_list_changed, ChangeKind.RESOURCES),
        resource_subscriptions=(
            tuple(dict.fromkeys(uris))  # each once, in the client's order
            if not isinstance(uris, UnsetType) and uris and ChangeKind.RESOURCE in served
            else UNSET
        ),
    )


def handshake_change_notification(announcement: ChangeAnnouncement) -> bytes | None:
    """The handshake-era notification for a list change (no params, no subscription id: it
    goes on the session's GET stream or a stdio connection), or None for other kinds
    (mcp-protocol.md 8.4); resource updates depend on the session's subscriptions
    (:func:`resource_updated_notification`)."""
    method = _LIST_CHANGED_METHODS.get(announcement.kind)
    return None if method is None else encode_notification(method)


def resource_updated_notification(uri: str) -> bytes:
    """The handshake-era ``notifications/resources/updated`` for a subscribed ``uri``."""
    return encode_notification(NOTIFICATION_RESOURCES_UPDATED, _encoder.encode(_UpdateParams(uri)))
