"""Load the tool app (``module:attribute``) and describe it for the front.

The front never imports :mod:`workers`; this module turns a ``Toolset`` into the
``server.ToolCatalog`` the front validates and lists with.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path

import msgspec

from proto import FleetError, Prompt, Tool, param_headers_of
from server import AuthConfig, CatalogTool, LimitsConfig, ToolCatalog
from server.jwt_auth import KeyFileError, load_public_key
from server.prompt_catalog import CatalogPrompt
from server.resource_catalog import CatalogResource
from supervisor.config import ConfigError
from workers import Toolset
from workers.prompts import PromptDefinition
from workers.resources import ResourceDefinition
from workers.runtime import ToolDefinition, WorkerConfig

__all__ = ["AppLoadError", "build_catalog", "check_auth", "check_limits", "load_toolset"]

_encoder = msgspec.json.Encoder()


class AppLoadError(FleetError):
    """The configured app cannot be imported or is not a ``Toolset``."""


def load_toolset(spec: str | None) -> Toolset:
    """Import ``module:attribute`` (the current directory is importable, as for ``python -m``).

    Raises:
        AppLoadError: no app configured, bad spec, import failure, or not a ``Toolset``.
    """
    if not spec:
        raise AppLoadError(
            "no app configured: pass --app module:attribute (or set app in mcpfleet.toml)"
        )
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise AppLoadError(f"app {spec!r} must look like module:attribute (e.g. examples.demo:app)")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of user code
        raise AppLoadError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    toolset = getattr(module, attribute, None)
    if not isinstance(toolset, Toolset):
        raise AppLoadError(f"{spec!r} is {type(toolset).__name__}, not a workers.Toolset")
    return toolset


def check_auth(auth: AuthConfig, toolset: Toolset) -> None:
    """What ``[auth]`` names outside the configuration exists: its public key file holds a
    public key, and ``tool_scopes`` names registered tools (a misspelt name would leave the
    tool it meant open).

    Raises:
        ConfigError: it does not (the message names the key).
    """
    _check_tool_names("[auth] tool_scopes", auth.tool_scopes, toolset)
    if auth.public_key_file:
        try:
            load_public_key(auth.public_key_file)
        except KeyFileError as exc:
            raise ConfigError(f"invalid configuration: [auth] {exc}") from None


def check_limits(limits: LimitsConfig, toolset: Toolset) -> None:
    """``tool_rates`` names registered tools (a misspelt name would leave the tool it meant
    unlimited).

    Raises:
        ConfigError: it does not (the message names the key and the tools).
    """
    _check_tool_names("[limits] tool_rates", limits.tool_rates, toolset)


def _check_tool_names(key: str, names: Mapping[str, object], toolset: Toolset) -> None:
    unknown = sorted(set(names) - set(toolset.tools))
    if unknown:
        raise ConfigError(
            f"invalid configuration: {key} names tools the app does not register: "
            f"{', '.join(unknown)}"
        )


def build_catalog(
    toolset: Toolset,
    worker_config: WorkerConfig,
    *,
    list_ttl_ms: int,
    list_page_size: int,
    tool_scopes: Mapping[str, tuple[str, ...]] | None = None,
) -> ToolCatalog:
    """Describe ``toolset`` for the front: listings, argument types, timeouts, and the
    scopes each tool requires (``tool_scopes``, ``[auth]``'s, replaces a tool's own)."""
    default_s = worker_config.default_timeout_s
    scopes = tool_scopes or {}
    return ToolCatalog(
        server_info=toolset.server_info,
        instructions=toolset.instructions,
        tools=[
            _catalog_tool(tool, default_s, scopes.get(name, tool.scopes))
            for name, tool in toolset.tools.items()
        ],
        list_ttl_ms=list_ttl_ms,
        page_size=list_page_size,
        resources=[_catalog_resource(r, default_s) for r in toolset.resources.values()],
        prompts=[_catalog_prompt(p, default_s) for p in toolset.prompts.values()],
        completions=frozenset(toolset.completions),
    )


def _catalog_resource(resource: ResourceDefinition, default_timeout_s: float) -> CatalogResource:
    return CatalogResource(
        resource.uri,
        name=resource.name,
        title=resource.title,
        description=resource.description,
        mime_type=resource.mime_type,
        annotations=msgspec.UNSET if resource.annotations is None else resource.annotations.wire,
        args_type=resource.args.struct,
        timeout_s=resource.timeout_s or default_timeout_s,
        enabled=resource.enabled,
    )


def _catalog_prompt(prompt: PromptDefinition, default_timeout_s: float) -> CatalogPrompt:
    listing = Prompt(
        name=prompt.name,
        title=prompt.title or msgspec.UNSET,
        description=prompt.description or msgspec.UNSET,
        arguments=prompt.arguments or msgspec.UNSET,
    )
    return CatalogPrompt(
        listing,
        prompt.args.struct,
        prompt.timeout_s or default_timeout_s,
        enabled=prompt.enabled,
    )


def _catalog_tool(
    tool: ToolDefinition, default_timeout_s: float, scopes: tuple[str, ...]
) -> CatalogTool:
    output = tool.output
    listing = Tool(
        name=tool.name,
        title=tool.title or msgspec.UNSET,
        description=tool.description or msgspec.UNSET,
        icons=list(tool.icons) or msgspec.UNSET,
        input_schema=msgspec.Raw(_encoder.encode(tool.args.schema)),
        output_schema=msgspec.UNSET if output is None else _raw(output.schema),
        annotations=tool.annotations or msgspec.UNSET,
    )
    return CatalogTool(
        listing,
        tool.args.struct,
        tool.effective_timeout_s(default_timeout_s),
        param_headers_of(tool.args.schema),
        legacy_output_schema=None
        if output is None or output.is_object
        else _raw(output.legacy_schema),
        required_client=tool.required_client,
        task_support=tool.task_support,
        retryable=tool.annotations is not None and tool.annotations.idempotent_hint is True,
        input_before_task=tool.input_before_task,
        enabled=tool.enabled,
        scopes=scopes,
    )


def _raw(schema: dict[str, object]) -> msgspec.Raw:
    return msgspec.Raw(_encoder.encode(schema))
