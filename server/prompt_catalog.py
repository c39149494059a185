"""The prompts this front serves, as the front needs them (ADR-0007): listing bytes per
protocol version, and the check of a ``prompts/get``'s arguments before anything is queued.
A prompt turned off (ADR-0010) is neither listed nor found: it is an unknown prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from proto import MODERN_VERSIONS, ListPromptsResult, Prompt, PromptArgument, ResultMeta
from server.visible_items import VisibleItems

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

    __slots__ = ("_decoder", "enabled", "listing", "name", "timeout_s")

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
        self._decoder: msgspec.json.Decoder[msgspec.Struct] = msgspec.json.Decoder(
            args_type, strict=False
        )

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
    """All registered prompts, in registration order; those turned off are neither listed
    nor found (:meth:`apply_overrides`)."""

    def __init__(self, prompts: Sequence[CatalogPrompt] = (), *, list_ttl_ms: int = 0) -> None:
        self._registered = VisibleItems({p.name: p for p in prompts})
        self._list_ttl_ms = list_ttl_ms
        self._show()

    def _show(self) -> None:
        self._prompts = self._registered.visible
        self._listings: dict[str, bytes] = {}

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the listing entries in order (see ``ToolCatalog.digest``)."""
        return self._registered.digest([p.listing for p in self._registered.items.values()])

    def __len__(self) -> int:
        """How many prompts are registered (turned off or not)."""
        return len(self._registered)

    def get(self, name: str) -> CatalogPrompt | None:
        """The prompt named ``name``, or None: not registered, or turned off."""
        return self._prompts.get(name)

    def apply_overrides(self, overrides: Mapping[str, bool]) -> bool:
        """Show the prompts the fleet's overrides (name → enabled, ADR-0010) leave on;
        True if that changed which are listed."""
        changed = self._registered.apply(overrides)
        if changed:
            self._show()
        return changed

    @property
    def hidden(self) -> frozenset[str]:
        """The prompts turned off now."""
        return self._registered.hidden

    @property
    def longest_timeout_s(self) -> float:
        return max((p.timeout_s for p in self._registered.items.values()), default=0.0)

    def list_result(self, version: str, *, meta: ResultMeta) -> bytes:
        """The encoded ``prompts/list`` result for ``version``, built on first use."""
        cached = self._listings.get(version)
        if cached is None:
            result = ListPromptsResult(prompts=[p.listing for p in self._prompts.values()])
            if version in MODERN_VERSIONS:
                result = msgspec.structs.replace(
                    result,
                    result_type="complete",
                    ttl_ms=self._list_ttl_ms,
                    cache_scope="public",
                    meta=meta,
                )
            cached = self._listings[version] = _encoder.encode(result)
        return cached
