"""Items turned on and off (ADR-0010) in the front's catalogs, built from a Toolset the way
the supervisor builds them: what is listed, what is found, paging cursors bound to the items
on, and the deployment digests."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from proto import InvalidParamsError, PromptReference, ResourceTemplateReference
from server.tool_catalog import ToolCatalog
from supervisor.app_loader import build_catalog
from workers import Toolset
from workers.runtime import WorkerConfig

VERSION = "2025-11-25"


def _app(*, beta_enabled: bool = False) -> Toolset:
    app = Toolset("t")

    for name in ("alpha", "gamma", "delta"):
        app.tool(name=name)(lambda: "ok")

    @app.tool(enabled=beta_enabled)
    def beta() -> str:
        return "beta"

    @app.resource("config://app")
    def config() -> str:
        return "{}"

    @app.resource("config://secret", enabled=False)
    def secret() -> str:
        return "hush"

    @app.resource("items://{id}", enabled=False)
    def item(id: int) -> str:
        return str(id)

    @app.prompt
    def greet(name: str) -> str:
        return f"hello {name}"

    @app.prompt(enabled=False)
    def plan(goal: str) -> str:
        return goal

    @app.complete(prompt="plan", argument="goal")
    def goals(value: str, context: dict[str, str]) -> list[str]:
        return []

    return app


def _catalog(*, page_size: int = 100, beta_enabled: bool = False) -> ToolCatalog:
    return build_catalog(
        _app(beta_enabled=beta_enabled),
        WorkerConfig(),
        list_ttl_ms=0,
        list_page_size=page_size,
    )


def _names(
    list_result: Callable[..., bytes], field: str, key: str, version: str = VERSION
) -> list[str]:
    """Every entry of a list, following its cursors."""
    names: list[str] = []
    page: dict[str, Any] = json.loads(list_result(version))
    while True:
        names += [entry[key] for entry in page[field]]
        if "nextCursor" not in page:
            return names
        page = json.loads(list_result(version, page["nextCursor"]))


def _tool_names(catalog: ToolCatalog) -> list[str]:
    return _names(catalog.list_result, "tools", "name")


# --- declared off -------------------------------------------------------------------------


def test_what_is_declared_off_is_neither_listed_nor_found() -> None:
    catalog = _catalog()
    assert _tool_names(catalog) == ["alpha", "gamma", "delta"]
    assert catalog.get("beta") is None
    assert catalog.hidden == {"beta"}
    assert len(catalog) == 4  # registered: capabilities do not depend on what is on


def test_resources_and_templates_declared_off_are_not_listed_or_matched() -> None:
    catalog = _catalog()
    resources = catalog.resources
    assert _names(resources.list_result, "resources", "uri") == ["config://app"]
    assert _names(resources.templates_result, "resourceTemplates", "uriTemplate") == []
    assert resources.match("config://secret") is None
    assert resources.match("items://7") is None
    assert resources.template("items://{id}") is None
    assert len(resources) == 3


def test_a_prompt_declared_off_is_unknown_to_gets_and_completions() -> None:
    catalog = _catalog()
    assert catalog.prompts.get("plan") is None
    with pytest.raises(InvalidParamsError, match="Unknown prompt"):
        catalog.completion_target(PromptReference(name="plan"), "goal")
    assert catalog.prompts.get("greet") is not None


# --- overrides ------------------------------------------------------------------------------


def test_overrides_win_over_the_declarations() -> None:
    catalog = _catalog()
    assert catalog.apply_overrides({"beta": True, "gamma": False}) is True
    assert _tool_names(catalog) == ["alpha", "delta", "beta"]  # registration order
    assert catalog.get("gamma") is None
    beta = catalog.get("beta")
    assert beta is not None and beta.argument_problem(b"{}") is None


def test_overrides_that_change_nothing_say_so_and_keep_the_pages() -> None:
    catalog = _catalog()
    page = catalog.list_result(VERSION)
    assert catalog.apply_overrides({"alpha": True, "beta": False, "gone": False}) is False
    assert catalog.list_result(VERSION) is page


def test_dropping_an_override_restores_the_declaration() -> None:
    catalog = _catalog()
    catalog.apply_overrides({"beta": True})
    assert catalog.apply_overrides({}) is True
    assert catalog.get("beta") is None


def test_resource_and_prompt_overrides() -> None:
    catalog = _catalog()
    assert catalog.resources.apply_overrides({"items://{id}": True, "config://app": False})
    assert catalog.resources.match("config://app") is None
    found = catalog.resources.match("items://7")
    assert found is not None and found.variables == {"id": "7"}
    key, _ = catalog.completion_target(ResourceTemplateReference(uri="items://{id}"), "id")
    assert key == "resource:items://{id}:id"
    assert catalog.prompts.apply_overrides({"plan": True, "greet": False})
    assert catalog.prompts.get("plan") is not None
    assert catalog.prompts.get("greet") is None
    assert catalog.prompts.hidden == {"greet"}


# --- paging --------------------------------------------------------------------------------


def test_pages_hold_only_the_tools_on() -> None:
    catalog = _catalog(page_size=2)
    catalog.apply_overrides({"beta": True})
    assert _tool_names(catalog) == ["alpha", "gamma", "delta", "beta"]
    catalog.apply_overrides({"alpha": False})
    assert _tool_names(catalog) == ["gamma", "delta"]


def _second_page(list_result: Callable[..., bytes], field: str, key: str) -> list[str]:
    cursor = json.loads(list_result(VERSION))["nextCursor"]
    return [entry[key] for entry in json.loads(list_result(VERSION, cursor))[field]]


def test_a_cursor_from_before_a_change_is_refused() -> None:
    catalog = _catalog(page_size=2)
    cursor = json.loads(catalog.list_result(VERSION))["nextCursor"]
    assert _listed(catalog.list_result(VERSION, cursor), "tools", "name") == ["delta"]
    catalog.apply_overrides({"beta": True})  # the positions after it moved
    with pytest.raises(InvalidParamsError, match="list again without a cursor"):
        catalog.list_result(VERSION, cursor)
    catalog.apply_overrides({})  # the same tools on as when it was issued: valid again
    assert _listed(catalog.list_result(VERSION, cursor), "tools", "name") == ["delta"]


def _listed(result: bytes, field: str, key: str) -> list[str]:
    return [entry[key] for entry in json.loads(result)[field]]


def _paged_app() -> Toolset:
    """Three of each list, the last of each declared off."""
    app = Toolset("t")

    def read() -> str:
        return ""

    def read_one(id: str) -> str:
        return id

    def show() -> str:
        return ""

    for n in range(3):
        app.resource(f"static://{n}", name=f"static{n}", enabled=n < 2)(read)
        app.resource(f"tmpl{n}://{{id}}", name=f"tmpl{n}", enabled=n < 2)(read_one)
        app.prompt(name=f"p{n}", enabled=n < 2)(show)
    return app


PAGED_LISTS = [
    pytest.param("resources", "list_result", "resources", "uri", id="resources"),
    pytest.param("resources", "templates_result", "resourceTemplates", "uriTemplate", id="tmpl"),
    pytest.param("prompts", "list_result", "prompts", "name", id="prompts"),
]
THIRD = {"resources": "static://2", "resourceTemplates": "tmpl2://{id}", "prompts": "p2"}


@pytest.mark.parametrize(("part", "method", "field", "key"), PAGED_LISTS)
@pytest.mark.parametrize("version", ["2025-11-25", "2026-07-28"])
def test_every_list_refuses_a_cursor_from_before_a_toggle(
    part: str, method: str, field: str, key: str, version: str
) -> None:
    """Resources, templates and prompts are paged by the same ``ListPages`` as tools: their
    pages hold only the items on, rebuilt when that changes, and their cursors are bound to
    the items off."""
    catalog = build_catalog(_paged_app(), WorkerConfig(), list_ttl_ms=0, list_page_size=1)
    items = getattr(catalog, part)
    list_result = getattr(items, method)
    cursor = json.loads(list_result(version))["nextCursor"]
    second = _listed(list_result(version, cursor), field, key)
    assert _names(list_result, field, key, version)[1:] == second

    assert items.apply_overrides({THIRD[field]: True}) is True
    with pytest.raises(InvalidParamsError, match="list again without a cursor"):
        list_result(version, cursor)
    listed = _names(list_result, field, key, version)
    assert listed[1:] == [*second, THIRD[field]]  # the new pages hold the item turned on

    assert items.apply_overrides({}) is True  # the same items on as when it was issued
    assert _listed(list_result(version, cursor), field, key) == second


def test_a_resource_cursor_is_bound_only_to_the_resources_off_and_a_template_one_likewise() -> None:
    catalog = build_catalog(_paged_app(), WorkerConfig(), list_ttl_ms=0, list_page_size=1)
    resources = catalog.resources
    resource_cursor = json.loads(resources.list_result(VERSION))["nextCursor"]
    template_cursor = json.loads(resources.templates_result(VERSION))["nextCursor"]
    resources.apply_overrides({"tmpl2://{id}": True})  # a template: resources/list unchanged
    assert _listed(resources.list_result(VERSION, resource_cursor), "resources", "uri")
    with pytest.raises(InvalidParamsError):
        resources.templates_result(VERSION, template_cursor)
    resources.apply_overrides({"static://0": False})  # a resource: now its cursor goes
    with pytest.raises(InvalidParamsError):
        resources.list_result(VERSION, resource_cursor)


def test_cursors_are_what_they_were_while_nothing_is_off() -> None:
    catalog = _catalog(page_size=2, beta_enabled=True)
    cursor = json.loads(catalog.list_result(VERSION))["nextCursor"]
    method, tag, _ = base64.urlsafe_b64decode(cursor + "==").split(b":")
    assert (method, tag) == (b"tools/list", catalog.digest[:32].encode())


# --- deployment digests ---------------------------------------------------------------------


def test_what_a_deployment_declares_off_is_part_of_its_digests() -> None:
    off, on = _catalog(), _catalog(beta_enabled=True)
    assert off.digest != on.digest
    assert off.prompts.digest == _catalog().prompts.digest


def test_overrides_do_not_change_the_deployment_digests() -> None:
    catalog = _catalog()
    before = catalog.digests
    catalog.apply_overrides({"beta": True})
    catalog.resources.apply_overrides({"config://secret": True})
    catalog.prompts.apply_overrides({"plan": True})
    assert catalog.digests == before


def test_an_app_that_declares_nothing_off_keeps_its_digest() -> None:
    """The digest before ADR-0010 hashed the entries alone: upgrading does not announce."""
    catalog = _catalog(beta_enabled=True)
    tools = [catalog.get(name) for name in ("alpha", "gamma", "delta", "beta")]
    entries = [tool.listing for tool in tools if tool is not None]
    assert len(entries) == 4
    assert catalog.digest == hashlib.sha256(msgspec.json.encode(entries)).hexdigest()
