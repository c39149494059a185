"""Resources, prompts and completion messages (ADR-0007): wire shapes per version."""

from __future__ import annotations

import json

import msgspec
import pytest

from proto import (
    BlobResourceContents,
    CompleteParams,
    CompleteResult,
    Completion,
    ErrorCode,
    GetPromptParams,
    GetPromptResult,
    ListResourceTemplatesResult,
    Prompt,
    PromptArgument,
    PromptMessage,
    PromptReference,
    ReadResourceParams,
    ReadResourceResult,
    Resource,
    ResourceNotFoundError,
    ResourceTemplate,
    ResourceTemplateReference,
    TextContent,
    TextResourceContents,
    resource_not_found,
)


def encoded(value: object) -> object:
    return json.loads(msgspec.json.encode(value))


def test_listing_entries_are_camel_case_and_omit_what_is_unset() -> None:
    assert encoded(Resource(uri="test://a", name="a", mime_type="text/plain")) == {
        "uri": "test://a",
        "name": "a",
        "mimeType": "text/plain",
    }
    template = ResourceTemplate(uri_template="test://t/{id}", name="t")
    assert encoded(ListResourceTemplatesResult(resource_templates=[template])) == {
        "resourceTemplates": [{"uriTemplate": "test://t/{id}", "name": "t"}]
    }
    prompt = Prompt(name="p", arguments=[PromptArgument(name="x", required=True)])
    assert encoded(prompt) == {"name": "p", "arguments": [{"name": "x", "required": True}]}


def test_read_results_hold_text_or_blob_contents() -> None:
    result = ReadResourceResult(
        contents=[
            TextResourceContents(uri="test://a", text="hi", mime_type="text/plain"),
            BlobResourceContents(uri="test://b", blob="AAE="),
        ],
        result_type="complete",
        ttl_ms=0,
        cache_scope="public",
    )
    assert encoded(result) == {
        "contents": [
            {"uri": "test://a", "text": "hi", "mimeType": "text/plain"},
            {"uri": "test://b", "blob": "AAE="},
        ],
        "resultType": "complete",
        "ttlMs": 0,
        "cacheScope": "public",
    }


def test_prompt_results_carry_content_blocks() -> None:
    result = GetPromptResult(messages=[PromptMessage(role="user", content=TextContent(text="hi"))])
    assert encoded(result) == {
        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}]
    }


def test_params_decode_in_both_eras() -> None:
    read = msgspec.json.decode(b'{"uri":"test://a"}', type=ReadResourceParams)
    assert read.uri == "test://a"
    get = msgspec.json.decode(
        b'{"name":"p","arguments":{"x":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":'
        b'"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}',
        type=GetPromptParams,
    )
    assert (get.name, get.arguments) == ("p", {"x": "1"})


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ({"type": "ref/prompt", "name": "p"}, PromptReference(name="p")),
        (
            {"type": "ref/resource", "uri": "test://t/{id}"},
            ResourceTemplateReference(uri="test://t/{id}"),
        ),
    ],
)
def test_completion_references_are_tagged(ref: dict[str, str], expected: object) -> None:
    body = {"ref": ref, "argument": {"name": "x", "value": "pa"}, "context": {"arguments": {}}}
    params = msgspec.json.decode(json.dumps(body), type=CompleteParams)
    assert params.ref == expected
    assert params.argument.value == "pa"


def test_an_unknown_reference_type_is_refused() -> None:
    body = {"ref": {"type": "ref/tool", "name": "x"}, "argument": {"name": "x", "value": ""}}
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(json.dumps(body), type=CompleteParams)


def test_completion_results() -> None:
    result = CompleteResult(completion=Completion(values=["paris"], total=1, has_more=False))
    assert encoded(result) == {"completion": {"values": ["paris"], "total": 1, "hasMore": False}}


def test_an_unknown_resource_is_32002_before_2026_and_32602_with_the_uri_after() -> None:
    for version in ("2025-03-26", "2025-06-18", "2025-11-25"):
        legacy = resource_not_found("test://nope", version)
        assert isinstance(legacy, ResourceNotFoundError)
        assert (legacy.code, legacy.data) == (-32002, {"uri": "test://nope"})
    modern = resource_not_found("test://nope", "2026-07-28")
    assert (modern.code, modern.http_status) == (ErrorCode.INVALID_PARAMS, 400)
    assert modern.data == {"uri": "test://nope"}
