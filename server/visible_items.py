"""The registered items of one list (tools, prompts or resources) and which of them are on
now (ADR-0010): what each catalog lists and finds.

The registry is static (the deployment's code); the fleet's overrides only change which
registered items are on. A catalog keeps the visible ones as a plain dict, replaced whole
when the overrides change, so a lookup on the call path stays one dict access.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from typing import Final, Generic, Protocol, TypeVar

import msgspec

from proto import hidden_items

__all__ = ["SwitchableCatalog", "VisibleItems"]

_encoder: Final = msgspec.json.Encoder()


class _Declared(Protocol):
    @property
    def enabled(self) -> bool:
        """The item's declared state (``enabled=`` at registration)."""
        ...


class _Timed(_Declared, Protocol):
    @property
    def timeout_s(self) -> float:
        """How long a call of the item may run."""
        ...


Item = TypeVar("Item", bound=_Declared)
TimedItem = TypeVar("TimedItem", bound=_Timed)


class VisibleItems(Generic[Item]):
    """Registered items by key, in registration order, and those on now.

    Attributes:
        items: every registered item.
        visible: the items on now (registration order).
        hidden: the keys of the items off now.
    """

    __slots__ = ("_declared", "hidden", "items", "visible")

    def __init__(self, items: Mapping[str, Item]) -> None:
        self.items = dict(items)
        self._declared = {key: item.enabled for key, item in self.items.items()}
        self.hidden = hidden_items(self._declared, {})
        self.visible = self._on()

    def __len__(self) -> int:
        return len(self.items)

    def apply(self, overrides: Mapping[str, bool]) -> bool:
        """Turn items on and off as the fleet's overrides (key → enabled) say; True if
        that changed which are on."""
        hidden = hidden_items(self._declared, overrides)
        if hidden == self.hidden:
            return False
        self.hidden = hidden
        self.visible = self._on()
        return True

    def digest(self, entries: object) -> str:
        """Hex SHA-256 of a deployment's listing ``entries`` (every registered item), and
        of the keys of items registered turned off when there are any: two deployments
        that differ only in what they declare off differ here too (ADR-0006's digest),
        while apps that declare nothing off keep the digest they had before ADR-0010."""
        data = _encoder.encode(entries)
        declared_off = sorted(key for key, enabled in self._declared.items() if not enabled)
        if declared_off:
            data += b"\n" + _encoder.encode(declared_off)
        return hashlib.sha256(data).hexdigest()

    def view_digest(self, digest: str, among: Collection[str] | None = None) -> str:
        """``digest`` (the deployment's) bound to the items off now: what a listing's
        cursor is tied to (``server/list_pages.py``), so one issued before an item was
        turned on or off is refused. ``among`` narrows it to the items off among those
        keys, for a list that serves part of the registry (``resources/list`` its static
        resources, ``resources/templates/list`` its templates). Unchanged while nothing
        (among those) is off."""
        hidden = self.hidden if among is None else self.hidden.intersection(among)
        if not hidden:
            return digest
        data = f"{digest}\n".encode() + _encoder.encode(sorted(hidden))
        return hashlib.sha256(data).hexdigest()

    def _on(self) -> dict[str, Item]:
        return {key: item for key, item in self.items.items() if key not in self.hidden}


class SwitchableCatalog(Generic[TimedItem]):
    """What the tool, resource and prompt catalogs share about items turned on and off
    (ADR-0010): a subclass keeps its registry in ``_registered`` and rebuilds what it
    serves (lookup dicts, pages) in ``_show``."""

    _registered: VisibleItems[TimedItem]

    def _show(self) -> None:
        raise NotImplementedError

    def apply_overrides(self, overrides: Mapping[str, bool]) -> bool:
        """Show the items the fleet's overrides (key as registered → enabled) leave on;
        True if that changed which are listed (pages and cursors then change too)."""
        changed = self._registered.apply(overrides)
        if changed:
            self._show()
        return changed

    @property
    def hidden(self) -> frozenset[str]:
        """The keys (as registered) of the items turned off now."""
        return self._registered.hidden

    def _longest_registered_timeout_s(self) -> float:
        """The longest any registered item may run (0 without any); items turned off
        count too (a call may have started before)."""
        return max((item.timeout_s for item in self._registered.items.values()), default=0.0)
