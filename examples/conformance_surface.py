"""The conformance suite's resource, prompt and completion fixtures, registered on the
fixture app (``examples/conformance.py`` calls :func:`register`). The suite reads and gets
them by these names, and checks what each returns (its scenario's description says it):

- resources ``test://static-text``, ``test://static-binary`` (a PNG) and the template
  ``test://template/{id}/data`` (``resources-read-*``, ``resources-templates-read``), and
  ``test://watched-resource``, which ``resources-subscribe`` / ``-unsubscribe`` subscribe to;
- prompts ``test_simple_prompt``, ``test_prompt_with_arguments``,
  ``test_prompt_with_embedded_resource`` and ``test_prompt_with_image`` (``prompts-get-*``);
- a completion of ``test_prompt_with_arguments``'s ``arg1`` (``completion-complete``).
"""

from __future__ import annotations

from typing import Final

from workers import Image, TextResource, Toolset, UserMessage

__all__ = ["register"]

CITIES: Final = ("paris", "park", "party", "pasadena", "prague")
"""What ``arg1`` completes to (the scenario's example: "par" → paris, park, party)."""


def static_text() -> str:
    """A fixed text (scenario resources-read-text)."""
    return "This is the content of the static text resource."


def watched_resource() -> str:
    """A resource clients subscribe to (scenarios resources-subscribe, -unsubscribe)."""
    return "The watched resource's content."


def template_data(id: str) -> dict[str, object]:  # the name of the template's variable
    """Data for one id, echoing it (scenario resources-templates-read)."""
    return {"id": id, "templateTest": True, "data": f"Data for ID: {id}"}


def test_simple_prompt() -> str:
    """A prompt without arguments (scenario prompts-get-simple)."""
    return "This is a simple prompt for testing."


def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    """A prompt with two required arguments (scenario prompts-get-with-args).

    Args:
        arg1: First test argument
        arg2: Second test argument
    """
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:  # the suite's name
    """A prompt embedding a resource (scenario prompts-get-embedded-resource).

    Args:
        resourceUri: URI of the resource to embed
    """
    embedded = TextResource(resourceUri, "Embedded resource content for testing.", "text/plain")
    return [UserMessage(embedded), UserMessage("Please process the embedded resource above.")]


def complete_arg1(value: str, context: dict[str, str]) -> list[str]:
    """Cities starting with what was typed (scenario completion-complete)."""
    return [city for city in CITIES if city.startswith(value.lower())]


def register(app: Toolset, *, png: bytes) -> None:
    """Add the resource, prompt and completion fixtures to ``app``; ``png`` is the image
    the binary resource and the image prompt carry."""

    def static_binary() -> bytes:
        """A small PNG (scenario resources-read-binary)."""
        return png

    def test_prompt_with_image() -> list[UserMessage]:
        """A prompt carrying an image (scenario prompts-get-with-image)."""
        return [
            UserMessage(Image(png, "image/png")),
            UserMessage("Please analyze the image above."),
        ]

    app.resource("test://static-text", name="static_text", mime_type="text/plain")(static_text)
    app.resource("test://static-binary", name="static_binary", mime_type="image/png")(static_binary)
    app.resource("test://template/{id}/data", name="template_data", mime_type="application/json")(
        template_data
    )
    app.resource("test://watched-resource", name="watched_resource", mime_type="text/plain")(
        watched_resource
    )
    for prompt in (
        test_simple_prompt,
        test_prompt_with_arguments,
        test_prompt_with_embedded_resource,
        test_prompt_with_image,
    ):
        app.prompt(prompt)
    app.complete(prompt="test_prompt_with_arguments", argument="arg1")(complete_arg1)
