"""Logging messages: level order and filter, setLevel validation, notifications/message."""

from __future__ import annotations

import json

import msgspec
import pytest

from proto import (
    LOG_LEVELS,
    InvalidParamsError,
    LogMessage,
    ServerCapabilities,
    SetLevelParams,
    decode_params,
    encode_log_notification,
    is_at_least,
    is_log_level,
    log_notification,
    require_log_level,
)


def test_levels_ascend_in_rfc_5424_order() -> None:
    assert LOG_LEVELS == (
        "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency",
    )  # fmt: skip


@pytest.mark.parametrize("minimum", LOG_LEVELS)
def test_a_minimum_lets_through_itself_and_everything_more_severe(minimum: str) -> None:
    passed = [level for level in LOG_LEVELS if is_at_least(level, minimum)]
    assert passed == list(LOG_LEVELS[LOG_LEVELS.index(minimum) :])


def test_no_minimum_lets_nothing_through() -> None:
    assert not any(is_at_least(level, None) for level in LOG_LEVELS)


@pytest.mark.parametrize("level", ["loud", "INFO", ""])
def test_an_unknown_level_never_passes(level: str) -> None:
    assert is_at_least(level, "debug") is False


def test_an_unknown_minimum_lets_nothing_through() -> None:
    assert not any(is_at_least(level, "verbose") for level in LOG_LEVELS)


@pytest.mark.parametrize("value", [*LOG_LEVELS])
def test_each_level_is_a_level(value: str) -> None:
    assert is_log_level(value)
    assert require_log_level(value) == value


@pytest.mark.parametrize("value", ["Info", "warn", "trace", "", 3, None])
def test_anything_else_is_refused_with_invalid_params(value: object) -> None:
    assert not is_log_level(value)
    if isinstance(value, str):
        with pytest.raises(InvalidParamsError) as info:
            require_log_level(value)
        assert info.value.code == -32602
        assert "debug, info, notice" in info.value.message
        assert info.value.data == {"level": value, "levels": list(LOG_LEVELS)}


def test_set_level_params_need_a_string_level() -> None:
    decoder = msgspec.json.Decoder(SetLevelParams)
    assert decode_params(msgspec.Raw(b'{"level":"info"}'), decoder).level == "info"
    for bad in (b"{}", b'{"level":3}', b"[]"):
        with pytest.raises(InvalidParamsError):
            decode_params(msgspec.Raw(bad), decoder)


def test_a_notification_carries_level_logger_and_raw_data() -> None:
    encoded = encode_log_notification("warning", "tool", b'{"message":"m","data":[1, 2]}')
    assert json.loads(encoded) == {
        "jsonrpc": "2.0",
        "method": "notifications/message",
        "params": {"level": "warning", "logger": "tool", "data": {"message": "m", "data": [1, 2]}},
    }
    assert b'"data":[1, 2]' in encoded  # passed through byte for byte, never re-encoded


def test_a_notification_without_a_logger_omits_it() -> None:
    encoded = encode_log_notification("info", None, msgspec.Raw(b'"hi"'))
    assert json.loads(encoded)["params"] == {"level": "info", "data": "hi"}


def test_the_front_forwards_a_worker_entry_only_at_or_above_the_minimum() -> None:
    entry = LogMessage(call_id=1, level="notice", logger="t", data=msgspec.Raw(b'"x"'))
    forwarded = log_notification(entry, "info")
    assert forwarded is not None
    assert json.loads(forwarded)["params"] == {"level": "notice", "logger": "t", "data": "x"}
    assert log_notification(entry, "warning") is None
    assert log_notification(entry, None) is None
    future = LogMessage(call_id=1, level="trace", logger="t", data=msgspec.Raw(b'"x"'))
    assert log_notification(future, "debug") is None


def test_capabilities_declare_logging_as_an_empty_object() -> None:
    encoded = msgspec.json.encode(ServerCapabilities(logging={}))
    assert json.loads(encoded) == {"logging": {}}
    assert msgspec.json.encode(ServerCapabilities()) == b"{}"
