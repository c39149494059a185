"""docs/tool-authoring.md stays true: its Python snippets run, in order, as one module, and
each JSON block under a marker comment equals what the runtime produces.

Markers (HTML comments, invisible when the page is rendered):
- ``<!-- schema: TOOL input|output VERSION -->``: the tool's listed inputSchema/outputSchema;
- ``<!-- listing: TOOL VERSION -->``: the tool's whole listing entry;
- ``<!-- resource: URI VERSION -->``: the listing entry of a resource or template;
- ``<!-- server-info: NAME VERSION -->``: the ``serverInfo`` of the page's ``Toolset``
  bound to ``NAME``, as that revision's ``initialize`` result carries it;
- ``<!-- call: TOOL ARGUMENTS VERSION -->``: the result of that call, through the front's
  argument check and the worker's handler runner;
- ``<!-- read: URI VERSION -->``, ``<!-- prompt: NAME ARGUMENTS VERSION -->`` and
  ``<!-- complete: KEY VALUE VERSION -->``: the result of that read, prompt get or completion
  (``KEY`` as ``completion_key`` files it), through the front's catalog and the worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from proto import (
    CallKind,
    CallMessage,
    CompletionArguments,
    ResourceReadArguments,
    ResultMeta,
    TextContent,
    build_call_result,
    encode_call_arguments,
    implementation_for_version,
    validation_failure_is_tool_error,
)
from server import ToolCatalog
from supervisor.app_loader import build_catalog
from tests.fixtures.calls import call_message
from workers import Toolset
from workers.handler_jobs import HandlerJob, HandlerJobs
from workers.handler_runner import HandlerRunner
from workers.metrics import WorkerMetrics
from workers.result_render import ResultRenderer
from workers.runtime import WorkerConfig

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "tool-authoring.md"
_PYTHON = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_MARKED = re.compile(r"^<!-- ([\w-]+): (.*?) -->\n```json\n(.*?)^```", re.S | re.M)


@pytest.fixture(scope="module")
def guide() -> Iterator[types.ModuleType]:
    """The page's snippets executed as one module (registered, so dataclasses and type
    hints resolve as in a real app)."""
    module = types.ModuleType("tool_authoring_guide")
    sys.modules[module.__name__] = module
    try:
        for snippet in _PYTHON.findall(GUIDE.read_text(encoding="utf-8")):
            exec(compile(snippet, str(GUIDE), "exec"), module.__dict__)
        yield module
    finally:
        del sys.modules[module.__name__]


@pytest.fixture(scope="module")
def app(guide: types.ModuleType) -> Toolset:
    toolset = guide.app
    assert isinstance(toolset, Toolset)
    return toolset


@pytest.fixture(scope="module")
def catalog(app: Toolset) -> ToolCatalog:
    return build_catalog(app, WorkerConfig(), list_ttl_ms=60_000, list_page_size=100)


def _markers() -> list[tuple[str, str, str]]:
    return _MARKED.findall(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_has_snippets_and_checked_blocks(app: Toolset) -> None:
    kinds = {kind for kind, _, _ in _markers()}
    assert kinds == {
        "schema",
        "listing",
        "resource",
        "server-info",
        "call",
        "read",
        "prompt",
        "complete",
    }
    assert len(app.tools) >= 8


_SERVED = [m for m in _markers() if m[0] != "server-info"]
_IDENTITIES = [(spec, shown) for kind, spec, shown in _markers() if kind == "server-info"]


@pytest.mark.parametrize(("spec", "shown"), _IDENTITIES, ids=[s for s, _ in _IDENTITIES])
def test_each_server_info_block_is_what_initialize_sends(
    guide: types.ModuleType, spec: str, shown: str
) -> None:
    name, version = spec.split(" ")
    toolset = getattr(guide, name)
    assert isinstance(toolset, Toolset)
    shaped = implementation_for_version(toolset.server_info, version)
    assert json.loads(msgspec.json.encode(shaped)) == json.loads(shown)


@pytest.mark.parametrize(
    ("kind", "spec", "shown"), _SERVED, ids=[f"{k}:{s}" for k, s, _ in _SERVED]
)
def test_each_json_block_is_what_the_runtime_produces(
    app: Toolset, catalog: ToolCatalog, kind: str, spec: str, shown: str
) -> None:
    expected = json.loads(shown)
    if kind == "call":
        name, rest = spec.split(" ", 1)
        arguments, version = rest.rsplit(" ", 1)
        assert _call(app, catalog, name, arguments.encode(), version) == expected
        return
    if kind == "read":
        uri, version = spec.rsplit(" ", 1)
        assert _read(app, catalog, uri, version) == expected
        return
    if kind in ("prompt", "complete"):
        target, rest = spec.split(" ", 1)
        arguments, version = rest.rsplit(" ", 1)
        if kind == "prompt":
            prompt = catalog.prompts.get(target)
            assert prompt is not None and prompt.arguments_problem(json.loads(arguments)) is None
            call = call_message(CallKind.PROMPT, target, arguments.encode(), version)
        else:
            assert target in catalog.completions, target
            value = encode_call_arguments(CompletionArguments(json.loads(arguments)))
            call = call_message(CallKind.COMPLETE, target, value, version)
        assert _run(app, call) == expected
        return
    if kind == "listing":
        name, version = spec.split(" ")
        assert _entry(catalog, name, version) == expected
        return
    if kind == "resource":
        uri, version = spec.split(" ")
        assert _resource_entry(catalog, uri, version) == expected
        return
    name, which, version = spec.split(" ")
    assert _entry(catalog, name, version)[f"{which}Schema"] == expected


def _entry(catalog: ToolCatalog, name: str, version: str) -> dict[str, Any]:
    tool = catalog.get(name)
    assert tool is not None, name
    entry: dict[str, Any] = json.loads(msgspec.json.encode(tool.listing_for(version)))
    return entry


def _resource_entry(catalog: ToolCatalog, uri: str, version: str) -> dict[str, Any]:
    """The entry of ``uri`` in the version's ``resources/list`` or templates list."""
    listed = json.loads(catalog.resources.list_result(version))["resources"]
    listed += json.loads(catalog.resources.templates_result(version))["resourceTemplates"]
    found = [e for e in listed if uri in (e.get("uri"), e.get("uriTemplate"))]
    assert len(found) == 1, uri
    return found[0]  # type: ignore[no-any-return]


def _call(
    app: Toolset, catalog: ToolCatalog, name: str, arguments: bytes, version: str
) -> dict[str, Any]:
    """A call as the fleet makes it: the front checks the arguments, a worker runs it."""
    listed = catalog.get(name)
    assert listed is not None, name
    problem = listed.argument_problem(arguments)
    if problem is not None:
        assert validation_failure_is_tool_error(version), "a -32602 error, not a result"
        meta = ResultMeta(server_info=catalog.server_info)
        result = build_call_result(
            [TextContent(text=problem)], is_error=True, structured=None, version=version, meta=meta
        )
        return json.loads(msgspec.json.encode(result))  # type: ignore[no-any-return]
    return _run(app, call_message(CallKind.TOOL, name, arguments, version))


def _read(app: Toolset, catalog: ToolCatalog, uri: str, version: str) -> dict[str, Any]:
    """A read as the fleet makes it: the front matches the URI, a worker reads it."""
    found = catalog.resources.match(uri)
    assert found is not None, uri
    assert found.resource.variables_problem(found.variables) is None
    arguments = encode_call_arguments(ResourceReadArguments(uri, found.variables))
    return _run(app, call_message(CallKind.RESOURCE, found.resource.uri, arguments, version))


def _run(app: Toolset, call: CallMessage) -> dict[str, Any]:
    """What a worker answers ``call`` with (a result, never an error in this guide)."""
    server_info = app.server_info
    jobs = HandlerJobs(
        app,
        ResultRenderer(server_info),
        meta=ResultMeta(server_info=server_info),
        default_timeout_s=10,
    )
    job = jobs.prepare(call)
    assert isinstance(job, HandlerJob), job
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        body, _ = asyncio.run(
            HandlerRunner(executor, WorkerMetrics()).run(
                job, call, timeout_s=10, progress_sink=None, cancel_flag=threading.Event()
            )
        )
    assert isinstance(body, bytes)
    return json.loads(body)  # type: ignore[no-any-return]
