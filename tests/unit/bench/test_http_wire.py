"""The load generator's HTTP/1.1 response reader and SSE splitter, byte by byte, and its
reply verdicts (bench/loadgen/http_wire.py, bench/loadgen/mcp_flows.py)."""

from __future__ import annotations

import pytest

from bench.loadgen.http_wire import ResponseReader, SseSplitter, WireError, sse_data
from bench.loadgen.mcp_flows import call_verdict, reply_message
from bench.loadgen.workloads import ExpectText

JSON_REPLY = (
    b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"id":1,"a":2'
)


def feed_bytewise(raw: bytes) -> ResponseReader:
    reader = ResponseReader()
    for index in range(len(raw)):
        done = reader.feed(raw[index : index + 1])
        assert done == (index == len(raw) - 1)
    return reader


def test_a_content_length_body_is_read_whole_and_the_rest_kept() -> None:
    reader = ResponseReader()

    assert reader.feed(JSON_REPLY + b"HTTP/1.1")

    response = reader.response()
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.body == b'{"id":1,"a":2'
    assert reader.rest == b"HTTP/1.1"


def test_a_response_arriving_byte_by_byte_completes_on_its_last_byte() -> None:
    assert feed_bytewise(JSON_REPLY).response().body == b'{"id":1,"a":2'


def test_chunked_bodies_are_joined_and_trailers_skipped() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n"
        b"\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n"
    )

    reader = feed_bytewise(raw)

    assert reader.response().body == b"hello world"
    assert reader.response().is_sse


def test_a_response_without_a_length_has_an_empty_body() -> None:
    reader = ResponseReader()

    assert reader.feed(b"HTTP/1.1 202 Accepted\r\nmcp-session-id: abc\r\n\r\n")
    assert reader.response().body == b""
    assert reader.response().headers["mcp-session-id"] == "abc"


@pytest.mark.parametrize(
    "raw",
    [
        b"SMTP 220 hello\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno-colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: many\r\n\r\n",
    ],
)
def test_malformed_responses_raise_wire_error(raw: bytes) -> None:
    with pytest.raises(WireError):
        ResponseReader().feed(raw)


def test_sse_events_come_out_as_they_complete_even_across_crlf_splits() -> None:
    splitter = SseSplitter()
    body = bytearray()
    seen: list[bytes] = []
    stream = b'id: 1\r\ndata:\r\n\r\ndata: {"a":\r\ndata: 1}\r\n\r\n: comment\r\n\r\ndata: last'
    for index in range(len(stream)):
        body += stream[index : index + 1]
        seen += splitter.events(body)
    seen += splitter.events(body, final=True)

    assert seen == [b'{"a":\n1}', b"last"]


def test_reply_message_skips_notifications_before_the_response() -> None:
    body = (
        b'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress",'
        b'"params":{"progress":1}}\n\n'
        b'data: {"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hi"}]}}\n\n'
    )
    raw = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    reader = ResponseReader()
    reader.feed(raw)

    assert call_verdict(reader.response(), 7, ExpectText("hi")).message is not None
    assert call_verdict(reader.response(), 7, ExpectText("ho")).kind == "check"
    assert reply_message(reader.response(), 8).kind == "id_mismatch"
    assert len(sse_data(body)) == 2


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (503, b"busy", "http_503"),
        (200, b"not json", "bad_json"),
        (200, b"[1]", "bad_reply"),
        (200, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}}', "jsonrpc_-32603"),
        (200, b'{"jsonrpc":"2.0","id":1,"result":{"isError":true,"content":[]}}', "tool_error"),
        (200, b'{"jsonrpc":"2.0","id":1,"result":{"resultType":"task"}}', "result_type_task"),
        (200, b'{"jsonrpc":"2.0","method":"notifications/progress"}', "no_response"),
    ],
)
def test_bad_replies_get_a_kind_instead_of_raising(status: int, body: bytes, kind: str) -> None:
    reader = ResponseReader()
    reader.feed(
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )

    assert call_verdict(reader.response(), 1, ExpectText("")).kind == kind
