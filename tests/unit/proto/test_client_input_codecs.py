"""Asking the client, sans-IO: capability flags, the sealed ``requestState``, retries'
``inputResponses``, and the JSON-RPC shapes of requests we send and responses we get."""

from __future__ import annotations

import msgspec
import pytest

from proto import (
    ClientCapability,
    InvalidParamsError,
    RequestBinding,
    capability_flags,
    decode_client_answer,
    decode_message,
    encode_request,
    flags_from_names,
    input_responses,
    is_client_request_id,
    open_request_state,
    required_capabilities,
    seal_request_state,
)
from proto.jsonrpc import ClientResponse

KEY = b"k" * 32
NOW_MS = 1_800_000_000_000


# --- capabilities ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ({}, 0),
        ({"roots": {}}, ClientCapability.ROOTS),
        ({"roots": {"listChanged": True}}, ClientCapability.ROOTS),
        ({"sampling": {}}, ClientCapability.SAMPLING),
        (
            {"sampling": {"tools": {}, "context": {}}},
            ClientCapability.SAMPLING
            | ClientCapability.SAMPLING_TOOLS
            | ClientCapability.SAMPLING_CONTEXT,
        ),
        ({"elicitation": {}}, ClientCapability.ELICITATION),  # {} is form mode
        ({"elicitation": {"form": {}}}, ClientCapability.ELICITATION),
        ({"elicitation": {"url": {}}}, ClientCapability.ELICITATION_URL),
        (
            {"elicitation": {"form": {}, "url": {}}},
            ClientCapability.ELICITATION | ClientCapability.ELICITATION_URL,
        ),
        ({"sampling": None, "roots": True, "elicitation": "yes"}, 0),  # not objects
        ({"experimental": {}, "somethingNew": {}}, 0),
    ],
)
def test_capability_flags_read_what_is_declared(declared: dict[str, object], expected: int) -> None:
    assert capability_flags(declared) == expected


def test_flags_from_names_and_back() -> None:
    flags = flags_from_names(["sampling", "elicitation.url", "roots"])
    assert (
        flags
        == ClientCapability.SAMPLING | ClientCapability.ELICITATION_URL | ClientCapability.ROOTS
    )
    assert required_capabilities(flags) == {"sampling": {}, "elicitation": {"url": {}}, "roots": {}}
    assert required_capabilities(int(ClientCapability.ELICITATION)) == {"elicitation": {}}
    assert required_capabilities(0) == {}


def test_unknown_capability_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'smapling'.*sampling"):
        flags_from_names(["smapling"])


# --- requestState ---------------------------------------------------------------------------


def binding(**changes: str) -> RequestBinding:
    fields = {"method": "tools/call", "target": "book", "arguments": '{"a":1,"b":[2]}',
              "principal": "anonymous"} | changes  # fmt: skip
    return RequestBinding.of(
        fields["method"], fields["target"], fields["arguments"].encode(), fields["principal"]
    )


def sealed(**changes: str) -> str:
    answers = {"step1": msgspec.Raw(b'{"action":"accept","content":{"name":"Ada"}}')}
    return seal_request_state(KEY, binding(**changes), round=2, answers=answers,
                              expires_ms=NOW_MS + 1000)  # fmt: skip


def test_a_state_opens_with_its_answers_and_round() -> None:
    opened = open_request_state(KEY, sealed(), binding(), now_ms=NOW_MS)
    assert opened.round == 2
    assert msgspec.json.decode(opened.answers["step1"]) == {
        "action": "accept",
        "content": {"name": "Ada"},
    }


def test_a_state_may_name_a_task_and_a_plain_call_names_none() -> None:
    assert open_request_state(KEY, sealed(), binding(), now_ms=NOW_MS).task_id == ""
    state = seal_request_state(
        KEY, binding(), round=0, answers={}, expires_ms=NOW_MS + 1000, task_id="t-42"
    )
    assert open_request_state(KEY, state, binding(), now_ms=NOW_MS).task_id == "t-42"


def test_arguments_bind_by_value_not_by_spelling() -> None:
    state = sealed()
    same = binding(arguments='{ "b": [2], "a": 1 }')
    assert open_request_state(KEY, state, same, now_ms=NOW_MS).round == 2


@pytest.mark.parametrize(
    ("other", "why"),
    [
        ({"method": "prompts/get"}, "another request"),
        ({"target": "cancel_booking"}, "another request"),
        ({"arguments": '{"a":2,"b":[2]}'}, "another request"),
        ({"principal": "local:eve"}, "another client"),
    ],
)
def test_a_state_is_refused_for_another_request_or_principal(
    other: dict[str, str], why: str
) -> None:
    with pytest.raises(InvalidParamsError, match=why):
        open_request_state(KEY, sealed(), binding(**other), now_ms=NOW_MS)


def test_an_expired_state_is_refused() -> None:
    with pytest.raises(InvalidParamsError, match="expired"):
        open_request_state(KEY, sealed(), binding(), now_ms=NOW_MS + 1001)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s + "-TAMPERED",
        lambda s: s.replace(".", "x.", 1),
        lambda s: ("A" if s[0] != "A" else "B") + s[1:],
        lambda s: s.split(".")[0],
        lambda s: "",
        lambda s: "not base64!.also not",
    ],
)
def test_an_altered_or_malformed_state_is_refused(tamper: object) -> None:
    state = tamper(sealed())  # type: ignore[operator]
    with pytest.raises(InvalidParamsError, match="Invalid requestState"):
        open_request_state(KEY, state, binding(), now_ms=NOW_MS)


def test_a_state_sealed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidParamsError, match="not issued by this server"):
        open_request_state(b"x" * 32, sealed(), binding(), now_ms=NOW_MS)


# --- inputResponses -------------------------------------------------------------------------


def test_input_responses_keep_each_answer_raw() -> None:
    raw = msgspec.Raw(b'{"a": {"action": "decline"}, "b": {"roots": []}}')
    answers = input_responses(raw)
    assert set(answers) == {"a", "b"}
    assert msgspec.json.decode(answers["b"]) == {"roots": []}
    assert input_responses(msgspec.Raw(b"")) == {}


@pytest.mark.parametrize("body", [b"[1]", b'"x"', b'{"a": 1}', b'{"a": [1]}', b"{"])
def test_input_responses_that_are_not_objects_of_objects_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidParamsError, match="inputResponses"):
        input_responses(msgspec.Raw(body))


# --- JSON-RPC shapes ------------------------------------------------------------------------


def test_requests_we_send_are_json_rpc_requests() -> None:
    encoded = encode_request("mcpfleet-ask-x", "roots/list", b"{}")
    assert msgspec.json.decode(encoded) == {
        "jsonrpc": "2.0", "id": "mcpfleet-ask-x", "method": "roots/list", "params": {}
    }  # fmt: skip
    assert is_client_request_id("mcpfleet-ask-x")
    assert not is_client_request_id(7)
    assert not is_client_request_id("ask-x")


def test_a_client_response_keeps_its_result_or_error() -> None:
    ok = decode_message(b'{"jsonrpc":"2.0","id":"mcpfleet-ask-1","result":{"roots":[]}}')
    assert isinstance(ok, ClientResponse)
    assert msgspec.json.decode(ok.outcome()) == {"result": {"roots": []}}
    assert decode_client_answer(ok.outcome()).error is None

    refused = decode_message(
        b'{"jsonrpc":"2.0","id":"mcpfleet-ask-2","error":{"code":-1,"message":"no"}}'
    )
    assert isinstance(refused, ClientResponse)
    answer = decode_client_answer(refused.outcome())
    assert answer.error == {"code": -1, "message": "no"}
    assert not answer.result
