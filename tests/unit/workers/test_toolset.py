"""``Toolset`` registration: decorator forms, names, annotations, timeouts."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from proto import ToolAnnotations
from workers import Icon, ToolDefinitionError, Toolset


def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


async def fetch(url: str) -> str:
    """Fetch a URL."""
    return url


def café() -> str:  # noqa: PLC2401  # a valid identifier, an invalid tool name
    return "x"


def test_toolset_identity() -> None:
    app = Toolset("demo")
    assert (app.name, app.version, app.title, app.instructions) == ("demo", "0.1.0", None, None)
    app2 = Toolset("demo", "2.0", title="Demo", instructions="Be nice.")
    assert (app2.version, app2.title, app2.instructions) == ("2.0", "Demo", "Be nice.")


def test_the_server_identity_carries_description_website_and_icons() -> None:
    app = Toolset(
        "demo",
        "2.0",
        title="Demo",
        description="Tools for a demo.",
        website_url="https://example.com/demo",
        icons=[Icon(src="https://example.com/demo.png", sizes=["48x48"], theme="light")],
    )
    assert msgspec.json.decode(msgspec.json.encode(app.server_info)) == {
        "name": "demo",
        "version": "2.0",
        "title": "Demo",
        "description": "Tools for a demo.",
        "icons": [{"src": "https://example.com/demo.png", "sizes": ["48x48"], "theme": "light"}],
        "websiteUrl": "https://example.com/demo",
    }
    assert msgspec.json.encode(Toolset("bare").server_info) == b'{"name":"bare","version":"0.1.0"}'


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"icons": [Icon(src="https://x/i.png", theme="blue")]},  # type: ignore[arg-type]
            r"server: invalid icons: .*theme",
            id="icon-theme",
        ),
        pytest.param(
            {"website_url": "example.com"},
            r"server: website_url must be an http\(s\) URL, not 'example.com'",
            id="website-without-scheme",
        ),
        pytest.param(
            {"website_url": "javascript:alert(1)"}, r"'javascript:alert\(1\)'", id="website-scheme"
        ),
    ],
)
def test_a_bad_server_identity_fails_when_the_app_is_declared(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=message):
        Toolset("demo", **kwargs)


def test_bare_decorator_registers_under_the_function_name() -> None:
    app = Toolset("t")
    returned = app.tool(add)
    assert returned is add
    tool = app.tools["add"]
    assert tool.name == "add"
    assert tool.fn is add
    assert tool.title is None
    assert tool.description == "Add two numbers."
    assert tool.timeout_s is None
    assert tool.annotations is None


def test_decorator_with_options() -> None:
    app = Toolset("t")
    returned = app.tool(name="math.add", title="Add", description="Sum.", timeout_s=2.5)(add)
    assert returned is add
    assert list(app.tools) == ["math.add"]
    tool = app.tools["math.add"]
    assert (tool.name, tool.title, tool.description, tool.timeout_s) == (
        "math.add",
        "Add",
        "Sum.",
        2.5,
    )


def test_tools_keep_registration_order_and_are_read_only() -> None:
    app = Toolset("t")
    app.tool(name="b")(add)
    app.tool(name="a")(add)
    app.tool(name="c")(fetch)
    assert list(app.tools) == ["b", "a", "c"]
    with pytest.raises(TypeError):
        app.tools["d"] = app.tools["a"]  # type: ignore[index]


@pytest.mark.parametrize("name", ["has space", "a" * 129, "slash/name", "ns:tool", "é"])
def test_invalid_names_raise_naming_the_tool(name: str) -> None:
    app = Toolset("t")
    with pytest.raises(ToolDefinitionError) as info:
        app.tool(name=name)(add)
    assert repr(name) in str(info.value)
    assert len(app.tools) == 0


def test_invalid_function_name_is_rejected() -> None:
    app = Toolset("t")
    with pytest.raises(ToolDefinitionError, match="café"):
        app.tool(café)


def test_longest_valid_name_is_accepted() -> None:
    app = Toolset("t")
    app.tool(name="a" * 128)(add)
    assert "a" * 128 in app.tools


def test_duplicate_names_raise_naming_the_tool() -> None:
    app = Toolset("t")
    app.tool(add)
    with pytest.raises(ToolDefinitionError, match="'add'"):
        app.tool(name="add")(fetch)
    assert app.tools["add"].fn is add


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"read_only": True}, ToolAnnotations(read_only_hint=True)),
        ({"read_only": False}, ToolAnnotations(read_only_hint=False)),
        ({"destructive": True}, ToolAnnotations(destructive_hint=True)),
        ({"idempotent": True}, ToolAnnotations(idempotent_hint=True)),
        ({"open_world": False}, ToolAnnotations(open_world_hint=False)),
        (
            {"read_only": True, "destructive": False, "idempotent": True, "open_world": False},
            ToolAnnotations(
                read_only_hint=True,
                destructive_hint=False,
                idempotent_hint=True,
                open_world_hint=False,
            ),
        ),
    ],
)
def test_annotations_only_carry_given_hints(options: dict[str, Any], expected: Any) -> None:
    app = Toolset("t")
    app.tool(**options)(add)
    annotations = app.tools["add"].annotations
    assert annotations == expected
    assert "title" not in msgspec.json.decode(msgspec.json.encode(annotations))


def test_no_hints_means_no_annotations() -> None:
    app = Toolset("t")
    app.tool(title="Add", timeout_s=1)(add)
    assert app.tools["add"].annotations is None


def test_is_async_detection() -> None:
    app = Toolset("t")
    app.tool(add)
    app.tool(fetch)
    assert app.tools["add"].is_async is False
    assert app.tools["fetch"].is_async is True


@pytest.mark.parametrize("timeout_s", [0, 0.0, -1, -0.001, float("-inf"), float("nan")])
def test_timeout_that_is_not_positive_is_rejected(timeout_s: float) -> None:
    app = Toolset("t")
    with pytest.raises(ToolDefinitionError, match="'add'"):
        app.tool(timeout_s=timeout_s)(add)
    assert len(app.tools) == 0


@pytest.mark.parametrize(("timeout_s", "effective"), [(None, 60.0), (0.001, 0.001), (5, 5)])
def test_effective_timeout(timeout_s: float | None, effective: float) -> None:
    app = Toolset("t")
    app.tool(timeout_s=timeout_s)(add)
    assert app.tools["add"].effective_timeout_s(60.0) == effective


def test_tools_prompts_and_resources_can_be_registered_turned_off() -> None:
    app = Toolset("t")

    @app.tool
    def on() -> str:
        return ""

    @app.tool(enabled=False)
    def off() -> str:
        return ""

    @app.prompt(enabled=False)
    def plan(goal: str) -> str:
        return goal

    @app.resource("items://{id}", enabled=False)
    def item(id: int) -> str:
        return ""

    @app.resource("config://app")
    def config() -> str:
        return ""

    assert [(t.name, t.enabled) for t in app.tools.values()] == [("on", True), ("off", False)]
    assert app.prompts["plan"].enabled is False
    assert {uri: r.enabled for uri, r in app.resources.items()} == {
        "items://{id}": False,
        "config://app": True,
    }


def test_scopes_are_recorded_once_each_and_default_to_none() -> None:
    app = Toolset("demo")
    app.tool(add)
    app.tool(name="guarded", scopes=["files:read", "files:write", "files:read"])(fetch)
    assert app.tools["add"].scopes == ()
    assert app.tools["guarded"].scopes == ("files:read", "files:write")


@pytest.mark.parametrize("scopes", [["files read"], [""], ['a"b'], "files:read"])
def test_a_scope_must_be_an_oauth_scope_token(scopes: Any) -> None:
    app = Toolset("demo")
    with pytest.raises(ToolDefinitionError, match="'add': scopes must be a list of OAuth scopes"):
        app.tool(scopes=scopes)(add)
