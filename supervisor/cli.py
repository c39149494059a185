"""The ``mcpfleet`` command.

    mcpfleet up --app examples.demo:app      # the whole fleet: Redis, front, workers
    mcpfleet up --stdio --app …              # the same, serving one client on stdin/stdout
    mcpfleet stdio --app … --redis URL       # a stdio front for a fleet already running
    mcpfleet tools disable NAME              # turn a tool off fleet-wide (also prompts,
                                             # resources; enable, reset, list)
    mcpfleet tasks list|get ID|cancel ID      # the fleet's durable tasks, every owner's
    mcpfleet status [--json]                 # processes, load, queues, scale events
    mcpfleet front|worker --config-json …    # children, started by ``up``

Only this module is imported by the console script; it imports the front and worker
stacks lazily, for the role being run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from proto import LIST_KINDS, FleetError

if TYPE_CHECKING:
    from supervisor.config import FleetConfig

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcpfleet", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up", help="start the fleet: Redis (embedded if none given), front, workers"
    )
    up.add_argument("--app", help="tool app as module:attribute, e.g. examples.demo:app")
    up.add_argument("--redis", dest="redis_url", help="Redis URL; omitted: an embedded Redis")
    up.add_argument(
        "--workers",
        metavar="N|MIN-MAX",
        help="worker processes: a fixed count, or a range the pool scales in (default 2)",
    )
    up.add_argument(
        "--fronts",
        type=_front_count,
        metavar="N|auto",
        help="HTTP front processes sharing the port (default auto: one per core, at most 2; "
        "1 with --stdio)",
    )
    transport = up.add_mutually_exclusive_group()
    transport.add_argument("--http", help="HOST:PORT of the HTTP front (default 127.0.0.1:8000)")
    transport.add_argument(
        "--stdio",
        action="store_true",
        help="serve one MCP client on stdin/stdout instead of HTTP; the fleet stops when "
        "stdin closes (what an MCP desktop client or the Inspector launches)",
    )
    up.add_argument("--data-dir", help="state directory (default ./.mcpfleet)")
    up.add_argument("--fleet", help="Redis key namespace (default 'default')")
    up.add_argument("--config", help="config file (default ./mcpfleet.toml if present)")
    up.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    stdio = sub.add_parser(
        "stdio",
        help="serve one MCP client on stdin/stdout with the workers of a running fleet",
    )
    stdio.add_argument("--app", help="tool app as module:attribute, e.g. examples.demo:app")
    stdio.add_argument("--redis", dest="redis_url", help="the fleet's Redis URL (required)")
    stdio.add_argument("--fleet", help="the fleet's Redis key namespace (default 'default')")
    stdio.add_argument("--config", help="config file (default ./mcpfleet.toml if present)")
    stdio.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    _add_visibility_commands(sub)
    _add_task_commands(sub)
    _add_status_command(sub)

    for role in ("front", "worker"):
        child = sub.add_parser(role, help=f"run one {role} process (started by `mcpfleet up`)")
        child.add_argument("--config-json", required=True, help="resolved configuration file")
        child.add_argument("--id", required=True, help="unique id of this process")
        child.add_argument("--ready-fd", type=int, help="pipe to report readiness on")
        if role == "front":
            child.add_argument("--stdio", action="store_true", help="serve on stdin/stdout")
        else:
            child.add_argument(
                "--hold-tasks",
                action="store_true",
                help="take no task from the queue (started while the fleet stops)",
            )

    sub.add_parser("version", help="print the version")
    return parser


_VISIBILITY_ACTIONS = {
    "list": "each one's state: enabled or disabled, declared by the app or an override",
    "enable": "turn on for the whole fleet (clients are told)",
    "disable": "turn off for the whole fleet: unlisted, answered as unknown",
    "reset": "back to what the app declares (drops the override)",
}


def _add_visibility_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for kind in LIST_KINDS:
        command = sub.add_parser(
            kind, help=f"turn the fleet's {kind} on and off at runtime, or list their states"
        )
        actions = command.add_subparsers(dest="action", required=True)
        for action, help_text in _VISIBILITY_ACTIONS.items():
            parser = actions.add_parser(action, help=help_text)
            if action != "list":
                item = "URI" if kind == "resources" else "NAME"
                parser.add_argument("items", nargs="+", metavar=item, help="as registered")
            parser.add_argument("--app", help="tool app as module:attribute")
            parser.add_argument(
                "--redis",
                dest="redis_url",
                help="the fleet's Redis URL (default: the fleet "
                "`mcpfleet up` runs from --data-dir)",
            )
            parser.add_argument("--fleet", help="the fleet's Redis key namespace")
            parser.add_argument("--data-dir", help="the running fleet's state directory")
            parser.add_argument("--config", help="config file (default ./mcpfleet.toml)")


_TASK_ACTIONS = {
    "list": "the fleet's tasks, every owner's, oldest first",
    "get": "one task's whole record (spec, outcome, progress) as JSON",
    "cancel": "cancel a task as its client would (a queued one never starts)",
}


def _add_task_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser("tasks", help="list, inspect and cancel the fleet's durable tasks")
    actions = command.add_subparsers(dest="action", required=True)
    for action, help_text in _TASK_ACTIONS.items():
        parser = actions.add_parser(action, help=help_text)
        if action == "list":
            parser.add_argument(
                "--status",
                choices=["working", "input_required", "completed", "failed", "cancelled"],
                help="only tasks in this status (as recorded: a tool error is completed)",
            )
            parser.add_argument("--json", action="store_true", help="a JSON array of records")
        else:
            parser.add_argument("task_id", metavar="TASK_ID")
        parser.add_argument(
            "--redis",
            dest="redis_url",
            help="the fleet's Redis URL (default: the fleet `mcpfleet up` runs from --data-dir)",
        )
        parser.add_argument("--fleet", help="the fleet's Redis key namespace")
        parser.add_argument("--data-dir", help="the running fleet's state directory")
        parser.add_argument("--config", help="config file (default ./mcpfleet.toml)")


def _add_status_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser(
        "status",
        help="the fleet's processes (pid, role, state, uptime, calls served, load), "
        "queue depths and recent scale events; exit 1 when no supervisor runs",
    )
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.add_argument(
        "--redis",
        dest="redis_url",
        help="the fleet's Redis URL (default: the fleet `mcpfleet up` runs from --data-dir)",
    )
    status.add_argument("--fleet", help="the fleet's Redis key namespace")
    status.add_argument("--data-dir", help="the running fleet's state directory")
    status.add_argument("--config", help="config file (default ./mcpfleet.toml)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mcpfleet`` command; returns the exit code (2 for usage/config errors)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except FleetError as exc:
        return _fail(exc)
    except BaseExceptionGroup as group:
        # trio nurseries wrap what their tasks raise; one of ours is still one clear line.
        found = _first_fleet_error(group)
        if found is None:
            raise
        return _fail(found)
    except KeyboardInterrupt:
        return 130


def _fail(exc: FleetError) -> int:
    sys.stderr.write(f"mcpfleet: error: {exc}\n")
    return 2


def _first_fleet_error(group: BaseExceptionGroup[BaseException]) -> FleetError | None:
    for exc in group.exceptions:
        if isinstance(exc, FleetError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_fleet_error(exc)
            if found is not None:
                return found
    return None


def _run(args: argparse.Namespace) -> int:
    if args.command == "version":
        sys.stderr.write(f"mcpfleet {_version()}\n")
        return 0
    if args.command == "front":
        from supervisor import entrypoints  # noqa: PLC0415

        if args.stdio:
            return entrypoints.run_stdio_front_process(args.config_json, args.id, args.ready_fd)
        return entrypoints.run_front_process(args.config_json, args.id, args.ready_fd)
    if args.command == "stdio":
        return _stdio(args)
    if args.command in LIST_KINDS:
        return _visibility(args)
    if args.command == "tasks":
        return _tasks(args)
    if args.command == "status":
        return _status(args)
    if args.command == "worker":
        from supervisor.entrypoints import run_worker_process  # noqa: PLC0415

        return run_worker_process(
            args.config_json, args.id, args.ready_fd, hold_tasks=args.hold_tasks
        )
    return _up(args)


def _up(args: argparse.Namespace) -> int:
    from supervisor.app_loader import (  # noqa: PLC0415
        AppLoadError,
        check_auth,
        check_limits,
        load_toolset,
    )
    from supervisor.config import ConfigError, load_config  # noqa: PLC0415
    from supervisor.data_dir_lock import lock_data_dir  # noqa: PLC0415
    from supervisor.fleet import run_fleet  # noqa: PLC0415
    from supervisor.logging_setup import configure_logging  # noqa: PLC0415
    from supervisor.metrics_dir import share_metrics_dir  # noqa: PLC0415
    from supervisor.stdio_streams import claim_protocol_streams  # noqa: PLC0415

    # First, before the app is imported here: stdout must carry nothing but the protocol.
    streams = claim_protocol_streams() if args.stdio else None
    flags: dict[str, Any] = {
        "app": args.app,
        "redis_url": args.redis_url,
        "workers": args.workers,
        "fronts": args.fronts,
        "data_dir": args.data_dir,
        "fleet": args.fleet,
        "log_level": args.log_level,
        "front": {"http": args.http},
    }
    config = load_config(flags=flags, config_path=args.config)
    if args.stdio and config.fronts not in (1, "auto"):
        raise ConfigError(
            f"--stdio serves one client through one front; fronts = {config.fronts} "
            "applies to HTTP only (drop --fronts / MCPFLEET_FRONTS, or serve over --http)"
        )
    configure_logging(config.log_level, role="supervisor")
    new_data_dir = not Path(config.data_dir).exists()
    # Before anything under the data dir is touched: one fleet per data dir.
    lock_data_dir(config.data_dir)
    # Before the app is imported: it may import prometheus_client, whose mode is fixed then.
    share_metrics_dir(config.data_dir)
    try:
        toolset = load_toolset(config.app)  # fail here, once, clearly, not in every child
        check_auth(config.auth, toolset)  # once, clearly, before any front starts
        check_limits(config.limits, toolset)
    except (AppLoadError, ConfigError):
        if new_data_dir:  # refused before anything started: leave nothing behind
            shutil.rmtree(config.data_dir, ignore_errors=True)
        raise
    longest_call_s = toolset.longest_timeout_s(config.worker.default_timeout_s)
    return trio.run(partial(run_fleet, config, stdio=streams, longest_call_s=longest_call_s))


def _stdio(args: argparse.Namespace) -> int:
    from supervisor.config import ConfigError, load_config  # noqa: PLC0415
    from supervisor.entrypoints import new_stdio_front_id, run_stdio_front  # noqa: PLC0415
    from supervisor.logging_setup import configure_logging  # noqa: PLC0415
    from supervisor.stdio_streams import claim_protocol_streams  # noqa: PLC0415

    streams = claim_protocol_streams()
    flags: dict[str, Any] = {
        "app": args.app,
        "redis_url": args.redis_url,
        "fleet": args.fleet,
        "log_level": args.log_level,
    }
    config = load_config(flags=flags, config_path=args.config)
    if config.redis_url is None:
        raise ConfigError(
            "mcpfleet stdio serves with the workers of a running fleet: give its Redis with "
            "--redis URL (or MCPFLEET_REDIS_URL); `mcpfleet up --stdio` runs a whole fleet"
        )
    configure_logging(config.log_level, role="front")
    return run_stdio_front(config, streams, front_id=new_stdio_front_id())


def _visibility(args: argparse.Namespace) -> int:
    from supervisor.config import load_config  # noqa: PLC0415
    from supervisor.logging_setup import configure_logging  # noqa: PLC0415
    from supervisor.visibility_commands import run_visibility_command  # noqa: PLC0415

    flags: dict[str, Any] = {
        "app": args.app,
        "redis_url": args.redis_url,
        "fleet": args.fleet,
        "data_dir": args.data_dir,
    }
    config = load_config(flags=flags, config_path=args.config)
    configure_logging("warning", role="cli")  # stdout is the command's output
    items = getattr(args, "items", ())
    return run_visibility_command(args.command, args.action, items, config=config)


def _operator_config(args: argparse.Namespace) -> FleetConfig:
    """The configuration of an operator command that reads a running fleet's Redis
    (``tasks``, ``status``), with logging kept off stdout (the command's output)."""
    from supervisor.config import load_config  # noqa: PLC0415
    from supervisor.logging_setup import configure_logging  # noqa: PLC0415

    flags: dict[str, Any] = {
        "redis_url": args.redis_url,
        "fleet": args.fleet,
        "data_dir": args.data_dir,
    }
    config = load_config(flags=flags, config_path=args.config)
    configure_logging("warning", role="cli")  # stdout is the command's output
    return config


def _tasks(args: argparse.Namespace) -> int:
    from supervisor.task_commands import run_task_command  # noqa: PLC0415

    config = _operator_config(args)
    return run_task_command(
        args.action,
        getattr(args, "task_id", None),
        status=getattr(args, "status", None),
        as_json=getattr(args, "json", False),
        config=config,
    )


def _status(args: argparse.Namespace) -> int:
    from supervisor.status_command import run_status_command  # noqa: PLC0415

    return run_status_command(as_json=args.json, config=_operator_config(args))


def _version() -> str:
    try:
        return version("mcpfleet")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())


def _front_count(value: str) -> int | str:
    """``--fronts``: a number, or ``auto`` (checked with the rest of the configuration)."""
    return value if value == "auto" else int(value)
