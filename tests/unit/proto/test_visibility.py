"""Visibility overrides, sans-IO: decoding a list's hash, what a front hides given the
declarations and the overrides, and the script's arguments (ADR-0010)."""

from __future__ import annotations

import pytest

from proto import (
    LIST_KINDS,
    ChangeAnnouncement,
    ChangeKind,
    Keyspace,
    VisibilityRequest,
    decode_announcement,
    decode_overrides,
    hidden_items,
    visibility_script_argv,
)


def test_a_hash_decodes_to_item_and_state() -> None:
    reply = [b"add", b"disabled", b"weather://{city}", b"enabled"]
    assert decode_overrides(reply) == {"add": False, "weather://{city}": True}


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param([], id="empty-hash"),
        pytest.param(None, id="nil"),
        pytest.param(b"disabled", id="not-a-list"),
        pytest.param([b"add"], id="odd-length"),
        pytest.param([b"add", b"off"], id="a-state-this-version-does-not-know"),
        pytest.param([b"add", 1], id="an-integer-value"),
        pytest.param([7, b"enabled"], id="an-integer-field"),
        pytest.param([b"\xff\xfe", b"enabled"], id="a-field-that-is-not-utf8"),
    ],
)
def test_what_is_not_an_override_is_left_out(reply: object) -> None:
    assert decode_overrides(reply) == {}


def test_one_bad_pair_leaves_the_others() -> None:
    reply = [b"a", b"maybe", b"b", b"disabled"]
    assert decode_overrides(reply) == {"b": False}


def test_the_declaration_holds_without_an_override() -> None:
    declared = {"on": True, "off": False}
    assert hidden_items(declared, {}) == {"off"}


def test_an_override_wins_over_the_declaration() -> None:
    declared = {"on": True, "off": False}
    assert hidden_items(declared, {"on": False, "off": True}) == {"on"}


def test_an_override_of_an_item_not_registered_is_ignored() -> None:
    assert hidden_items({"kept": True}, {"dropped": False, "gone": True}) == frozenset()


def test_the_script_arguments_carry_the_announcement_and_each_items_declaration() -> None:
    keys = Keyspace("f")
    argv = visibility_script_argv(
        VisibilityRequest.DISABLE,
        [("a", True), ("b", False), ("gone", None)],
        kind=ChangeKind.PROMPTS,
        channel=keys.change_channel(),
    )
    channel, announcement, request, *pairs = argv
    assert channel == "mcpf:f:changes"
    assert isinstance(announcement, bytes)
    assert decode_announcement(announcement) == ChangeAnnouncement(ChangeKind.PROMPTS)
    assert request == "disabled"
    assert pairs == ["a", "enabled", "b", "disabled", "gone", ""]


@pytest.mark.parametrize(
    ("request_", "wire"),
    [
        (VisibilityRequest.ENABLE, "enabled"),
        (VisibilityRequest.DISABLE, "disabled"),
        (VisibilityRequest.TOGGLE, "toggle"),
        (VisibilityRequest.RESET, "declared"),
    ],
)
def test_requests_are_plain_strings_on_the_wire(request_: VisibilityRequest, wire: str) -> None:
    argv = visibility_script_argv(request_, [("a", True)], kind="tools", channel="c")
    assert argv[2] == wire
    assert type(argv[2]) is str


def test_only_lists_have_items_to_turn_on_and_off() -> None:
    assert set(LIST_KINDS) == {"tools", "prompts", "resources"}
    with pytest.raises(ValueError, match="resource"):
        visibility_script_argv(
            VisibilityRequest.ENABLE, [("a", True)], kind="resource", channel="c"
        )


def test_a_request_names_an_item() -> None:
    with pytest.raises(ValueError, match="at least one"):
        visibility_script_argv(VisibilityRequest.ENABLE, [], kind="tools", channel="c")


def test_each_list_has_its_own_hash() -> None:
    keys = Keyspace("blue")
    assert keys.visibility("tools") == "mcpf:blue:visibility:tools"
    assert len({keys.visibility(kind) for kind in LIST_KINDS}) == 3
