"""Which part of the server each server scenario of the suite exercises.

Groups decide what the expected-failure list may excuse: a scenario of a *strict* group
(transport, lifecycle, and any scenario this module does not know yet) may only have single
checks excused, each tied to a feature the server does not have; the scenario as a whole must
pass. Feature groups (resources, prompts, tasks, ...) may be excused wholesale until built.
"""

from __future__ import annotations

from typing import Final

__all__ = ["STRICT_GROUPS", "group_of"]

_BY_NAME: Final = {
    "server-initialize": "lifecycle",
    "server-session-lifecycle": "lifecycle",
    "server-stateless": "lifecycle",
    "ping": "lifecycle",
    "caching": "lifecycle",  # server/discover and list results' ttlMs/cacheScope
    "server-sse-polling": "transport",
    "server-sse-multiple-streams": "transport",
    "dns-rebinding-protection": "transport",
    "http-header-validation": "transport",
    "http-custom-header-server-validation": "transport",
    "json-schema-2020-12": "tools",
    "sep-2164-resource-not-found": "resources",
}

_BY_PREFIX: Final = (
    ("tools-", "tools"),
    ("resources-", "resources"),
    ("prompts-", "prompts"),
    ("logging-", "logging"),
    ("completion-", "completions"),
    ("elicitation-", "input-requests"),
    ("input-required-result-", "input-requests"),
    ("tasks-", "tasks"),
)

STRICT_GROUPS: Final = frozenset({"lifecycle", "transport", "other"})
"""Groups whose scenarios can never be excused as a whole."""


def group_of(scenario: str) -> str:
    """The group of a server scenario; ``other`` for one this module does not know."""
    group = _BY_NAME.get(scenario)
    if group is not None:
        return group
    for prefix, prefixed_group in _BY_PREFIX:
        if scenario.startswith(prefix):
            return prefixed_group
    return "other"
