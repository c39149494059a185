"""The front↔worker wire format: round trips, raw arguments, version skew, garbage."""

from __future__ import annotations

import msgspec
import pytest

from proto import (
    AnsweredInput,
    CallKind,
    CallMessage,
    CancelCall,
    CancelledReply,
    CancelRequest,
    ClientRequestMessage,
    CompletionArguments,
    ErrorObject,
    ErrorReply,
    InputRequiredReply,
    LogMessage,
    Principal,
    ProgressMessage,
    ResourceReadArguments,
    ResultReply,
    SessionRecord,
    cancel_key_session,
    decode_broadcast,
    decode_call,
    decode_completion_arguments,
    decode_resource_arguments,
    decode_worker_message,
    decode_worker_messages,
    encode_call_arguments,
    encode_wire,
    request_cancel_key,
)


def _call(arguments: bytes = b'{"a":1}', progress_token: int | str | None = None) -> CallMessage:
    return CallMessage(
        call_id=42,
        front_id="front-1",
        tool="echo",
        arguments=msgspec.Raw(arguments),
        protocol_version="2025-06-18",
        deadline_ms=1_800_000_000_000,
        request_id="req-abc",
        progress_token=progress_token,
    )


@pytest.mark.parametrize("token", [None, 7, "tok"])
def test_call_round_trip(token: int | str | None) -> None:
    call = _call(progress_token=token)
    decoded = decode_call(encode_wire(call))
    assert decoded == call
    assert decoded.progress_token == token
    assert type(decoded.progress_token) is type(token)


def test_call_is_an_array_tagged_call() -> None:
    assert encode_wire(_call()).startswith(b'["call",42,"front-1","echo",{"a":1},')


@pytest.mark.parametrize(
    "arguments",
    [
        b"{}",
        b'{ "b" : 2.50 , "a" : [1,  2] }',
        b'{"s":"\\u00e9\\n","n":null,"t":true}',
        '{"s":"é世界"}'.encode(),
        b'{\n  "deep": {"x": [{"y": 1e3}]}\n}',
    ],
)
def test_raw_arguments_survive_byte_for_byte(arguments: bytes) -> None:
    encoded = encode_wire(_call(arguments))
    assert arguments in encoded
    assert bytes(decode_call(encoded).arguments) == arguments


@pytest.mark.parametrize(
    "message",
    [
        ResultReply(call_id=1, result=msgspec.Raw(b'{"content":[],"isError":false}')),
        ErrorReply(call_id=2, error=ErrorObject(code=-32603, message="worker lost")),
        ErrorReply(call_id=3, error=ErrorObject(code=-32602, message="bad", data={"k": [1]})),
        ProgressMessage(call_id=4, progress=0.5),
        ProgressMessage(call_id=5, progress=3.0, total=10.0, message="three of ten"),
        LogMessage(call_id=6, level="info", logger="echo", data=msgspec.Raw(b'"hi"')),
        LogMessage(call_id=7, level="error", logger=None, data=msgspec.Raw(b'{"a":[1]}')),
    ],
)
def test_worker_message_round_trip(message: object) -> None:
    decoded = decode_worker_message(encode_wire(message))  # type: ignore[arg-type]
    assert type(decoded) is type(message)
    assert decoded == message


def test_result_reply_keeps_result_bytes() -> None:
    result = b'{"content":[{"type":"text","text":"x"}], "isError": false}'
    decoded = decode_worker_message(encode_wire(ResultReply(call_id=1, result=msgspec.Raw(result))))
    assert isinstance(decoded, ResultReply)
    assert bytes(decoded.result) == result


def test_a_reply_channel_message_is_one_message_or_several_replies() -> None:
    """What ``PUBLISH_REPLIES_OR_KEEP`` sends: the encoded replies joined in a JSON array
    (ADR-0022); a single message decodes as a list of one."""
    replies = [
        ResultReply(call_id=1, result=msgspec.Raw(b'{"content":[]}')),
        ErrorReply(call_id=2, error=ErrorObject(code=-32603, message="m")),
    ]
    joined = b"[" + b",".join(encode_wire(r) for r in replies) + b"]"
    assert decode_worker_messages(joined) == replies
    single = ProgressMessage(call_id=3, progress=1.0)
    assert decode_worker_messages(encode_wire(single)) == [single]
    for garbage in (b"[[", b"[[1]]", b'[["call",1]]', b"[]"):
        with pytest.raises(msgspec.MsgspecError):
            decode_worker_messages(garbage)


def test_error_object_omits_null_data() -> None:
    encoded = encode_wire(ErrorReply(call_id=2, error=ErrorObject(code=-32603, message="m")))
    assert encoded == b'["error",2,{"code":-32603,"message":"m"}]'


def test_a_newer_peer_may_append_fields() -> None:
    call = decode_call(b'["call",1,"f","t",{},"2025-06-18",5,"r",null,"a-future-field"]')
    assert call.tool == "t"
    progress = decode_worker_message(b'["progress",1,0.5,null,null,"a-future-field"]')
    assert progress == ProgressMessage(call_id=1, progress=0.5)


def test_an_older_peer_may_omit_defaulted_fields() -> None:
    call = decode_call(b'["call",1,"f","t",{},"2025-06-18",5,"r"]')
    assert call.progress_token is None
    assert decode_worker_message(b'["progress",9,1]') == ProgressMessage(call_id=9, progress=1.0)


def test_tags_keep_the_lanes_apart() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_worker_message(encode_wire(_call()))
    with pytest.raises(msgspec.ValidationError):
        decode_call(encode_wire(ResultReply(call_id=1, result=msgspec.Raw(b"{}"))))


_GARBAGE = [
    pytest.param(b"", id="empty"),
    pytest.param(b"not json", id="words"),
    pytest.param(b"{}", id="object"),
    pytest.param(b"[]", id="empty-array"),
    pytest.param(b'["call"]', id="tag-only"),
    pytest.param(b'["nope",1]', id="unknown-tag"),
    pytest.param(b'["result","x",{}]', id="call-id-string"),
    pytest.param(b'["progress",1,"half"]', id="progress-string"),
    pytest.param(b'["error",1,{"message":"m"}]', id="error-without-code"),
    pytest.param(b'["call",1,"f","t",{},"v",5', id="truncated"),
    pytest.param(b"\xff\xfe", id="binary"),
    pytest.param(b'["call",1,"f\xc3\x28","t",{},"v",5,"r"]', id="invalid-utf8-call"),
    pytest.param(b'["progress",1,0.5,null,"\xff"]', id="invalid-utf8-progress"),
    pytest.param(b'["log",1,"info"]', id="log-without-data"),
    pytest.param(b'["log",1,5,null,"x"]', id="log-level-number"),
]


@pytest.mark.parametrize("data", _GARBAGE)
def test_garbage_call_raises_msgspec_error(data: bytes) -> None:
    with pytest.raises(msgspec.MsgspecError):
        decode_call(data)


@pytest.mark.parametrize("data", _GARBAGE)
def test_garbage_worker_message_raises_msgspec_error(data: bytes) -> None:
    with pytest.raises(msgspec.MsgspecError):
        decode_worker_message(data)


def test_a_call_keeps_its_cancel_key() -> None:
    call = msgspec.structs.replace(_call(), cancel_key='sess "x"')
    assert decode_call(encode_wire(call)).cancel_key == 'sess "x"'


def test_a_call_from_an_older_front_has_no_cancel_key() -> None:
    # Pre-cancellation fronts send 8 elements; the 9th defaults (rolling deploy).
    old = b'["call",1,"f","echo",{},"2025-06-18",1800000000000,"r",null]'
    assert decode_call(old).cancel_key is None


def test_an_older_worker_ignores_the_cancel_key() -> None:
    class OldCall(msgspec.Struct, array_like=True, tag="call"):
        call_id: int
        front_id: str
        tool: str
        arguments: msgspec.Raw
        protocol_version: str
        deadline_ms: int
        request_id: str
        progress_token: int | str | None = None

    call = msgspec.structs.replace(_call(), cancel_key="k")
    assert msgspec.json.decode(encode_wire(call), type=OldCall).request_id == "req-abc"


def test_cancelled_reply_is_a_worker_message() -> None:
    assert decode_worker_message(encode_wire(CancelledReply(9))) == CancelledReply(9)


@pytest.mark.parametrize(
    "cancel", [CancelCall("front-1", 42, 1_800_000_000_000), CancelRequest("s 7", 1)]
)
def test_cancel_round_trip(cancel: CancelCall | CancelRequest) -> None:
    assert decode_broadcast(encode_wire(cancel)) == cancel


def test_asking_the_client_round_trips() -> None:
    ask = ClientRequestMessage(3, "mcpfleet-ask-x", "roots/list", msgspec.Raw(b"{}"))
    asked = decode_worker_message(encode_wire(ask))
    assert isinstance(asked, ClientRequestMessage)
    assert (asked.request_id, asked.method, bytes(asked.params)) == (
        "mcpfleet-ask-x", "roots/list", b"{}"
    )  # fmt: skip
    required = InputRequiredReply(
        4, msgspec.Raw(b'{"k":{"method":"roots/list"}}'), {"a": msgspec.Raw(b"{}")}, 2
    )
    reply = decode_worker_message(encode_wire(required))
    assert isinstance(reply, InputRequiredReply)
    assert (bytes(reply.requests), reply.round) == (b'{"k":{"method":"roots/list"}}', 2)
    answered = decode_broadcast(
        encode_wire(AnsweredInput("mcpfleet-ask-x", "s1", msgspec.Raw(b'{"result":{}}')))
    )
    assert isinstance(answered, AnsweredInput)
    assert (answered.session_id, bytes(answered.response)) == ("s1", b'{"result":{}}')
    assert cancel_key_session(request_cancel_key("s1", 7)) == "s1"
    assert cancel_key_session(None) == ""


@pytest.mark.parametrize("garbage", [b"", b"[]", b'["cancel_call",1]', b'["call"]', b"\xff"])
def test_garbage_cancel_raises_one_error_family(garbage: bytes) -> None:
    with pytest.raises(msgspec.MsgspecError):
        decode_broadcast(garbage)


def test_request_cancel_keys_keep_the_ids_json_type() -> None:
    assert request_cancel_key("s", 1) != request_cancel_key("s", "1")
    assert request_cancel_key("s", 1) != request_cancel_key("t", 1)
    assert request_cancel_key("s", "a b") == 's "a b"'


def test_a_log_message_keeps_its_data_bytes() -> None:
    data = b'{"message": "m", "data": {"k": [1, 2.5]}}'
    message = LogMessage(call_id=3, level="notice", logger="t", data=msgspec.Raw(data))
    encoded = encode_wire(message)
    assert encoded.startswith(b'["log",3,"notice","t",')
    decoded = decode_worker_message(encoded)
    assert isinstance(decoded, LogMessage)
    assert bytes(decoded.data) == data


def test_a_call_keeps_its_log_level_and_principal() -> None:
    call = msgspec.structs.replace(
        _call(), log_level="warning", principal=Principal.anonymous("sess")
    )
    decoded = decode_call(encode_wire(call))
    assert decoded.log_level == "warning"
    assert decoded.principal == Principal.anonymous("sess")


def test_a_call_from_a_front_before_logging_has_neither() -> None:
    # A front of the cancellation era sends 9 elements; log level and principal default.
    old = b'["call",1,"f","echo",{},"2025-06-18",1800000000000,"r",null,"k"]'
    call = decode_call(old)
    assert (call.cancel_key, call.log_level, call.principal) == ("k", None, None)


class CancellationEraCall(msgspec.Struct, array_like=True, tag="call"):
    """``CallMessage`` as a worker of the cancellation era (ADR-0004) decodes it."""

    call_id: int
    front_id: str
    tool: str
    arguments: msgspec.Raw
    protocol_version: str
    deadline_ms: int
    request_id: str
    progress_token: int | str | None = None
    cancel_key: str | None = None


class LoggingEraCall(CancellationEraCall, array_like=True, tag="call"):
    """``CallMessage`` as a worker of the logging era (ADR-0008) decodes it."""

    log_level: str | None = None
    principal: Principal | None = None


def test_an_older_worker_ignores_the_log_level_and_principal() -> None:
    call = msgspec.structs.replace(
        _call(), cancel_key="k", log_level="debug", principal=Principal.local("alice")
    )
    decoded = msgspec.json.decode(encode_wire(call), type=CancellationEraCall)
    assert (decoded.request_id, decoded.cancel_key) == ("req-abc", "k")


def test_a_log_level_the_worker_does_not_know_still_decodes() -> None:
    call = msgspec.structs.replace(_call(), log_level="trace")
    assert decode_call(encode_wire(call)).log_level == "trace"


def test_a_session_record_without_a_log_level_decodes() -> None:
    decoder = msgspec.json.Decoder(SessionRecord)
    old = decoder.decode(b'{"protocol_version":"2025-11-25","created_ms":1,"client_name":"c"}')
    assert old.log_level is None
    record = msgspec.structs.replace(old, log_level="info")
    assert decoder.decode(msgspec.json.encode(record)) == record


# --- call kinds (ADR-0007) ------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CallKind))
def test_a_call_keeps_its_kind(kind: CallKind) -> None:
    call = msgspec.structs.replace(_call(), kind=kind)
    decoded = decode_call(encode_wire(call))
    assert decoded.kind == kind
    assert b',"' + kind.encode() + b'",' in encode_wire(call)


def test_a_call_carries_what_its_client_can_answer_and_its_round() -> None:
    answers = {"k": msgspec.Raw(b'{"action":"decline"}')}
    call = msgspec.structs.replace(
        _call(), client_capabilities=3, input_responses=answers, input_round=2
    )
    decoded = decode_call(encode_wire(call))
    assert (decoded.client_capabilities, decoded.input_round) == (3, 2)
    assert decoded.input_responses is not None
    assert bytes(decoded.input_responses["k"]) == b'{"action":"decline"}'


def test_a_call_from_a_front_before_asking_lets_the_client_answer_nothing() -> None:
    old = b'["call",1,"f","echo",{},"2026-07-28",1800000000000,"r",null,null,null,null,"tool"]'
    call = decode_call(old)
    assert (call.client_capabilities, call.input_responses, call.input_round) == (0, None, 0)


def test_a_call_from_a_front_before_resources_is_a_tool_call() -> None:
    # A front of the logging era sends 11 elements; the kind defaults to a tool call.
    old = b'["call",1,"f","echo",{},"2025-06-18",1800000000000,"r",null,null,"info",null]'
    call = decode_call(old)
    assert (call.log_level, call.kind) == ("info", CallKind.TOOL)


def test_an_older_worker_decodes_a_call_of_another_kind() -> None:
    call = msgspec.structs.replace(
        _call(), tool="test://readme", kind=CallKind.RESOURCE, principal=Principal.local("a")
    )
    decoded = msgspec.json.decode(encode_wire(call), type=LoggingEraCall)
    # It treats the read as a call to a tool named after the URI: "unknown tool", no hang.
    assert (decoded.tool, decoded.principal) == ("test://readme", Principal.local("a"))


def test_a_kind_the_worker_does_not_know_still_decodes() -> None:
    call = msgspec.structs.replace(_call(), kind="task")
    assert decode_call(encode_wire(call)).kind == "task"


def test_resource_and_completion_arguments_round_trip() -> None:
    read = ResourceReadArguments("test://items/7?detail=true", {"item_id": "7", "detail": "true"})
    assert decode_resource_arguments(encode_call_arguments(read)) == read
    assert decode_resource_arguments(b'{"uri":"test://readme"}').variables == {}
    complete = CompletionArguments("fa", {"name": "Ada"})
    assert decode_completion_arguments(encode_call_arguments(complete)) == complete
    assert decode_completion_arguments(b'{"value":""}').context == {}


@pytest.mark.parametrize("garbage", [b"{}", b'{"uri":7}', b"[]", b"\xff", b'{"value":"a"'])
def test_garbage_call_arguments_raise_one_error_family(garbage: bytes) -> None:
    with pytest.raises(msgspec.MsgspecError):
        decode_resource_arguments(garbage)
    with pytest.raises(msgspec.MsgspecError):
        decode_completion_arguments(garbage)


# --- redelivery (ADR-0014) ------------------------------------------------------------------


def test_a_call_carries_its_run_and_how_many_it_may_have() -> None:
    call = msgspec.structs.replace(_call(), run=2, max_runs=3)
    decoded = decode_call(encode_wire(call))
    assert (decoded.run, decoded.max_runs) == (2, 3)
    assert encode_wire(call).endswith(b",2,3]")


def test_a_call_from_a_front_before_redelivery_runs_once() -> None:
    # A front of the asking era sends 16 elements; run and max_runs default to one run.
    old = (
        b'["call",1,"f","echo",{},"2026-07-28",1800000000000,"r",null,null,null,null,'
        b'"tool",0,null,0]'
    )
    call = decode_call(old)
    assert (call.input_round, call.run, call.max_runs) == (0, 1, 1)


class AskingEraCall(LoggingEraCall, array_like=True, tag="call"):
    """``CallMessage`` as a worker of the asking era (ADR-0009) decodes it."""

    kind: str = "tool"
    client_capabilities: int = 0
    input_responses: dict[str, msgspec.Raw] | None = None
    input_round: int = 0


def test_an_older_worker_ignores_run_and_max_runs() -> None:
    call = msgspec.structs.replace(_call(), input_round=1, run=3, max_runs=3)
    decoded = msgspec.json.decode(encode_wire(call), type=AskingEraCall)
    assert (decoded.request_id, decoded.input_round) == ("req-abc", 1)
