"""Turning registered tools, prompts and resources on and off for the whole fleet, on behalf
of handlers (``ctx.enable`` / ``disable`` / ``toggle``; ADR-0010).

A request names registered items only: the registry is the deployment's code, and only an
item's state travels. Each list a request touches becomes one ``SET_VISIBILITY`` script run,
queued on the worker's :class:`~workers.reply_publisher.ReplyPublisher` with the call's
other messages, so it is applied (and its list change announced) before the call's own
answer goes out. Safe from any thread: a sync handler's thread hands the request to the
event loop, which owns the publisher.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping

from proto import (
    LIST_KINDS,
    SET_VISIBILITY,
    ChangeKind,
    Keyspace,
    RedisArg,
    VisibilityRequest,
    visibility_script_argv,
)
from workers.reply_publisher import ReplyPublisher
from workers.toolset import Toolset

__all__ = ["VisibilityToggles", "declared_states"]

_LABELS: dict[str, str] = {
    ChangeKind.TOOLS: "tool",
    ChangeKind.PROMPTS: "prompt",
    ChangeKind.RESOURCES: "resource",
}


def declared_states(toolset: Toolset) -> dict[str, dict[str, bool]]:
    """Each registered item's declared state (item → enabled), by list kind (resources by
    URI or URI template as registered)."""
    return {
        ChangeKind.TOOLS: {name: tool.enabled for name, tool in toolset.tools.items()},
        ChangeKind.PROMPTS: {name: p.enabled for name, p in toolset.prompts.items()},
        ChangeKind.RESOURCES: {uri: r.enabled for uri, r in toolset.resources.items()},
    }


class VisibilityToggles:
    """Applies handlers' visibility requests through the publisher; build it on the event
    loop that runs the publisher.

    Args:
        toolset: the app (what is registered, and what it declares).
        publisher: the worker's publisher, where requests are queued.
        keys: the fleet's key schema.
    """

    def __init__(self, toolset: Toolset, publisher: ReplyPublisher, keys: Keyspace) -> None:
        self._declared = declared_states(toolset)
        self._publisher = publisher
        self._keys = keys
        self._channel = keys.change_channel()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    def request(self, request: VisibilityRequest, items: Mapping[str, tuple[str, ...]]) -> None:
        """Queue ``request`` for ``items`` (by list kind), every item checked first, so a
        request naming one unknown item changes nothing (a ``VisibilitySink``).

        Raises:
            ValueError: an item the app does not register, or a kind with no items.
        """
        commands = [self._command(request, kind, names) for kind, names in items.items()]
        for command in commands:
            if threading.get_ident() == self._loop_thread:
                self._publisher.apply(command)
            else:
                self._loop.call_soon_threadsafe(self._publisher.apply, command)

    def _command(
        self, request: VisibilityRequest, kind: str, names: tuple[str, ...]
    ) -> tuple[RedisArg, ...]:
        if kind not in LIST_KINDS:
            raise ValueError(f"{kind!r} is not a list whose items can be turned on and off")
        declared = self._declared[kind]
        unknown = [name for name in names if name not in declared]
        if unknown:
            raise ValueError(f"no {_LABELS[kind]} registered as {', '.join(map(repr, unknown))}")
        argv = visibility_script_argv(
            request, [(name, declared[name]) for name in names], kind=kind, channel=self._channel
        )
        return ("EVALSHA", SET_VISIBILITY.sha, 1, self._keys.visibility(kind), *argv)
