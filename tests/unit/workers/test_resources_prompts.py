"""Registering resources, prompts and completions on a Toolset, and rendering what their
handlers return (ADR-0007)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proto import ImageContent, ResultMeta
from proto import Implementation as Impl
from workers import (
    AssistantMessage,
    BlobResource,
    Completion,
    Image,
    ResourceLink,
    TextResource,
    ToolContext,
    ToolDefinitionError,
    Toolset,
    UserMessage,
)
from workers.completions import render_completion
from workers.prompts import render_prompt
from workers.resources import render_read

META = ResultMeta(server_info=Impl(name="t", version="1"))
MODERN = "2026-07-28"
LEGACY = "2025-11-25"


def decoded(raw: bytes) -> Any:
    return json.loads(raw)


# --- registration -----------------------------------------------------------------------------


def test_static_resources_and_templates_are_told_apart() -> None:
    app = Toolset("t")

    @app.resource("config://app", mime_type="application/json")
    def config() -> str:
        """The app's configuration."""
        return "{}"

    @app.resource("users://{user_id}/profile{?fields}")
    async def profile(user_id: int, ctx: ToolContext, fields: str = "") -> str:
        return ""

    static, template = (
        app.resources["config://app"],
        app.resources["users://{user_id}/profile{?fields}"],
    )
    assert not static.is_template and static.description == "The app's configuration."
    assert template.is_template and template.is_async
    assert template.template.match("users://7/profile") == {"user_id": "7"}
    assert template.args.context_param == "ctx"


@pytest.mark.parametrize(
    ("uri", "source", "reason"),
    [
        ("users://{id}", "def f() -> str: return ''", "must be the template's variables"),
        ("users://{id}", "def f(id: str, other: str) -> str: return ''", "must be the template"),
        ("config://app", "def f(x: str) -> str: return ''", "must be the template's variables"),
        ("q://x{?a}", "def f(a: str) -> str: return ''", "need defaults"),
        ("bad://{a:3}", "def f(a: str) -> str: return ''", "plain variable name"),
    ],
)
def test_resource_handlers_must_match_their_template(uri: str, source: str, reason: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    with pytest.raises(ToolDefinitionError, match=reason) as info:
        Toolset("t").resource(uri)(namespace["f"])
    assert repr(uri) in str(info.value)


def _empty() -> str:
    return ""


def test_a_uri_registered_twice_is_refused() -> None:
    app = Toolset("t")
    app.resource("config://app")(_empty)
    with pytest.raises(ToolDefinitionError, match="registered twice"):
        app.resource("config://app")(_empty)


def test_prompt_arguments_come_from_the_signature_and_docstring() -> None:
    app = Toolset("t")

    @app.prompt
    def review(code: str, ctx: ToolContext, language: str = "python") -> str:
        """Ask for a review.

        Args:
            code: the code to review.
            language: its language.
        """
        return code

    prompt = app.prompts["review"]
    assert prompt.description == "Ask for a review."
    assert [(a.name, a.required, a.description) for a in prompt.arguments] == [
        ("code", True, "the code to review."),
        ("language", False, "its language."),
    ]
    assert prompt.required == {"code"}
    with pytest.raises(ToolDefinitionError, match="registered twice"):
        app.prompt(name="review")(_empty)


def _city(city: str) -> str:
    return city


def _suggest(value: str, context: dict[str, str]) -> list[str]:
    return []


def test_completions_need_a_known_target_and_argument() -> None:
    app = Toolset("t")
    app.prompt(name="p")(_city)
    app.resource("w://{city}")(_city)
    app.complete(prompt="p", argument="city")(_suggest)
    app.complete(resource="w://{city}", argument="city")(_suggest)
    assert sorted(app.completions) == ["prompt:p:city", "resource:w://{city}:city"]
    for kwargs, reason in [
        ({"argument": "city"}, "exactly one"),
        ({"argument": "city", "prompt": "p", "resource": "w://{city}"}, "exactly one"),
        ({"argument": "city", "prompt": "nope"}, "register prompt 'nope' first"),
        ({"argument": "x", "prompt": "p"}, "no such argument"),
        ({"argument": "city", "resource": "w://static"}, "register resource template"),
    ]:
        with pytest.raises(ToolDefinitionError, match=reason):
            app.complete(**kwargs)
    with pytest.raises(ToolDefinitionError, match="registered twice"):
        app.complete(prompt="p", argument="city")(_suggest)


def test_a_completion_takes_the_value_the_context_and_maybe_a_tool_context() -> None:
    app = Toolset("t")
    app.prompt(name="p")(_city)

    def with_context(typed: str, chosen: dict[str, str], ctx: ToolContext) -> list[str]:
        return []

    app.complete(prompt="p", argument="city")(with_context)
    definition = app.completions["prompt:p:city"]
    assert (definition.parameters, definition.context_param) == (("typed", "chosen"), "ctx")

    def only_value(value: str) -> list[str]:
        return []

    other = Toolset("u")
    other.prompt(name="p")(_city)
    with pytest.raises(ToolDefinitionError, match=r"takes \(value: str, context"):
        other.complete(prompt="p", argument="city")(only_value)


def test_prompt_signature_errors_name_the_prompt() -> None:
    def untyped(city):  # type: ignore[no-untyped-def]
        return city

    with pytest.raises(ToolDefinitionError, match="prompt 'p': parameter 'city' needs a type hint"):
        Toolset("t").prompt(name="p")(untyped)


# --- rendering --------------------------------------------------------------------------------


def test_reads_render_text_bytes_data_and_helpers() -> None:
    def read(value: object, mime_type: str | None = None, version: str = LEGACY) -> Any:
        raw = render_read(
            value, uri="r://x", mime_type=mime_type, version=version, meta=META, ttl_ms=0
        )
        return decoded(raw)

    assert read("hi") == {"contents": [{"uri": "r://x", "text": "hi", "mimeType": "text/plain"}]}
    assert read(b"\x00\x01", "image/png")["contents"] == [
        {"uri": "r://x", "blob": "AAE=", "mimeType": "image/png"}
    ]
    assert read({"a": [1]})["contents"][0]["text"] == '{"a":[1]}'
    assert read([1, 2])["contents"][0]["mimeType"] == "application/json"
    many = read([TextResource("r://a", "a"), BlobResource("r://b", b"b", "x/y")])
    assert many["contents"] == [
        {"uri": "r://a", "text": "a", "mimeType": "text/plain"},
        {"uri": "r://b", "blob": "Yg==", "mimeType": "x/y"},
    ]
    modern = read("hi", version=MODERN)
    assert (modern["resultType"], modern["ttlMs"], modern["cacheScope"]) == (
        "complete",
        0,
        "public",
    )
    assert "resultType" not in read("hi")
    with pytest.raises(TypeError, match="resource handler returned object"):
        read(object())


def test_prompts_render_messages() -> None:
    image = ImageContent(data="AA==", mime_type="image/png")
    result = decoded(
        render_prompt(
            ["hello", AssistantMessage("hi there"), UserMessage(image)],
            description="d",
            version=LEGACY,
            meta=META,
        )
    )
    assert result == {
        "messages": [
            {"role": "user", "content": {"type": "text", "text": "hello"}},
            {"role": "assistant", "content": {"type": "text", "text": "hi there"}},
            {"role": "user", "content": {"type": "image", "data": "AA==", "mimeType": "image/png"}},
        ],
        "description": "d",
    }
    assert (
        decoded(render_prompt("x", description=None, version=MODERN, meta=META))["resultType"]
        == "complete"
    )
    with pytest.raises(TypeError, match="prompt handler returned int"):
        render_prompt(3, description=None, version=LEGACY, meta=META)


def test_prompt_messages_take_content_helpers_shaped_for_the_version() -> None:
    link = ResourceLink(uri="f://a", name="a")
    messages = [
        UserMessage(Image(b"\x00", "image/png")),
        UserMessage(BlobResource("f://b", b"\x01")),
    ]
    result = decoded(
        render_prompt([*messages, UserMessage(link)], description=None, version=LEGACY, meta=META)
    )
    assert [m["content"] for m in result["messages"]] == [
        {"type": "image", "data": "AA==", "mimeType": "image/png"},
        {"type": "resource", "resource": {"uri": "f://b", "blob": "AQ=="}},
        {"type": "resource_link", "uri": "f://a", "name": "a"},
    ]
    # 2025-03-26 has no resource links: the link becomes text naming it.
    oldest = decoded(
        render_prompt(UserMessage(link), description=None, version="2025-03-26", meta=META)
    )
    assert oldest["messages"][0]["content"] == {"type": "text", "text": "Resource link: a <f://a>"}


def test_completions_render_and_are_capped_at_100() -> None:
    plain = decoded(render_completion(["paris", "park"], version=LEGACY, meta=META))
    assert plain == {"completion": {"values": ["paris", "park"], "total": 2, "hasMore": False}}
    many = decoded(render_completion([str(i) for i in range(150)], version=LEGACY, meta=META))
    assert len(many["completion"]["values"]) == 100 and many["completion"]["hasMore"] is True
    explicit = decoded(
        render_completion(
            Completion(values=["a"], total=9, has_more=True), version=MODERN, meta=META
        )
    )
    assert explicit["completion"] == {"values": ["a"], "total": 9, "hasMore": True}
    assert explicit["resultType"] == "complete"
    with pytest.raises(TypeError, match="completion handler returned"):
        render_completion([1, 2], version=LEGACY, meta=META)
