"""``mcpfleet tools|prompts|resources list|enable|disable|reset``: an operator turns the
fleet's registered items on and off at runtime, without a redeploy (ADR-0010).

    mcpfleet tools disable delete_everything     # off on every front, clients told
    mcpfleet tools enable delete_everything      # back on
    mcpfleet prompts reset onboarding            # back to what the app declares
    mcpfleet resources list                      # each one's state, and why

The app (``--app`` or the configuration) says what is registered and what it declares; the
state is changed in the fleet's Redis with the same script handlers use (``SET_VISIBILITY``),
which announces the change only when an item's state really changed. Without a Redis URL
(``--redis``, ``MCPFLEET_REDIS_URL`` or the configuration), the command acts on the fleet
``mcpfleet up`` runs from the data directory (``--data-dir``; its embedded Redis).

Output goes to stdout, one line per item; errors are one ``mcpfleet: error:`` line, exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import Final

import msgspec
import trio

from proto import (
    SET_VISIBILITY,
    FleetError,
    Keyspace,
    VisibilityRequest,
    decode_overrides,
    visibility_script_argv,
)
from server import RedisClient, open_redis, parse_redis_url
from supervisor.app_loader import load_toolset
from supervisor.config import ConfigError, FleetConfig
from workers.visibility_toggles import declared_states

__all__ = ["ACTIONS", "UnknownItemError", "run_visibility_command", "running_fleet"]

ACTIONS: Final[Mapping[str, VisibilityRequest | None]] = {
    "list": None,
    "enable": VisibilityRequest.ENABLE,
    "disable": VisibilityRequest.DISABLE,
    "reset": VisibilityRequest.RESET,
}
"""Each action, and the request it makes (``list`` makes none)."""

_COMMAND_TIMEOUT_S: Final = 5.0


class UnknownItemError(FleetError):
    """``enable``/``disable`` named an item the app does not register."""


def run_visibility_command(
    kind: str, action: str, items: Sequence[str], *, config: FleetConfig
) -> int:
    """Run one command; returns the exit code.

    Raises:
        AppLoadError: the app cannot be loaded.
        ConfigError: no Redis to act on.
        UnknownItemError: ``enable``/``disable`` of an item the app does not register
            (``reset`` takes any, to drop an override a redeploy left behind).
        BackendUnavailableError: Redis cannot be reached.
    """
    config = running_fleet(config)
    declared = declared_states(load_toolset(config.app))[kind]
    request = ACTIONS[action]
    if request is None:
        lines = trio.run(partial(_list, kind, declared, config=config))
    else:
        lines = trio.run(partial(_change, kind, request, items, declared, config=config))
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


def running_fleet(config: FleetConfig) -> FleetConfig:
    """``config`` with a Redis URL: the configured one, or that of the fleet ``mcpfleet
    up`` runs from the data directory (its fleet name too, and its app unless one is
    configured).

    Raises:
        ConfigError: no Redis URL configured and no fleet running from the data directory.
    """
    if config.redis_url is not None:
        return config
    path = Path(config.data_dir) / "run" / "fleet.json"
    try:
        running = msgspec.json.decode(path.read_bytes(), type=FleetConfig)
    except FileNotFoundError:
        raise ConfigError(
            f"no Redis to act on: give the fleet's with --redis URL (or MCPFLEET_REDIS_URL), "
            f"or run this where `mcpfleet up` keeps its data directory (no {path})"
        ) from None
    except (OSError, msgspec.MsgspecError) as exc:
        raise ConfigError(f"cannot read the running fleet's configuration {path}: {exc}") from None
    return msgspec.structs.replace(running, app=config.app or running.app)


async def _list(kind: str, declared: Mapping[str, bool], *, config: FleetConfig) -> list[str]:
    keys = Keyspace(config.fleet)
    async with _redis(config) as redis:
        overrides = decode_overrides(await redis.execute("HGETALL", keys.visibility(kind)))
    lines: list[str] = []
    for item, enabled in declared.items():
        state = overrides.get(item, enabled)
        source = "override" if item in overrides else "declared"
        lines.append(f"{item}\t{_state(state)}\t({source})")
    for item, enabled in overrides.items():
        if item not in declared:
            lines.append(f"{item}\t{_state(enabled)}\t(override of an item this app lacks)")
    return lines


async def _change(
    kind: str,
    request: VisibilityRequest,
    items: Sequence[str],
    declared: Mapping[str, bool],
    *,
    config: FleetConfig,
) -> list[str]:
    unknown = [item for item in items if item not in declared]
    if unknown and request is not VisibilityRequest.RESET:
        raise UnknownItemError(
            f"{config.app} registers no {kind} named {', '.join(map(repr, unknown))}"
        )
    keys = Keyspace(config.fleet)
    argv = visibility_script_argv(
        request,
        [(item, declared.get(item)) for item in dict.fromkeys(items)],
        kind=kind,
        channel=keys.change_channel(),
    )
    async with _redis(config) as redis:
        reply = await redis.run_script(SET_VISIBILITY, [keys.visibility(kind)], argv)
    changed = reply if isinstance(reply, int) else 0
    told = "announced to every client" if changed else "nothing changed, nothing announced"
    done = "reset" if request is VisibilityRequest.RESET else request.value
    return [f"{kind} {done}: {', '.join(items)} ({changed} changed; {told})"]


def _redis(config: FleetConfig) -> AbstractAsyncContextManager[RedisClient]:
    url = config.redis_url
    if url is None:  # pragma: no cover - running_fleet gave it one
        raise ConfigError("no Redis to act on")
    return open_redis(parse_redis_url(url), command_timeout_s=_COMMAND_TIMEOUT_S)


def _state(enabled: bool) -> str:
    return "enabled" if enabled else "disabled"
