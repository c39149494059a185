"""JSON-RPC framing: decoding one incoming message or a batch, params, and the exact reply
bytes."""

from __future__ import annotations

import json
import random

import msgspec
import pytest

from proto import (
    BatchReplies,
    CallToolParams2025,
    ClientResponse,
    ErrorCode,
    InvalidParamsError,
    InvalidRequestError,
    ListToolsParams,
    McpStruct,
    Notification,
    ParseError,
    Request,
    RequestError,
    batch_refused_error,
    decode_batch,
    decode_message,
    decode_params,
    encode_error,
    encode_notification,
    encode_result,
    is_batch,
)


def _rejection(body: bytes) -> RequestError:
    with pytest.raises(RequestError) as info:
        decode_message(body)
    return info.value


# --- valid messages --------------------------------------------------------------------


def test_request_with_int_id_and_params() -> None:
    msg = decode_message(b'{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"c1"}}')
    assert isinstance(msg, Request)
    assert msg.id == 7
    assert type(msg.id) is int
    assert msg.method == "tools/list"
    assert bytes(msg.params) == b'{"cursor":"c1"}'


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        (b'"1"', "1"),
        (b"1", 1),
        (b"0", 0),
        (b"-3", -3),
        (b'""', ""),
        (b'"abc-def"', "abc-def"),
    ],
)
def test_request_id_keeps_its_json_type(raw_id: bytes, expected: int | str) -> None:
    msg = decode_message(b'{"jsonrpc":"2.0","id":' + raw_id + b',"method":"ping"}')
    assert isinstance(msg, Request)
    assert msg.id == expected
    assert type(msg.id) is type(expected)


def test_request_without_params_has_empty_raw_params() -> None:
    msg = decode_message(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
    assert isinstance(msg, Request)
    assert bytes(msg.params) == b""


def test_params_are_kept_byte_for_byte() -> None:
    params = b'{ "name" : "echo", "arguments": {"x": 2.50, "s": "\\u00e9"} }'
    msg = decode_message(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + params + b"}")
    assert isinstance(msg, Request)
    assert bytes(msg.params) == params


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}',
        b'{"method":"notifications/initialized","jsonrpc":"2.0"}',
    ],
)
def test_message_without_id_is_a_notification(body: bytes) -> None:
    msg = decode_message(body)
    assert isinstance(msg, Notification)
    assert msg.method.startswith("notifications/")


@pytest.mark.parametrize(
    ("body", "expected_id"),
    [
        (b'{"jsonrpc":"2.0","id":5,"result":{}}', 5),
        (b'{"jsonrpc":"2.0","id":"s-1","result":{"ok":true}}', "s-1"),
        (b'{"jsonrpc":"2.0","id":5,"result":null}', 5),
        (b'{"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"nope"}}', 9),
        (b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}', None),
    ],
)
def test_client_responses(body: bytes, expected_id: int | str | None) -> None:
    msg = decode_message(body)
    assert isinstance(msg, ClientResponse)
    assert msg.id == expected_id


# --- parse errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"   ", id="whitespace"),
        pytest.param(b"{", id="open-brace"),
        pytest.param(b"not json", id="words"),
        pytest.param(b'{"a":}', id="missing-value"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"method":"ping"', id="truncated"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"meth', id="truncated-in-key"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"method":"ping"} x', id="trailing-garbage"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"method":"ping"}{}', id="two-objects"),
        pytest.param(b"\xff\xfe\x00", id="binary"),
        pytest.param(b"{'jsonrpc':'2.0'}", id="single-quotes"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"tools/\xc3\x28"}', id="invalid-utf8-in-method"
        ),
        pytest.param(b'{"jsonrpc":"2.0","id":"\xff","method":"ping"}', id="invalid-utf8-in-id"),
        pytest.param(b'{"jsonrpc":"2.\x80","id":1,"method":"ping"}', id="invalid-utf8-jsonrpc"),
    ],
)
def test_malformed_input_is_a_parse_error_with_null_id(body: bytes) -> None:
    err = _rejection(body)
    assert isinstance(err.error, ParseError)
    assert err.error.code == ErrorCode.PARSE_ERROR == -32700
    assert err.error.http_status == 400
    assert err.request_id is None


@pytest.mark.parametrize(
    "body",
    [
        # JSON-RPC 2.0 spec, section 7, "rpc call Batch, invalid JSON" → -32700.
        pytest.param(
            b'[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},'
            b'{"jsonrpc": "2.0", "method"]',
            id="spec-invalid-batch-json",
        ),
        pytest.param(b"[1,", id="truncated-array"),
        pytest.param(b'{"jsonrpc": 2, "id": 1, "method": "ping"', id="truncated-after-bad-type"),
    ],
)
def test_syntactically_invalid_json_is_a_parse_error_even_if_it_also_has_the_wrong_shape(
    body: bytes,
) -> None:
    err = _rejection(body)
    assert err.error.code == ErrorCode.PARSE_ERROR
    assert err.request_id is None


# --- invalid requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
        b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]',
        b' \n\t[{"jsonrpc":"2.0","method":"notifications/initialized"}]',
    ],
)
def test_batches_are_rejected_as_invalid_request(body: bytes) -> None:
    err = _rejection(body)
    assert isinstance(err.error, InvalidRequestError)
    assert err.error.code == ErrorCode.INVALID_REQUEST
    assert "batch" in err.error.message.lower()
    assert err.request_id is None


@pytest.mark.parametrize(
    ("body", "expected_id"),
    [
        (b'{"id":1,"method":"ping"}', 1),
        (b'{"jsonrpc":"1.0","id":"abc","method":"ping"}', "abc"),
        (b'{"jsonrpc":"2.0 ","id":3,"method":"ping"}', 3),
        (b'{"jsonrpc":2.0,"id":4,"method":"ping"}', 4),
        (b'{"jsonrpc":null,"id":"x","method":"ping"}', "x"),
        (b'{"jsonrpc":"1.0","method":"notifications/initialized"}', None),
    ],
)
def test_wrong_or_missing_jsonrpc_version_is_invalid_request_carrying_the_id(
    body: bytes, expected_id: int | str | None
) -> None:
    err = _rejection(body)
    assert isinstance(err.error, InvalidRequestError)
    assert err.error.code == -32600
    assert err.error.http_status == 400
    assert err.request_id == expected_id
    assert type(err.request_id) is type(expected_id)


def test_null_id_on_a_request_is_invalid() -> None:
    err = _rejection(b'{"jsonrpc":"2.0","id":null,"method":"ping"}')
    assert isinstance(err.error, InvalidRequestError)
    assert err.request_id is None


@pytest.mark.parametrize("raw_id", [b"true", b"false", b"1.5", b"1.0", b"1e3", b"[1]", b'{"a":1}'])
def test_ids_that_are_not_int_or_string_are_rejected(raw_id: bytes) -> None:
    err = _rejection(b'{"jsonrpc":"2.0","id":' + raw_id + b',"method":"ping"}')
    assert isinstance(err.error, InvalidRequestError)
    assert err.request_id is None


@pytest.mark.parametrize(
    ("body", "expected_id"),
    [
        (b'{"jsonrpc":"2.0","id":3}', 3),
        (b'{"jsonrpc":"2.0","id":"q"}', "q"),
        (b'{"jsonrpc":"2.0"}', None),
        (b'{"jsonrpc":"2.0","result":{}}', None),
        (b'{"jsonrpc":"2.0","error":{"code":1,"message":"m"}}', None),
        (b'{"jsonrpc":"2.0","id":4,"params":{}}', 4),
    ],
)
def test_message_with_neither_method_nor_result_is_invalid(
    body: bytes, expected_id: int | str | None
) -> None:
    err = _rejection(body)
    assert isinstance(err.error, InvalidRequestError)
    assert err.request_id == expected_id


@pytest.mark.parametrize(
    ("body", "expected_id"),
    [
        (b'{"jsonrpc":"2.0","id":4,"method":5}', 4),
        (b'{"jsonrpc":"2.0","id":"r","method":null}', "r"),
        (b'{"jsonrpc":"2.0","id":6,"method":["ping"]}', 6),
    ],
)
def test_wrong_field_types_are_rejected(body: bytes, expected_id: int | str | None) -> None:
    err = _rejection(body)
    assert isinstance(err.error, InvalidRequestError)
    assert err.request_id == expected_id


@pytest.mark.parametrize("body", [b'"str"', b"null", b"42", b"true"])
def test_json_that_is_not_an_object_is_invalid_request(body: bytes) -> None:
    err = _rejection(body)
    assert isinstance(err.error, InvalidRequestError)
    assert err.request_id is None


# --- hostile input ---------------------------------------------------------------------

_VALID = (
    b'{"jsonrpc":"2.0","id":"req-1","method":"tools/call",'
    b'"params":{"name":"echo","arguments":{"text":"h\\u00e9","n":[1,2.5,null,true]}}}'
)


def _hostile_corpus() -> list[object]:
    rng = random.Random(20260728)
    cases: list[object] = []
    for cut in range(0, len(_VALID), 5):
        cases.append(pytest.param(_VALID[:cut], id=f"truncated-{cut}"))
    for n in range(10):
        size = rng.randrange(1, 80)
        cases.append(pytest.param(bytes(rng.randrange(256) for _ in range(size)), id=f"random-{n}"))
    structural = b'{}[]":,\\ 0123456789-+.eEtrufalsn'
    for n in range(8):
        mutated = bytearray(_VALID)
        for _ in range(rng.randrange(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.choice(structural)
        cases.append(pytest.param(bytes(mutated), id=f"mutated-{n}"))
    deep = 10_000
    cases += [
        pytest.param(b"[" * deep, id="open-arrays"),
        pytest.param(b"{" * deep, id="open-objects"),
        pytest.param(b'{"a":' * deep, id="open-nested-objects"),
        pytest.param(b"[" * deep + b"]" * deep, id="closed-nested-arrays"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * deep + b"]" * deep + b"}",
            id="deep-params",
        ),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"x","extra":' + b"[" * deep + b"]" * deep + b"}",
            id="deep-unknown-field",
        ),
        pytest.param(
            b'{"jsonrpc":1,"id":1,"extra":' + b"[" * deep + b"]" * deep + b"}",
            id="deep-unknown-field-bad-version",
        ),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"method":"\xc3\x28"}', id="invalid-utf8"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"method":"\\ud800"}', id="lone-surrogate"),
        pytest.param(b"\xef\xbb\xbf" + _VALID, id="bom"),
        pytest.param(b'{"jsonrpc":"2.0","id":1e999999,"method":"x"}', id="huge-float-id"),
        pytest.param(b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"x"}', id="huge-int"),
        pytest.param(b"\x00" * 64, id="nuls"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"\x00"}}', id="nul"),
    ]
    return cases


@pytest.mark.parametrize("body", _hostile_corpus())
def test_hostile_input_yields_a_message_or_a_request_error(body: bytes) -> None:
    try:
        msg = decode_message(body)
    except RequestError as exc:
        assert exc.error.code in (ErrorCode.PARSE_ERROR, ErrorCode.INVALID_REQUEST)
    else:
        assert isinstance(msg, Request | Notification | ClientResponse)


# --- batches (2025-03-26) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[]", True),
        (b' \r\n\t[{"jsonrpc":"2.0"}]', True),
        (b"[1,", True),  # an array as far as its first byte says; decoding refuses it
        (b'{"jsonrpc":"2.0","id":1,"method":"ping"}', False),
        (b'  {"a":[1]}', False),
        (b'"["', False),
        (b"", False),
        (b"   ", False),
    ],
)
def test_is_batch_looks_at_the_first_byte_after_whitespace(body: bytes, expected: bool) -> None:
    assert is_batch(body) is expected


def test_is_batch_does_not_copy_a_body_without_leading_whitespace() -> None:
    # The check runs on every HTTP body: lstrip must hand back the body itself.
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}' * 1000
    assert body.lstrip() is body


def test_decode_batch_decodes_every_member_in_order() -> None:
    body = (
        b'[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}},'
        b' {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}},'
        b' {"jsonrpc":"2.0","id":"s-1","result":{}},'
        b' {"jsonrpc":"2.0","id":"two","method":"ping"}]'
    )
    first, second, third, fourth = decode_batch(body, max_items=4)
    assert isinstance(first, Request) and (first.id, first.method) == (1, "tools/call")
    assert bytes(first.params) == b'{"name":"echo"}'
    assert isinstance(second, Notification) and second.method == "notifications/cancelled"
    assert isinstance(third, ClientResponse) and third.id == "s-1"
    assert third.outcome() == b'{"result":{}}'
    assert isinstance(fourth, Request) and fourth.id == "two"


@pytest.mark.parametrize(
    ("member", "code", "rid"),
    [
        (b'{"foo":1}', ErrorCode.INVALID_REQUEST, None),
        (b"5", ErrorCode.INVALID_REQUEST, None),
        (b'"ping"', ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"1.0","id":7,"method":"ping"}', ErrorCode.INVALID_REQUEST, 7),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":8}', ErrorCode.INVALID_REQUEST, 8),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":"i","method":"initialize","params":{}}', -32600, "i"),
        (b'{"jsonrpc":"2.0","id":"\xff","method":"ping"}', ErrorCode.PARSE_ERROR, None),
    ],
)
def test_each_invalid_member_gets_its_own_error(member: bytes, code: int, rid: object) -> None:
    ok = b'{"jsonrpc":"2.0","id":"ok","method":"ping"}'
    before, refused, after = decode_batch(b"[" + ok + b"," + member + b"," + ok + b"]", max_items=3)
    assert isinstance(before, Request) and isinstance(after, Request)
    assert isinstance(refused, RequestError)
    assert (refused.error.code, refused.request_id) == (code, rid)


def test_initialize_in_a_batch_is_refused_by_name() -> None:
    body = b'[{"jsonrpc":"2.0","id":3,"method":"initialize","params":{}}]'
    (refused,) = decode_batch(body, max_items=1)
    assert isinstance(refused, RequestError)
    assert "initialize" in refused.error.message


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"[]", ErrorCode.INVALID_REQUEST, "empty"),
        (b" [ \n ] ", ErrorCode.INVALID_REQUEST, "empty"),
        (b"[1,2,3,4]", ErrorCode.INVALID_REQUEST, "limit of 3"),
        (b"[1,", ErrorCode.PARSE_ERROR, "Parse error"),
        (b'[{"jsonrpc": "2.0", "method"]', ErrorCode.PARSE_ERROR, "Parse error"),
        (b"[1] trailing", ErrorCode.PARSE_ERROR, "Parse error"),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping"}', ErrorCode.INVALID_REQUEST, "not an array"),
        (b"[" * 10_000 + b"]" * 10_000, ErrorCode.INVALID_REQUEST, "deep"),
    ],
)
def test_a_batch_refused_whole_raises_with_a_null_id(body: bytes, code: int, words: str) -> None:
    with pytest.raises(RequestError) as info:
        decode_batch(body, max_items=3)
    assert info.value.error.code == code
    assert info.value.request_id is None
    assert words in info.value.error.message


def test_the_member_bound_is_inclusive() -> None:
    body = b"[" + b",".join([b'{"jsonrpc":"2.0","id":1,"method":"ping"}'] * 3) + b"]"
    assert len(decode_batch(body, max_items=3)) == 3


def test_a_batch_where_batches_do_not_exist_names_the_revision() -> None:
    error = batch_refused_error()
    assert error.code == ErrorCode.INVALID_REQUEST
    assert "2025-03-26" in error.message
    assert _rejection(b"[]").error.message == error.message


@pytest.mark.parametrize("body", _hostile_corpus())
def test_hostile_batches_yield_members_or_a_request_error(body: bytes) -> None:
    for batch in (body, b"[" + body + b"]", b"[" + body + b"," + body + b"]"):
        try:
            members = decode_batch(batch, max_items=64)
        except RequestError as exc:
            assert exc.error.code in (ErrorCode.PARSE_ERROR, ErrorCode.INVALID_REQUEST)
            continue
        for member in members:
            assert isinstance(member, Request | Notification | ClientResponse | RequestError)


def test_batch_replies_encode_in_member_order_whatever_order_they_came_in() -> None:
    replies = BatchReplies()
    assert len(replies) == 0
    replies.add(4, encode_result("b", b"{}"))
    replies.add(0, encode_result("a", b"{}"))
    replies.add(2, encode_error(None, ErrorCode.INVALID_REQUEST, "bad"))
    assert len(replies) == 3
    assert [r["id"] for r in json.loads(replies.encode())] == ["a", None, "b"]


# --- params ----------------------------------------------------------------------------


class _Params(McpStruct, frozen=True):
    name: str
    count: int = 0


_params_decoder = msgspec.json.Decoder(_Params)


def test_decode_params_success() -> None:
    params = decode_params(msgspec.Raw(b'{"name":"a","count":2}'), _params_decoder)
    assert params == _Params(name="a", count=2)


def test_absent_params_decode_as_empty_object() -> None:
    assert decode_params(msgspec.Raw(), msgspec.json.Decoder(ListToolsParams)) == ListToolsParams()
    with pytest.raises(InvalidParamsError):
        decode_params(msgspec.Raw(), _params_decoder)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(b'["a", 2]', id="array"),
        pytest.param(b'"a"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"name": 5}', id="name-not-string"),
        pytest.param(b'{"name": "a", "count": "2x"}', id="count-not-int"),
        pytest.param(b'{"name": "a", "count": 1.5}', id="count-float"),
        pytest.param(b'{"count": 1}', id="missing-required"),
    ],
)
def test_decode_params_wrong_shapes(params: bytes) -> None:
    with pytest.raises(InvalidParamsError) as info:
        decode_params(msgspec.Raw(params), _params_decoder)
    assert info.value.code == ErrorCode.INVALID_PARAMS == -32602
    assert info.value.http_status == 400


def test_decode_params_of_a_real_method_keeps_arguments_raw() -> None:
    msg = decode_message(
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
        b'"params":{"name":"echo","arguments":{"b": 1,  "a":[2]},"_meta":{"progressToken":"t"}}}'
    )
    assert isinstance(msg, Request)
    params = decode_params(msg.params, msgspec.json.Decoder(CallToolParams2025))
    assert params.name == "echo"
    assert bytes(params.arguments) == b'{"b": 1,  "a":[2]}'
    assert not isinstance(params.meta, msgspec.UnsetType)
    assert params.meta.progress_token == "t"


def test_invalid_utf8_in_params_is_an_invalid_params_error() -> None:
    """The envelope keeps params raw, so bad UTF-8 inside them must be caught on decoding."""
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\xc3\x28"}}'
    try:
        msg = decode_message(body)
    except RequestError:
        return  # rejected at the envelope: also acceptable
    assert isinstance(msg, Request)
    with pytest.raises(InvalidParamsError):
        decode_params(msg.params, msgspec.json.Decoder(CallToolParams2025))


# --- encoding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rid", "result", "expected"),
    [
        (1, b'{"a":1}', b'{"jsonrpc":"2.0","id":1,"result":{"a":1}}'),
        ("1", b"{}", b'{"jsonrpc":"2.0","id":"1","result":{}}'),
        (0, msgspec.Raw(b'{"x": [1, 2]}'), b'{"jsonrpc":"2.0","id":0,"result":{"x": [1, 2]}}'),
    ],
)
def test_encode_result_exact_bytes(
    rid: int | str, result: bytes | msgspec.Raw, expected: bytes
) -> None:
    assert encode_result(rid, result) == expected


@pytest.mark.parametrize(
    ("rid", "code", "message", "data", "expected"),
    [
        (
            None,
            ErrorCode.PARSE_ERROR,
            "Parse error",
            None,
            b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}',
        ),
        (
            7,
            -32601,
            "Method not found",
            None,
            b'{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}}',
        ),
        (
            "a",
            ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported",
            {"supported": ["2025-11-25"]},
            b'{"jsonrpc":"2.0","id":"a","error":{"code":-32022,"message":"Unsupported",'
            b'"data":{"supported":["2025-11-25"]}}}',
        ),
        (
            2,
            -32603,
            "m",
            False,
            b'{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"m","data":false}}',
        ),
    ],
)
def test_encode_error_exact_bytes(
    rid: int | str | None, code: int, message: str, data: object, expected: bytes
) -> None:
    assert encode_error(rid, code, message, data) == expected


def test_encode_notification_exact_bytes() -> None:
    assert encode_notification("notifications/progress", b'{"progressToken":1,"progress":2}') == (
        b'{"jsonrpc":"2.0","method":"notifications/progress",'
        b'"params":{"progressToken":1,"progress":2}}'
    )


def test_a_notification_without_params_has_no_params_member() -> None:
    encoded = encode_notification("notifications/tools/list_changed")
    assert encoded == b'{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}'


def test_encoded_replies_decode_back_as_client_responses() -> None:
    for encoded, rid in [
        (encode_result("x", b"{}"), "x"),
        (encode_error(3, ErrorCode.INTERNAL_ERROR, "boom"), 3),
        (encode_error(None, ErrorCode.PARSE_ERROR, "bad"), None),
    ]:
        msg = decode_message(encoded)
        assert isinstance(msg, ClientResponse) and msg.id == rid


def test_encoded_notification_decodes_back() -> None:
    encoded = encode_notification("notifications/message", b'{"level":"info"}')
    msg = decode_message(encoded)
    assert isinstance(msg, Notification)
    assert msg.method == "notifications/message"
    assert json.loads(bytes(msg.params)) == {"level": "info"}
