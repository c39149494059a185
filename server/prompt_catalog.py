"""The prompts this front serves, as the front needs them (ADR-0007): the pages of
``prompts/list`` per protocol version (``server/list_pages.py``), and the check of a
``prompts/get``'s arguments before anything is queued. A prompt turned off (ADR-0010) is
neither listed nor found: it is an unknown prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from proto import PROMPTS_LIST, ListPromptsResult, Prompt, PromptArgument, supports_titles
from server.list_pages import ListPages, ListResult, ListSettings
from server.visible_items import SwitchableCatalog, VisibleItems

__all__ = ["CatalogPrompt", "PromptCatalog"]

_encoder: Final = msgspec.json.Encoder()


class CatalogPrompt:
    """One registered prompt.

    Args:
        listing: its ``prompts/list`` entry (arguments included).
        args_type: the Struct its arguments decode into (leniently, as the worker does).
        timeout_s: how long a worker may take to build it.
        enabled: the declared state: False for one registered turned off (ADR-0010).
    """

    __slots__ = ("_decoder", "_untitled", "enabled", "listing", "name", "timeout_s")

    def __init__(
        self,
        listing: Prompt,
        args_type: type[msgspec.Struct],
        timeout_s: float,
        *,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.name = listing.name
        self.listing = listing
        self.timeout_s = timeout_s
        self._untitled = msgspec.structs.replace(
            listing,
            title=UNSET,
            arguments=[msgspec.structs.replace(a, title=UNSET) for a in self.arguments] or UNSET,
        )
        self._decoder: msgspec.json.Decoder[msgspec.Struct] = msgspec.json.Decoder(
            args_type, strict=False
        )

    def listing_for(self, version: str) -> Prompt:
        """The entry with only the fields ``version`` defines: no titles (the prompt's
        and its arguments') before 2025-06-18 (checklist 45)."""
        if supports_titles(version):
            return self.listing
        return self._untitled

    @property
    def arguments(self) -> list[PromptArgument]:
        return (
            [] if isinstance(self.listing.arguments, msgspec.UnsetType) else self.listing.arguments
        )

    def arguments_problem(self, arguments: dict[str, str]) -> str | None:
        """Why ``arguments`` do not fit the prompt (a required one missing, an unknown one,
        a value of the wrong kind), or None."""
        try:
            self._decoder.decode(_encoder.encode(arguments))
        except msgspec.ValidationError as exc:
            return f"Invalid arguments for prompt {self.name!r}: {exc}"
        return None


class PromptCatalog(SwitchableCatalog[CatalogPrompt]):
    """All registered prompts, in registration order; those turned off are neither listed
    nor found (:meth:`apply_overrides`).

    Args:
        prompts: the prompts, in registration order.
        settings: how ``prompts/list`` is paged and hinted.
    """

    def __init__(self, prompts: Sequence[CatalogPrompt], settings: ListSettings) -> None:
        self._registered = VisibleItems({p.name: p for p in prompts})
        self._digest = self._registered.digest([p.listing for p in self._registered.items.values()])
        self._settings = settings
        self._show()

    def _show(self) -> None:
        # Replaced whole, never mutated (see ToolCatalog): the lookup and the pages of the
        # prompts on now, their cursors bound to the prompts off.
        visible = self._registered.visible
        self._prompts = visible
        self._pages = ListPages(
            PROMPTS_LIST,
            list(visible.values()),
            digest=self._registered.view_digest(self._digest),
            render=_prompts_page,
            settings=self._settings,
        )

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the listing entries in order, and of the names of those
        registered turned off when there are any (see ``ToolCatalog.digest``)."""
        return self._digest

    def __len__(self) -> int:
        """How many prompts are registered (turned off or not)."""
        return len(self._registered)

    def get(self, name: str) -> CatalogPrompt | None:
        """The prompt named ``name``, or None: not registered, or turned off."""
        return self._prompts.get(name)

    @property
    def longest_timeout_s(self) -> float:
        return self._longest_registered_timeout_s()

    def list_result(self, version: str, cursor: str | UnsetType = UNSET) -> bytes:
        """The encoded ``prompts/list`` page for ``version`` that ``cursor`` names.

        Raises:
            InvalidParamsError: a cursor this list did not issue for the prompts on now
                (foreign, forged, or from before a prompt was turned on or off).
        """
        return self._pages.result(version, cursor)


def _prompts_page(
    version: str, prompts: Sequence[CatalogPrompt], next_cursor: str | UnsetType
) -> ListResult:
    return ListPromptsResult(
        prompts=[p.listing_for(version) for p in prompts], next_cursor=next_cursor
    )
