"""subscriptions/listen messages and the fleet's change announcements: what is
acknowledged, how every frame is tagged, and the exact bytes of each."""

from __future__ import annotations

import json

import msgspec
import pytest

from proto import (
    SUBSCRIPTION_ID_KEY,
    TOOLS_CHANGED,
    ChangeAnnouncement,
    ChangeKind,
    Implementation,
    InvalidParamsError,
    ListenParams,
    Subscription,
    SubscriptionFilter,
    decode_announcement,
    decode_params,
    encode_announcement,
    handshake_change_notification,
    resource_updated_notification,
)

SERVER = Implementation(name="srv", version="1.2")
SERVED = frozenset({ChangeKind.TOOLS})
_listen_params = msgspec.json.Decoder(ListenParams)


def listen(rid: int | str, notifications: dict[str, object]) -> Subscription:
    raw = msgspec.Raw(json.dumps({"notifications": notifications, "_meta": {}}).encode())
    params = decode_params(raw, _listen_params)
    return Subscription(rid, params.notifications, served=SERVED, server_info=SERVER)


# --- what is acknowledged ----------------------------------------------------------------


def test_the_acknowledgement_names_the_subscription_and_the_honoured_kinds() -> None:
    sub = listen(7, {"toolsListChanged": True})
    assert json.loads(sub.acknowledgement()) == {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {SUBSCRIPTION_ID_KEY: 7}, "notifications": {"toolsListChanged": True}},
    }


@pytest.mark.parametrize("rid", [0, 7, "7", "listen-1", ""])
def test_the_subscription_id_keeps_the_request_ids_json_type(rid: int | str) -> None:
    sub = listen(rid, {"toolsListChanged": True})
    frames = [sub.acknowledgement(), sub.notification(TOOLS_CHANGED)]
    for frame in frames:
        assert frame is not None
        tagged = json.loads(frame)["params"]["_meta"][SUBSCRIPTION_ID_KEY]
        assert tagged == rid and type(tagged) is type(rid)
    meta = json.loads(sub.completion())["_meta"]
    assert meta[SUBSCRIPTION_ID_KEY] == rid and type(meta[SUBSCRIPTION_ID_KEY]) is type(rid)


def test_kinds_the_server_does_not_serve_are_left_out_of_the_acknowledgement() -> None:
    sub = listen(
        1,
        {
            "toolsListChanged": True,
            "promptsListChanged": True,
            "resourcesListChanged": True,
            "resourceSubscriptions": ["file:///a"],
            "taskIds": ["t1"],  # the tasks extension, not served: ignored, not acknowledged
        },
    )
    assert json.loads(sub.acknowledgement())["params"]["notifications"] == {
        "toolsListChanged": True
    }


@pytest.mark.parametrize(
    "notifications", [{}, {"toolsListChanged": False}, {"promptsListChanged": True}]
)
def test_a_stream_without_tools_gets_an_empty_acknowledgement_and_no_tools_frames(
    notifications: dict[str, object],
) -> None:
    sub = listen(1, notifications)
    assert json.loads(sub.acknowledgement())["params"]["notifications"] == {}
    assert not sub.honours(TOOLS_CHANGED)
    assert sub.notification(TOOLS_CHANGED) is None


def test_a_server_serving_nothing_honours_nothing() -> None:
    requested = SubscriptionFilter(tools_list_changed=True)
    sub = Subscription(1, requested, served=frozenset(), server_info=SERVER)
    assert sub.honoured == SubscriptionFilter()
    assert sub.notification(TOOLS_CHANGED) is None


def test_unknown_kinds_are_never_sent() -> None:
    sub = listen(1, {"toolsListChanged": True, "resourceSubscriptions": ["file:///a"]})
    assert sub.notification(ChangeAnnouncement("resource", "file:///a")) is None
    assert sub.notification(ChangeAnnouncement("some-future-kind")) is None


# --- params ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        b"{}",  # notifications is required
        b'{"notifications": true}',
        b'{"notifications": {"toolsListChanged": "yes"}}',
        b'{"notifications": {"resourceSubscriptions": "file:///a"}}',
    ],
)
def test_malformed_listen_params_are_invalid_params(params: bytes) -> None:
    with pytest.raises(InvalidParamsError):
        decode_params(msgspec.Raw(params), _listen_params)


# --- frames --------------------------------------------------------------------------------


def test_a_tools_change_is_tagged_with_the_subscription() -> None:
    frame = listen("s", {"toolsListChanged": True}).notification(TOOLS_CHANGED)
    assert frame == (
        b'{"jsonrpc":"2.0","method":"notifications/tools/list_changed",'
        b'"params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"s"}}}'
    )


def test_the_completion_is_a_complete_result_with_the_subscription_and_server() -> None:
    assert json.loads(listen(3, {}).completion()) == {
        "resultType": "complete",
        "_meta": {
            "io.modelcontextprotocol/serverInfo": {"name": "srv", "version": "1.2"},
            SUBSCRIPTION_ID_KEY: 3,
        },
    }


def test_the_cancellation_names_the_listen_request() -> None:
    message = json.loads(listen("x", {}).cancellation())
    assert message["method"] == "notifications/cancelled"
    assert message["params"]["requestId"] == "x"
    assert "id" not in message


def test_the_handshake_era_notification_has_no_params() -> None:
    assert handshake_change_notification(TOOLS_CHANGED) == (
        b'{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}'
    )
    assert handshake_change_notification(ChangeAnnouncement("some-future-kind")) is None


# --- announcements -------------------------------------------------------------------------


def test_announcements_round_trip() -> None:
    for announcement in (TOOLS_CHANGED, ChangeAnnouncement("resource", "file:///a")):
        assert decode_announcement(encode_announcement(announcement)) == announcement
    assert encode_announcement(TOOLS_CHANGED) == b'["tools",null]'


def test_announcements_of_other_versions_decode() -> None:
    # An older front sent fewer fields; a newer one may append more: both decode.
    assert decode_announcement(b'["tools"]') == TOOLS_CHANGED
    assert decode_announcement(b'["tools",null,"later",1]') == TOOLS_CHANGED
    assert decode_announcement(b'["prompts"]').kind == "prompts"


def test_announcements_are_hashable_and_equal_by_value() -> None:
    # Coalescing relies on it (a pending change is sent once).
    assert {TOOLS_CHANGED, ChangeAnnouncement("tools")} == {TOOLS_CHANGED}


@pytest.mark.parametrize("payload", [b"", b"{}", b"[1]", b'["tools",5]', b"\xff", b"[]"])
def test_garbage_announcements_raise(payload: bytes) -> None:
    with pytest.raises(msgspec.MsgspecError):
        decode_announcement(payload)


# --- resources and prompts lists (ADR-0007) --------------------------------------------------

ALL_LISTS = frozenset({ChangeKind.TOOLS, ChangeKind.RESOURCES, ChangeKind.PROMPTS})


def test_resource_and_prompt_list_changes_are_honoured_when_served_and_requested() -> None:
    requested = SubscriptionFilter(prompts_list_changed=True, resources_list_changed=True)
    sub = Subscription("s", requested, served=ALL_LISTS, server_info=SERVER)
    assert json.loads(sub.acknowledgement())["params"]["notifications"] == {
        "promptsListChanged": True,
        "resourcesListChanged": True,
    }
    prompts = sub.notification(ChangeAnnouncement(ChangeKind.PROMPTS))
    resources = sub.notification(ChangeAnnouncement(ChangeKind.RESOURCES))
    assert (
        prompts is not None
        and json.loads(prompts)["method"] == "notifications/prompts/list_changed"
    )
    assert resources is not None
    assert json.loads(resources)["method"] == "notifications/resources/list_changed"
    assert json.loads(resources)["params"]["_meta"][SUBSCRIPTION_ID_KEY] == "s"
    assert sub.notification(TOOLS_CHANGED) is None  # not requested


def test_lists_the_app_does_not_have_are_left_out_of_the_acknowledgement() -> None:
    requested = SubscriptionFilter(prompts_list_changed=True, resources_list_changed=True)
    sub = Subscription(1, requested, served=SERVED, server_info=SERVER)
    assert json.loads(sub.acknowledgement())["params"]["notifications"] == {}
    assert sub.notification(ChangeAnnouncement(ChangeKind.PROMPTS)) is None


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        (ChangeKind.RESOURCES, "notifications/resources/list_changed"),
        (ChangeKind.PROMPTS, "notifications/prompts/list_changed"),
    ],
)
def test_handshake_sessions_get_each_lists_own_notification(kind: str, method: str) -> None:
    frame = handshake_change_notification(ChangeAnnouncement(kind))
    assert frame is not None and json.loads(frame) == {"jsonrpc": "2.0", "method": method}


# --- resource subscriptions (ADR-0007) --------------------------------------------------------

WITH_RESOURCES = frozenset({ChangeKind.RESOURCES, ChangeKind.RESOURCE})


def updated(uri: str | None) -> ChangeAnnouncement:
    return ChangeAnnouncement(ChangeKind.RESOURCE, uri)


def test_resource_subscriptions_are_acknowledged_and_honoured_per_uri() -> None:
    requested = SubscriptionFilter(resource_subscriptions=("test://a", "test://b", "test://a"))
    sub = Subscription(9, requested, served=WITH_RESOURCES, server_info=SERVER)
    assert json.loads(sub.acknowledgement())["params"]["notifications"] == {
        "resourceSubscriptions": ["test://a", "test://b"]
    }
    assert sub.honours(updated("test://a")) and not sub.honours(updated("test://c"))
    frame = sub.notification(updated("test://b"))
    assert frame is not None
    assert json.loads(frame) == {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"uri": "test://b", "_meta": {SUBSCRIPTION_ID_KEY: 9}},
    }
    assert sub.notifications(updated("test://c")) == []
    assert sub.notification(ChangeAnnouncement(ChangeKind.RESOURCES)) is None  # not requested


def test_an_untargeted_update_becomes_one_per_subscribed_uri() -> None:
    requested = SubscriptionFilter(resource_subscriptions=("test://b", "test://a"))
    sub = Subscription("s", requested, served=WITH_RESOURCES, server_info=SERVER)
    assert sub.honours(updated(None))
    assert sub.notification(updated(None)) is None  # never sent without a URI
    frames = [json.loads(f) for f in sub.notifications(updated(None))]
    assert [(f["method"], f["params"]["uri"]) for f in frames] == [
        ("notifications/resources/updated", "test://a"),
        ("notifications/resources/updated", "test://b"),
    ]
    nothing = Subscription("t", SubscriptionFilter(tools_list_changed=True), served=WITH_RESOURCES,
                           server_info=SERVER)  # fmt: skip
    assert not nothing.honours(updated(None)) and nothing.notifications(updated(None)) == []


def test_resource_subscriptions_of_an_app_without_resources_are_left_out() -> None:
    requested = SubscriptionFilter(resource_subscriptions=("test://a",))
    sub = Subscription(1, requested, served=SERVED, server_info=SERVER)
    assert json.loads(sub.acknowledgement())["params"]["notifications"] == {}
    assert not sub.honours(updated("test://a"))
    empty = Subscription(1, SubscriptionFilter(resource_subscriptions=()), served=WITH_RESOURCES,
                         server_info=SERVER)  # fmt: skip
    assert json.loads(empty.acknowledgement())["params"]["notifications"] == {}


def test_handshake_sessions_get_updates_by_uri_only() -> None:
    assert handshake_change_notification(updated("test://a")) is None  # per subscription
    assert json.loads(resource_updated_notification("test://a")) == {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"uri": "test://a"},
    }
