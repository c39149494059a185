"""What a client can do for a server: the parts of ``ClientCapabilities`` a handler may use
(asking the client for input), as a small set of flags that travels with every call.

A handshake-era client declares its capabilities once, in ``initialize`` (kept with its
session); a 2026-07-28 client on every request, in the ``_meta`` envelope (mcp-protocol.md
7.1). Either way the worker running a call must know them: a server MUST NOT send a request
the client did not declare it can answer, and a tool that needs one the client lacks is
refused with ``-32021`` at 2026-07-28 (``data.requiredCapabilities``, a
``ClientCapabilities`` object).

The flags are an int on the wire (``CallMessage.client_capabilities``); the names authors
use (``"sampling"``, ``"elicitation.url"``, ...) map to them here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = [
    "CLIENT_CAPABILITY_NAMES",
    "ClientCapability",
    "capability_flags",
    "flags_from_names",
    "required_capabilities",
]


class ClientCapability(enum.IntFlag):
    """One thing a client declared it can do (``ClientCapabilities``)."""

    ROOTS = 1
    """``roots``: it answers ``roots/list``."""
    SAMPLING = 2
    """``sampling``: it answers ``sampling/createMessage``."""
    SAMPLING_TOOLS = 4
    """``sampling.tools``: its sampling takes ``tools`` and ``toolChoice`` (2025-11-25+)."""
    SAMPLING_CONTEXT = 8
    """``sampling.context``: its sampling honours ``includeContext`` other than ``none``."""
    ELICITATION = 16
    """``elicitation`` in form mode: it answers ``elicitation/create`` with a form
    (``elicitation: {}`` means form mode, for clients older than the modes)."""
    ELICITATION_URL = 32
    """``elicitation.url``: it answers ``elicitation/create`` in URL mode (2025-11-25+)."""


CLIENT_CAPABILITY_NAMES: Final[Mapping[str, ClientCapability]] = {
    "roots": ClientCapability.ROOTS,
    "sampling": ClientCapability.SAMPLING,
    "sampling.tools": ClientCapability.SAMPLING_TOOLS,
    "sampling.context": ClientCapability.SAMPLING_CONTEXT,
    "elicitation": ClientCapability.ELICITATION,
    "elicitation.url": ClientCapability.ELICITATION_URL,
}
"""The names tool authors use for the flags (``requires_client=``, ``ctx.client_supports``)."""


# Plain ints: IntFlag arithmetic costs microseconds, and this runs for every 2026-07-28 call.
_ROOTS: Final = int(ClientCapability.ROOTS)
_SAMPLING: Final = int(ClientCapability.SAMPLING)
_SAMPLING_TOOLS: Final = int(ClientCapability.SAMPLING_TOOLS)
_SAMPLING_CONTEXT: Final = int(ClientCapability.SAMPLING_CONTEXT)
_ELICITATION: Final = int(ClientCapability.ELICITATION)
_ELICITATION_URL: Final = int(ClientCapability.ELICITATION_URL)


def capability_flags(capabilities: Mapping[str, object]) -> int:
    """The flags a ``ClientCapabilities`` object declares; unknown members are ignored,
    malformed ones count as not declared (a capability is declared by an object, ``{}``
    included)."""
    flags = 0
    if isinstance(capabilities.get("roots"), dict):
        flags = _ROOTS
    sampling = capabilities.get("sampling")
    if isinstance(sampling, dict):
        flags |= _SAMPLING
        if sampling:
            if isinstance(sampling.get("tools"), dict):
                flags |= _SAMPLING_TOOLS
            if isinstance(sampling.get("context"), dict):
                flags |= _SAMPLING_CONTEXT
    elicitation = capabilities.get("elicitation")
    if isinstance(elicitation, dict):
        if not elicitation:  # ``{}``: form mode, the only one before the modes
            return flags | _ELICITATION
        url = isinstance(elicitation.get("url"), dict)
        if url:
            flags |= _ELICITATION_URL
        if not url or isinstance(elicitation.get("form"), dict):
            flags |= _ELICITATION
    return flags


def flags_from_names(names: Iterable[str]) -> int:
    """The flags for capability names (:data:`CLIENT_CAPABILITY_NAMES`).

    Raises:
        ValueError: a name is not one of them.
    """
    flags = 0
    for name in names:
        flag = CLIENT_CAPABILITY_NAMES.get(name)
        if flag is None:
            known = ", ".join(CLIENT_CAPABILITY_NAMES)
            raise ValueError(f"unknown client capability {name!r} (known: {known})")
        flags |= flag
    return int(flags)


def required_capabilities(missing: int) -> dict[str, object]:
    """The ``ClientCapabilities`` object naming ``missing`` flags, for the ``-32021``
    error's ``data.requiredCapabilities`` (e.g. ``{"sampling": {}}``)."""
    found: dict[str, dict[str, object]] = {}
    for name, flag in CLIENT_CAPABILITY_NAMES.items():
        if not missing & flag:
            continue
        top, _, sub = name.partition(".")
        entry = found.setdefault(top, {})
        if sub:
            entry[sub] = {}
    return dict(found)
