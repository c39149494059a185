"""The prompts this front serves, as the front needs them (ADR-0007): the pages of
``prompts/list`` per protocol version (``server/list_pages.py``), and the check of a
``prompts/get``'s arguments before anything is queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from proto import PROMPTS_LIST, ListPromptsResult, Prompt, PromptArgument, supports_titles
from server.list_pages import ListPages, ListResult, ListSettings, listing_digest

__all__ = ["CatalogPrompt", "PromptCatalog"]

_encoder: Final = msgspec.json.Encoder()


class CatalogPrompt:
    """One registered prompt.

    Args:
        listing: its ``prompts/list`` entry (arguments included).
        args_type: the Struct its arguments decode into (leniently, as the worker does).
        timeout_s: how long a worker may take to build it.
    """

    __slots__ = ("_decoder", "_untitled", "listing", "name", "timeout_s")

    def __init__(self, listing: Prompt, args_type: type[msgspec.Struct], timeout_s: float) -> None:
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


class PromptCatalog:
    """All registered prompts, in registration order.

    Args:
        prompts: the prompts, in registration order.
        settings: how ``prompts/list`` is paged and hinted.
    """

    def __init__(self, prompts: Sequence[CatalogPrompt], settings: ListSettings) -> None:
        self._prompts = {p.name: p for p in prompts}
        ordered = list(self._prompts.values())
        self._digest = listing_digest([p.listing for p in ordered])
        self._pages = ListPages(
            PROMPTS_LIST, ordered, digest=self._digest, render=_prompts_page, settings=settings
        )

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the listing entries in order (see ``ToolCatalog.digest``)."""
        return self._digest

    def __len__(self) -> int:
        return len(self._prompts)

    def get(self, name: str) -> CatalogPrompt | None:
        return self._prompts.get(name)

    @property
    def longest_timeout_s(self) -> float:
        return max((p.timeout_s for p in self._prompts.values()), default=0.0)

    def list_result(self, version: str, cursor: str | UnsetType = UNSET) -> bytes:
        """The encoded ``prompts/list`` page for ``version`` that ``cursor`` names.

        Raises:
            InvalidParamsError: a cursor this list did not issue.
        """
        return self._pages.result(version, cursor)


def _prompts_page(
    version: str, prompts: Sequence[CatalogPrompt], next_cursor: str | UnsetType
) -> ListResult:
    return ListPromptsResult(
        prompts=[p.listing_for(version) for p in prompts], next_cursor=next_cursor
    )
