"""A consumer's inbox of fleet changes: what it takes, how it coalesces, and its bound on
targeted changes (resource updates, one per URI)."""

from __future__ import annotations

from proto import TOOLS_CHANGED, ChangeAnnouncement, ChangeKind
from server.change_feed import MAX_PENDING_TARGETED, ChangeInbox


def updated(uri: str | None) -> ChangeAnnouncement:
    return ChangeAnnouncement(ChangeKind.RESOURCE, uri)


def drain(inbox: ChangeInbox) -> list[ChangeAnnouncement]:
    pending = []
    while (announcement := inbox.receive_nowait()) is not None:
        pending.append(announcement)
    return pending


def test_an_inbox_takes_what_it_wants_once_each_in_order() -> None:
    inbox = ChangeInbox(lambda a: a.kind != ChangeKind.PROMPTS)
    for announcement in [updated("a"), TOOLS_CHANGED, updated("a"), updated("b")]:
        inbox.deliver(announcement)
    inbox.deliver(ChangeAnnouncement(ChangeKind.PROMPTS))
    assert drain(inbox) == [updated("a"), TOOLS_CHANGED, updated("b")]


def test_past_the_bound_targeted_changes_coalesce_into_an_untargeted_one() -> None:
    inbox = ChangeInbox(lambda a: True)
    for n in range(MAX_PENDING_TARGETED + 50):
        inbox.deliver(updated(f"test://{n}"))
    inbox.deliver(TOOLS_CHANGED)
    pending = drain(inbox)
    assert pending[:MAX_PENDING_TARGETED] == [
        updated(f"test://{n}") for n in range(MAX_PENDING_TARGETED)
    ]
    # Every later URI is covered by one "any resource may have changed".
    assert pending[MAX_PENDING_TARGETED:] == [updated(None), TOOLS_CHANGED]
    # Once read, the room is back.
    inbox.deliver(updated("test://later"))
    assert drain(inbox) == [updated("test://later")]
