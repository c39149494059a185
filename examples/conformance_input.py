"""The conformance suite's fixtures that ask the client for input, registered on the fixture
app (``examples/conformance.py`` calls :func:`register`). The same handler code serves both
eras (ADR-0009): in the handshake era the requests go to the client on the call's stream
and the handler waits; at 2026-07-28 the call answers ``InputRequiredResult`` and the
handler runs again when the client retries with the answers.

- handshake era (2025-11-25): ``test_sampling``, ``test_elicitation``,
  ``test_elicitation_sep1034_defaults``, ``test_elicitation_sep1330_enums``;
- 2026-07-28 (``input-required-result-*`` and ``server-stateless``):
  ``test_input_required_result_*``, the prompt ``test_input_required_result_prompt``,
  ``test_streaming_elicitation`` and ``test_missing_capability`` (declares that it needs
  sampling, so a client without it is refused with -32021 before anything runs).
"""

from __future__ import annotations

from typing import Any, Final

from workers import (
    ToolContext,
    Toolset,
    UserMessage,
    elicitation_request,
    roots_request,
    sampling_request,
)

__all__ = ["register"]

_USER_FORM: Final = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}

_DEFAULTS_FORM: Final = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {
            "type": "string",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "default": True},
    },
}

_ENUMS_FORM: Final = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
}


def _form(field: str, kind: str = "string") -> dict[str, Any]:
    return {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}


# --- handshake era --------------------------------------------------------------------------


async def test_sampling(ctx: ToolContext, prompt: str) -> str:
    """Ask the client's model to answer the prompt."""
    answer = await ctx.sample(prompt, max_tokens=100)
    return f"LLM response: {answer.text}"


async def test_elicitation(ctx: ToolContext, message: str) -> str:
    """Ask the user for a name and an email address."""
    answer = await ctx.elicit(message, _USER_FORM)
    return f"User response: action={answer.action}, content={answer.content}"


async def test_elicitation_sep1034_defaults(ctx: ToolContext) -> str:
    """Ask with a form whose every field has a default (SEP-1034)."""
    answer = await ctx.elicit("Please review your profile", _DEFAULTS_FORM)
    return f"Elicitation completed: action={answer.action}, content={answer.content}"


async def test_elicitation_sep1330_enums(ctx: ToolContext) -> str:
    """Ask with the five kinds of enum field (SEP-1330)."""
    answer = await ctx.elicit("Please choose", _ENUMS_FORM)
    return f"Elicitation completed: action={answer.action}, content={answer.content}"


# --- 2026-07-28 -----------------------------------------------------------------------------


async def test_input_required_result_elicitation(ctx: ToolContext) -> str:
    """Ask the user's name, then greet them."""
    answer = await ctx.elicit("What is your name?", _form("name"), key="user_name")
    name = (answer.content or {}).get("name", "stranger")
    return f"Hello, {name}!"


async def test_input_required_result_sampling(ctx: ToolContext) -> str:
    """Ask the client's model a question."""
    answer = await ctx.sample(
        "What is the capital of France?", max_tokens=100, key="capital_question"
    )
    return f"The model says: {answer.text}"


async def test_input_required_result_list_roots(ctx: ToolContext) -> str:
    """List the client's roots."""
    roots = await ctx.list_roots(key="client_roots")
    return "Roots: " + ", ".join(root.uri for root in roots)


async def test_input_required_result_request_state(ctx: ToolContext) -> str:
    """Ask for a confirmation; ``state-ok`` once the echoed requestState was verified (the
    front opens it before the handler runs again: ``ctx.input_round`` counts the rounds
    it vouched for)."""
    answer = await ctx.elicit("Please confirm", _form("ok", "boolean"), key="confirm")
    state = "state-ok" if ctx.input_round >= 1 else "no-state"
    return f"{state}: action={answer.action}"


async def test_input_required_result_multiple_inputs(ctx: ToolContext) -> str:
    """Ask three things at once: a name, a greeting from the model, the roots."""
    answers = await ctx.ask(
        {
            "user_name": elicitation_request("What is your name?", _form("name")),
            "greeting": sampling_request("Generate a greeting", max_tokens=50),
            "client_roots": roots_request(),
        }
    )
    name = (answers["user_name"].content or {}).get("name")
    return f"name={name}, greeting={answers['greeting'].text}, roots={len(answers['client_roots'])}"


async def test_input_required_result_multi_round(ctx: ToolContext) -> str:
    """Ask twice in a row: each answer arrives in its own round."""
    first = await ctx.elicit("Step 1: What is your name?", _form("name"), key="step1")
    second = await ctx.elicit("Step 2: What is your favorite color?", _form("color"), key="step2")
    name = (first.content or {}).get("name")
    color = (second.content or {}).get("color")
    return f"{name} likes {color}"


async def test_input_required_result_tampered_state(ctx: ToolContext) -> str:
    """Ask for a confirmation; a retry with an altered requestState never gets here."""
    answer = await ctx.elicit("Please confirm", _form("ok", "boolean"), key="confirm")
    return f"confirmed: {answer.action}"


async def test_input_required_result_capabilities(ctx: ToolContext) -> str:
    """Ask only what the client declared it can answer."""
    requests = {}
    if ctx.client_supports("elicitation"):
        requests["user_name"] = elicitation_request("What is your name?", _form("name"))
    if ctx.client_supports("sampling"):
        requests["greeting"] = sampling_request("Generate a greeting", max_tokens=50)
    if ctx.client_supports("roots"):
        requests["client_roots"] = roots_request()
    answers = await ctx.ask(requests)
    return "answered: " + ", ".join(sorted(answers))


async def test_streaming_elicitation(ctx: ToolContext) -> str:
    """Ask the user something: at 2026-07-28 that is an InputRequiredResult, never a
    request on the response stream."""
    answer = await ctx.elicit("Anything to add?", _form("note"), key="note")
    return f"note: {answer.action}"


async def test_missing_capability(ctx: ToolContext) -> str:
    """Needs the client's sampling: refused (-32021) for a client that lacks it."""
    answer = await ctx.sample("Say hello", max_tokens=20)
    return answer.text


async def test_input_required_result_prompt(ctx: ToolContext) -> list[UserMessage]:
    """A prompt that asks the user for the context it should use."""
    answer = await ctx.elicit(
        "What context should the prompt use?", _form("context"), key="user_context"
    )
    context = (answer.content or {}).get("context", "")
    return [UserMessage(f"Use this context: {context}")]


def register(app: Toolset) -> None:
    """Add the fixtures that ask the client for input to ``app``."""
    for handler in (
        test_sampling,
        test_elicitation,
        test_elicitation_sep1034_defaults,
        test_elicitation_sep1330_enums,
        test_input_required_result_elicitation,
        test_input_required_result_sampling,
        test_input_required_result_list_roots,
        test_input_required_result_request_state,
        test_input_required_result_multiple_inputs,
        test_input_required_result_multi_round,
        test_input_required_result_tampered_state,
        test_input_required_result_capabilities,
        test_streaming_elicitation,
    ):
        app.tool(handler)
    app.tool(requires_client=("sampling",))(test_missing_capability)
    app.prompt(test_input_required_result_prompt)
