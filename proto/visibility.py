"""Turning registered tools, prompts and resources on and off at runtime, fleet-wide
(ADR-0010), sans-IO: the overrides as Redis holds them, what a front hides given them, and
the arguments of the script that changes them.

What can be turned on and off is fixed by the deployment: the app registers its items, and
may declare some off (``@app.tool(enabled=False)``). Only the *state* of registered items
travels. The fleet's overrides live in one Redis hash per list (``Keyspace.visibility``):
field = the item (a tool's or prompt's name, a resource's URI or URI template as
registered), value = ``enabled`` or ``disabled``. The rules:

- An override wins over the declaration. It is stored only where it departs from what the
  deployment that set it declares (``SET_VISIBILITY``): asking for the declared state drops
  it, so the hash holds deviations, not a copy of every item.
- An override naming an item the app does not register is ignored (a redeploy dropped the
  item); it applies again should the item come back. A value this version does not know is
  ignored too (a later version's state).
- A request that changes no item's state announces nothing; one that changes some announces
  one list change of its kind (``ChangeAnnouncement``, no target), so no new wire shape.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Final

from proto.subscriptions import ChangeAnnouncement, ChangeKind, encode_announcement

__all__ = [
    "DISABLED",
    "ENABLED",
    "LIST_KINDS",
    "VisibilityRequest",
    "decode_overrides",
    "hidden_items",
    "visibility_script_argv",
]

ENABLED: Final = "enabled"
"""An item's state (and override value): listed, callable."""

DISABLED: Final = "disabled"
"""An item's state (and override value): answered exactly as an unknown one."""

LIST_KINDS: Final = (ChangeKind.TOOLS, ChangeKind.PROMPTS, ChangeKind.RESOURCES)
"""The lists whose items can be turned on and off (resources: resources and templates)."""


class VisibilityRequest(enum.StrEnum):
    """What a request does to each item it names (``SET_VISIBILITY``'s ARGV[3])."""

    ENABLE = ENABLED
    DISABLE = DISABLED
    TOGGLE = "toggle"
    """The opposite of the item's state now, decided in Redis (atomically)."""
    RESET = "declared"
    """Back to what the caller's deployment declares: the override is dropped."""


def decode_overrides(reply: object) -> dict[str, bool]:
    """The overrides of one list from its hash (an ``HGETALL`` reply: a flat list of field,
    value, ...), as item → enabled. Values other than ``enabled``/``disabled`` are left out
    (module docstring), and so is anything that is not a list of byte strings."""
    if not isinstance(reply, list) or len(reply) % 2:
        return {}
    overrides: dict[str, bool] = {}
    for field, value in zip(reply[::2], reply[1::2], strict=True):
        if not isinstance(field, bytes) or value not in (b"enabled", b"disabled"):
            continue
        try:
            overrides[field.decode()] = value == b"enabled"
        except UnicodeDecodeError:
            continue  # no registered item has that name
    return overrides


def hidden_items(declared: Mapping[str, bool], overrides: Mapping[str, bool]) -> frozenset[str]:
    """The registered items a front leaves out, given each one's declared state (item →
    enabled) and the fleet's overrides; overrides of items not in ``declared`` are
    ignored."""
    return frozenset(item for item, enabled in declared.items() if not overrides.get(item, enabled))


def visibility_script_argv(
    request: VisibilityRequest,
    items: Iterable[tuple[str, bool | None]],
    *,
    kind: str,
    channel: str,
) -> list[str | bytes]:
    """``SET_VISIBILITY``'s ARGV: apply ``request`` to each ``(item, declared)`` pair, where
    ``declared`` is whether the caller's app declares the item enabled, or None for an item
    it does not have (only :attr:`VisibilityRequest.RESET` makes sense for one). The
    announcement is a list change of ``kind``.

    Raises:
        ValueError: ``kind`` is not one of :data:`LIST_KINDS`, or no item is given.
    """
    if kind not in LIST_KINDS:
        raise ValueError(f"{kind!r} is not a list whose items can be turned on and off")
    argv: list[str | bytes] = [
        channel,
        encode_announcement(ChangeAnnouncement(kind)),
        request.value,
    ]
    for item, declared in items:
        argv += [item, "" if declared is None else ENABLED if declared else DISABLED]
    if len(argv) == 3:
        raise ValueError("a visibility request names at least one item")
    return argv
