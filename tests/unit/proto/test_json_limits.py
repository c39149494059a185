"""proto/json_limits.py: the nesting-depth scan (exact against a reference on random JSON,
and on the hostile shapes the ADR measured) and the bounds on tool arguments."""

from __future__ import annotations

import json
import random

import pytest

from proto import (
    DEFAULT_MAX_JSON_DEPTH,
    ArgumentLimits,
    ErrorCode,
    InvalidParamsError,
    RequestError,
    decode_batch,
    decode_message,
    nesting_exceeds,
)


def reference_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((reference_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((reference_depth(item) for item in value.values()), default=0)
    return 0


TRICKY_STRINGS = ["", "x", "[{", "]}", '"', '\\"[', "\\", "\\\\", '\\\\"', "é\u2028", "[[[[[["]


def random_json(rnd: random.Random, depth: int) -> object:
    if depth == 0 or rnd.random() < 0.2:
        return rnd.choice([1, None, True, 2.5, *TRICKY_STRINGS])
    if rnd.random() < 0.5:
        return [random_json(rnd, depth - 1) for _ in range(rnd.randint(0, 3))]
    keys = rnd.sample(TRICKY_STRINGS, rnd.randint(0, 3))
    return {key: random_json(rnd, depth - 1) for key in keys}


def test_the_scan_agrees_with_a_reference_on_random_json() -> None:
    rnd = random.Random(7)
    for _ in range(3000):
        value = random_json(rnd, rnd.randint(1, 10))
        data = json.dumps(value, ensure_ascii=rnd.random() < 0.5).encode()
        depth = reference_depth(value)
        for limit in (0, 1, 2, 3, 5, 8):
            assert nesting_exceeds(data, limit) == (depth > limit), (data, limit, depth)


@pytest.mark.parametrize(
    ("data", "deeper"),
    [
        (b"[" * 100_000 + b"]" * 100_000, True),
        (b"[" * 100_000, True),  # never closed: refused for its depth all the same
        (b"[" * 64 + b"]" * 64, False),
        (b"[" * 65 + b"]" * 65, True),
        (b"{" + b'"a":{' * 64 + b"1" + b"}" * 65, True),
        (b'{"a":{' * 32 + b"1" + b"}}" * 32, False),
        # Brackets inside strings do not nest, escaped quotes do not end the string.
        (b'["' + b"[" * 100_000 + b'"]', False),
        (b'["\\"' + b"[" * 100_000 + b'"]', False),
        (b'["\\\\"' + b"," + b"[" * 65 + b"]" * 65 + b"]", True),
        # Wide but shallow: many brackets, each at a low level.
        (b"[" + b"[[]]," * 50_000 + b"[]]", False),
        # Many siblings of exactly the limit, then one over it.
        (b"[" + (b"[" * 63 + b"]" * 63 + b",") * 1000 + b"1]", False),
        (b"[" + (b"[" * 63 + b"]" * 63 + b",") * 1000 + b"[" * 64 + b"]" * 64 + b"]", True),
    ],
)
def test_hostile_shapes(data: bytes, deeper: bool) -> None:
    assert nesting_exceeds(data, 64) is deeper


def test_a_message_nested_over_the_bound_is_invalid_with_its_id() -> None:
    arguments = b"[" * 70 + b"]" * 70
    body = (
        b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"t","arguments":{"a":'
        + arguments
        + b"}}}"
    )
    with pytest.raises(RequestError) as info:
        decode_message(body)
    assert info.value.request_id == 9
    assert info.value.error.code == ErrorCode.INVALID_REQUEST
    assert f"deeper than {DEFAULT_MAX_JSON_DEPTH} levels" in info.value.error.message
    assert decode_message(body, max_depth=80).id == 9


def test_a_message_past_the_decoders_own_limit_names_the_bound() -> None:
    # msgspec gives up first (Python's recursion limit): the same refusal, id unknown.
    with pytest.raises(RequestError) as info:
        decode_message(b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * 100_000)
    assert info.value.request_id is None
    assert info.value.error.code == ErrorCode.INVALID_REQUEST
    assert f"deeper than {DEFAULT_MAX_JSON_DEPTH} levels" in info.value.error.message


def test_batch_members_are_refused_one_by_one() -> None:
    deep = b'{"jsonrpc":"2.0","id":2,"method":"ping","params":{"a":' + b"[" * 30
    deep += b"]" * 30 + b"}}"
    body = b'[{"jsonrpc":"2.0","id":1,"method":"ping"},' + deep + b"]"
    ok, refused = decode_batch(body, max_items=10, max_depth=20)
    assert not isinstance(ok, RequestError)
    assert isinstance(refused, RequestError)
    assert refused.request_id == 2


LIMITS = ArgumentLimits(max_bytes=12_000, max_string_chars=100, max_items=10)


def refusal(arguments: object) -> InvalidParamsError:
    with pytest.raises(InvalidParamsError) as info:
        LIMITS.check(json.dumps(arguments).encode())
    return info.value


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"text": "x" * 100, "items": list(range(10))},
        {"nested": [{"deep": ["y" * 100] * 10}] * 10},
        {"k" * 100: 1},
    ],
)
def test_arguments_within_every_bound_pass(arguments: object) -> None:
    LIMITS.check(json.dumps(arguments).encode())


def test_an_over_long_string_is_named_by_its_path() -> None:
    error = refusal({"filters": {"tags": ["a", "b", "c", "x" * 101]}})
    assert error.code == ErrorCode.INVALID_PARAMS
    assert error.data == {"argument": "$.filters.tags[3]", "limit": 100, "size": 101}
    assert "argument $.filters.tags[3] is a string of 101 characters" in error.message


def test_characters_not_bytes_are_counted() -> None:
    LIMITS.check(json.dumps({"text": "é" * 100}, ensure_ascii=False).encode())
    LIMITS.check(json.dumps({"text": "é" * 100}).encode())  # \u00e9: 6 bytes each


def test_an_over_long_member_name_is_refused() -> None:
    error = refusal({"ok": {"n" * 101: 1}})
    assert error.data == {"argument": "$.ok (a member's name)", "limit": 100, "size": 101}


def test_an_over_long_array_and_object_are_named() -> None:
    assert refusal({"rows": list(range(11))}).data == {
        "argument": "$.rows",
        "limit": 10,
        "size": 11,
    }
    wide = {f"k{i}": i for i in range(11)}
    error = refusal({"odd key": wide})
    assert error.data == {"argument": '$["odd key"]', "limit": 10, "size": 11}
    assert "an object of 11 members" in error.message


def test_the_total_size_is_checked_first() -> None:
    # Over every bound at once: the size, the cheapest to know, is what is reported.
    data = json.dumps({"text": "x" * 200, "rows": list(range(200))}).encode()
    with pytest.raises(InvalidParamsError) as info:
        ArgumentLimits(max_bytes=100, max_string_chars=10, max_items=5).check(data)
    assert info.value.data == {"argument": "$", "limit": 100, "size": len(data)}
    assert f"{len(data)} bytes of arguments, over the limit of 100 bytes" in info.value.message
