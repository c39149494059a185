"""The front's resource and prompt catalogs, built from a Toolset the way the supervisor
builds them (ADR-0007): listings per version, URI matching, argument checks."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from msgspec import UNSET

from proto import InvalidParamsError, PromptReference, ResourceTemplateReference
from server.tool_catalog import ToolCatalog
from supervisor.app_loader import build_catalog
from workers import Annotations, ToolDefinitionError, Toolset
from workers.runtime import WorkerConfig


def _app() -> Toolset:
    app = Toolset("t")

    @app.resource("config://app", mime_type="application/json", title="Config")
    def config() -> str:
        """The app's configuration."""
        return "{}"

    @app.resource("users://{user_id}/profile{?fields}")
    def profile(user_id: int, fields: str = "") -> str:
        return ""

    @app.resource("files:///{+path}")
    def files(path: str) -> str:
        return ""

    @app.prompt
    def review(code: str, language: str = "python") -> str:
        """Ask for a review.

        Args:
            code: the code to review.
        """
        return code

    @app.complete(prompt="review", argument="language")
    def languages(value: str, context: dict[str, str]) -> list[str]:
        return []

    return app


def _catalog() -> ToolCatalog:
    return build_catalog(_app(), WorkerConfig(), list_ttl_ms=5000, list_page_size=100)


def decoded(raw: bytes) -> Any:
    return json.loads(raw)


def test_static_resources_and_templates_are_listed_apart() -> None:
    resources = _catalog().resources
    assert decoded(resources.list_result("2025-11-25")) == {
        "resources": [
            {
                "uri": "config://app",
                "name": "config",
                "title": "Config",
                "description": "The app's configuration.",
                "mimeType": "application/json",
            }
        ]
    }
    templates = decoded(resources.templates_result("2026-07-28"))
    assert [t["uriTemplate"] for t in templates["resourceTemplates"]] == [
        "users://{user_id}/profile{?fields}",
        "files:///{+path}",
    ]
    assert (templates["resultType"], templates["ttlMs"], templates["cacheScope"]) == (
        "complete",
        5000,
        "public",
    )
    assert templates["_meta"] == {
        "io.modelcontextprotocol/serverInfo": {"name": "t", "version": "0.1.0"}
    }


def test_uris_match_static_resources_first_then_templates_in_order() -> None:
    resources = _catalog().resources
    static = resources.match("config://app")
    assert static is not None and static.resource.uri == "config://app" and static.variables == {}
    profile = resources.match("users://7/profile?fields=name")
    assert profile is not None and profile.variables == {"user_id": "7", "fields": "name"}
    assert profile.resource.variables_problem(profile.variables) is None
    nested = resources.match("files:///a/b.txt")
    assert nested is not None and nested.variables == {"path": "a/b.txt"}
    assert resources.match("users://7/other") is None
    assert resources.match("nope://x") is None


def test_template_values_that_do_not_fit_the_handler_are_named() -> None:
    match = _catalog().resources.match("users://seven/profile")
    assert match is not None
    problem = match.resource.variables_problem(match.variables)
    assert problem is not None and "Expected `int`" in problem


def test_prompts_are_listed_with_their_arguments_and_checked() -> None:
    prompts = _catalog().prompts
    listing = decoded(prompts.list_result("2025-06-18"))
    assert listing == {
        "prompts": [
            {
                "name": "review",
                "description": "Ask for a review.",
                "arguments": [
                    {"name": "code", "description": "the code to review.", "required": True},
                    {"name": "language", "required": False},
                ],
            }
        ]
    }
    review = prompts.get("review")
    assert review is not None
    assert review.arguments_problem({"code": "x"}) is None
    missing = review.arguments_problem({})
    assert missing is not None and "missing required field `code`" in missing
    unknown = review.arguments_problem({"code": "x", "tone": "nice"})
    assert unknown is not None and "tone" in unknown
    assert prompts.get("nope") is None


def test_completion_keys_reach_the_front() -> None:
    assert _catalog().completions == frozenset({"prompt:review:language"})


def test_a_completion_reference_resolves_to_its_key_and_time_limit() -> None:
    catalog = _catalog()
    prompt = PromptReference(name="review")
    assert catalog.completion_target(prompt, "language") == ("prompt:review:language", 60.0)
    template = ResourceTemplateReference(uri="users://{user_id}/profile{?fields}")
    key, _ = catalog.completion_target(template, "fields")
    assert key == "resource:users://{user_id}/profile{?fields}:fields"
    for ref, argument, reason in [
        (PromptReference(name="nope"), "x", "Unknown prompt: nope"),
        (prompt, "tone", "Prompt 'review' has no argument 'tone'"),
        (ResourceTemplateReference(uri="config://app"), "x", "Unknown resource template"),
        (template, "nope", "has no variable 'nope'"),
    ]:
        with pytest.raises(InvalidParamsError, match=reason):
            catalog.completion_target(ref, argument)


def test_an_app_with_only_tools_has_empty_catalogs() -> None:
    catalog = build_catalog(Toolset("t"), WorkerConfig(), list_ttl_ms=0, list_page_size=100)
    assert len(catalog.resources) == 0 and len(catalog.prompts) == 0
    assert decoded(catalog.resources.list_result("2025-11-25")) == {"resources": []}


# --- pages (the mechanics: test_list_pages.py) ---------------------------------------------


def _walk(list_result: Callable[..., bytes], key: str, version: str) -> list[list[str]]:
    """The entries of every page, following ``nextCursor`` (first page: no cursor)."""
    pages = [decoded(list_result(version, UNSET))]
    while "nextCursor" in pages[-1]:
        pages.append(decoded(list_result(version, pages[-1]["nextCursor"])))
    return [[e.get("uri") or e.get("uriTemplate") or e["name"] for e in p[key]] for p in pages]


@pytest.mark.parametrize("version", ["2025-03-26", "2026-07-28"])
def test_every_list_is_paged_on_its_own(version: str) -> None:
    catalog = build_catalog(_app(), WorkerConfig(), list_ttl_ms=0, list_page_size=1)
    resources, prompts = catalog.resources, catalog.prompts
    assert _walk(resources.list_result, "resources", version) == [["config://app"]]
    assert _walk(resources.templates_result, "resourceTemplates", version) == [
        ["users://{user_id}/profile{?fields}"],
        ["files:///{+path}"],
    ]
    assert _walk(prompts.list_result, "prompts", version) == [["review"]]


def test_a_template_cursor_does_not_open_a_resource_page_nor_the_other_way_round() -> None:
    app = _app()

    @app.resource("more://static")
    def more() -> str:
        return ""

    catalog = build_catalog(app, WorkerConfig(), list_ttl_ms=0, list_page_size=1)
    resources = catalog.resources
    resource_cursor = decoded(resources.list_result("2025-11-25"))["nextCursor"]
    template_cursor = decoded(resources.templates_result("2025-11-25"))["nextCursor"]
    assert decoded(resources.list_result("2025-11-25", resource_cursor))["resources"]
    for refused in (
        lambda: resources.list_result("2025-11-25", template_cursor),
        lambda: resources.templates_result("2025-11-25", resource_cursor),
        lambda: catalog.prompts.list_result("2025-11-25", template_cursor),
        lambda: catalog.list_result("2025-11-25", resource_cursor),
    ):
        with pytest.raises(InvalidParamsError, match="list again without a cursor"):
            refused()


# --- per-version entries: titles and annotations --------------------------------------------


def _annotated() -> Toolset:
    app = Toolset("t")
    hints = Annotations(
        audience=["assistant"],
        priority=0.2,
        last_modified=datetime.datetime(2025, 1, 12, 15, 0, 58, tzinfo=datetime.UTC),
    )

    @app.resource("notes://today", title="Today", annotations=hints)
    def today() -> str:
        return ""

    @app.resource("notes://{day}", annotations=Annotations(priority=1))
    def day(day: str) -> str:
        return ""

    @app.prompt(title="Summary")
    def summary(topic: str) -> str:
        return topic

    return app


DATED = {"audience": ["assistant"], "priority": 0.2, "lastModified": "2025-01-12T15:00:58Z"}


@pytest.mark.parametrize(
    ("version", "resource", "template", "prompt"),
    [
        (
            "2025-03-26",
            {"uri": "notes://today", "name": "today",
             "annotations": {"audience": ["assistant"], "priority": 0.2}},
            {"uriTemplate": "notes://{day}", "name": "day", "annotations": {"priority": 1}},
            {"name": "summary", "arguments": [{"name": "topic", "required": True}]},
        ),
        (
            "2025-06-18",
            {"uri": "notes://today", "name": "today", "title": "Today", "annotations": DATED},
            {"uriTemplate": "notes://{day}", "name": "day", "annotations": {"priority": 1}},
            {"name": "summary", "title": "Summary",
             "arguments": [{"name": "topic", "required": True}]},
        ),
        (
            "2026-07-28",
            {"uri": "notes://today", "name": "today", "title": "Today", "annotations": DATED},
            {"uriTemplate": "notes://{day}", "name": "day", "annotations": {"priority": 1}},
            {"name": "summary", "title": "Summary",
             "arguments": [{"name": "topic", "required": True}]},
        ),
    ],
)  # fmt: skip
def test_entries_carry_only_their_revisions_fields(
    version: str, resource: dict[str, Any], template: dict[str, Any], prompt: dict[str, Any]
) -> None:
    catalog = build_catalog(_annotated(), WorkerConfig(), list_ttl_ms=0, list_page_size=100)
    assert decoded(catalog.resources.list_result(version))["resources"] == [resource]
    assert decoded(catalog.resources.templates_result(version))["resourceTemplates"] == [template]
    assert decoded(catalog.prompts.list_result(version))["prompts"] == [prompt]


def test_resource_annotations_must_be_the_checked_helper() -> None:
    app = Toolset("t")
    with pytest.raises(ToolDefinitionError, match=r"resource 'notes://x': annotations must be"):

        @app.resource("notes://x", annotations={"priority": 2})  # type: ignore[arg-type]
        def x() -> str:
            return ""
