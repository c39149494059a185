"""Lifecycle messages: the 2026-07-28 envelope check and the wire names of results."""

from __future__ import annotations

import json

import msgspec
import pytest

from proto import (
    LOG_LEVELS,
    DiscoverResult,
    Implementation,
    InitializeParams,
    InitializeResult,
    InvalidParamsError,
    ModernMeta,
    ModernParams,
    ResultMeta,
    ServerCapabilities,
    ToolsCapability,
    implementation_for_version,
    require_envelope,
)

_modern = msgspec.json.Decoder(ModernParams)
_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
_CAPS_KEY = "io.modelcontextprotocol/clientCapabilities"


def _params(obj: object) -> ModernParams:
    return _modern.decode(json.dumps(obj).encode())


@pytest.mark.parametrize(
    ("params", "missing"),
    [
        pytest.param({}, "_meta", id="no-meta"),
        pytest.param({"name": "echo"}, "_meta", id="name-but-no-meta"),
        pytest.param({"_meta": {}}, _VERSION_KEY, id="empty-meta"),
        pytest.param({"_meta": {_CAPS_KEY: {}}}, _VERSION_KEY, id="no-version"),
        pytest.param({"_meta": {_VERSION_KEY: "2026-07-28"}}, _CAPS_KEY, id="no-capabilities"),
    ],
)
def test_require_envelope_rejects_missing_keys(params: object, missing: str) -> None:
    with pytest.raises(InvalidParamsError) as info:
        require_envelope(_params(params))
    assert info.value.code == -32602
    assert info.value.http_status == 400
    assert missing in info.value.message


def test_require_envelope_returns_version_and_meta() -> None:
    params = _params(
        {
            "name": "echo",
            "arguments": {"ignored": True},
            "_meta": {
                _VERSION_KEY: "2026-07-28",
                _CAPS_KEY: {},
                "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "9"},
                "io.modelcontextprotocol/logLevel": "debug",
                "progressToken": 17,
            },
        }
    )
    version, meta = require_envelope(params)
    assert version == "2026-07-28"
    assert isinstance(meta, ModernMeta)
    assert meta.client_capabilities == {}
    assert meta.client_info == Implementation(name="c", version="9")
    assert meta.log_level == "debug"
    assert meta.progress_token == 17
    assert params.name == "echo"


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param({_VERSION_KEY: 20260728, _CAPS_KEY: {}}, id="version-int"),
        pytest.param({_VERSION_KEY: None, _CAPS_KEY: {}}, id="version-null"),
        pytest.param({_VERSION_KEY: "2026-07-28", _CAPS_KEY: []}, id="capabilities-array"),
        pytest.param(
            {
                _VERSION_KEY: "2026-07-28",
                _CAPS_KEY: {},
                "io.modelcontextprotocol/logLevel": "verbose",
            },
            id="unknown-log-level",
        ),
        pytest.param(
            {_VERSION_KEY: "2026-07-28", _CAPS_KEY: {}, "progressToken": 1.5},
            id="float-progress-token",
        ),
    ],
)
def test_modern_params_with_wrong_types_fail_validation(meta: object) -> None:
    with pytest.raises(msgspec.ValidationError):
        _params({"_meta": meta})


def test_modern_params_name_must_be_a_string() -> None:
    with pytest.raises(msgspec.ValidationError):
        _params({"name": 5})


def test_log_levels_ascend() -> None:
    assert LOG_LEVELS == (
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    )


_SERVER = Implementation(name="x", version="1")


def test_discover_result_encoding() -> None:
    result = DiscoverResult(
        result_type="complete",
        supported_versions=["2025-11-25", "2026-07-28"],
        capabilities=ServerCapabilities(tools=ToolsCapability()),
        ttl_ms=60_000,
        cache_scope="public",
        meta=ResultMeta(server_info=_SERVER),
    )
    assert json.loads(msgspec.json.encode(result)) == {
        "resultType": "complete",
        "supportedVersions": ["2025-11-25", "2026-07-28"],
        "capabilities": {"tools": {}},
        "ttlMs": 60_000,
        "cacheScope": "public",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "x", "version": "1"}},
    }


def test_discover_result_with_instructions_and_full_server_info() -> None:
    info = Implementation(name="x", version="1", title="X", website_url="https://x.example")
    result = DiscoverResult(
        result_type="complete",
        supported_versions=["2026-07-28"],
        capabilities=ServerCapabilities(),
        ttl_ms=0,
        cache_scope="private",
        meta=ResultMeta(server_info=info),
        instructions="Use echo.",
    )
    encoded = json.loads(msgspec.json.encode(result))
    assert encoded["instructions"] == "Use echo."
    assert encoded["ttlMs"] == 0
    assert encoded["cacheScope"] == "private"
    assert encoded["resultType"] == "complete"
    assert encoded["capabilities"] == {}
    assert encoded["_meta"]["io.modelcontextprotocol/serverInfo"] == {
        "name": "x",
        "version": "1",
        "title": "X",
        "websiteUrl": "https://x.example",
    }


def test_initialize_result_encoding() -> None:
    result = InitializeResult(
        protocol_version="2025-06-18",
        capabilities=ServerCapabilities(tools=ToolsCapability(list_changed=True)),
        server_info=_SERVER,
        instructions="hi",
    )
    assert json.loads(msgspec.json.encode(result)) == {
        "protocolVersion": "2025-06-18",
        "capabilities": {"tools": {"listChanged": True}},
        "serverInfo": {"name": "x", "version": "1"},
        "instructions": "hi",
    }


def test_initialize_result_omits_absent_fields() -> None:
    result = InitializeResult(
        protocol_version="2025-03-26", capabilities=ServerCapabilities(), server_info=_SERVER
    )
    assert json.loads(msgspec.json.encode(result)) == {
        "protocolVersion": "2025-03-26",
        "capabilities": {},
        "serverInfo": {"name": "x", "version": "1"},
    }


def test_initialize_params_decode_camel_case() -> None:
    params = msgspec.json.decode(
        b'{"protocolVersion":"2025-06-18","capabilities":{"roots":{}},'
        b'"clientInfo":{"name":"c","version":"2","websiteUrl":"u"}}',
        type=InitializeParams,
    )
    assert params.protocol_version == "2025-06-18"
    assert params.capabilities == {"roots": {}}
    assert params.client_info == Implementation(name="c", version="2", website_url="u")


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"protocolVersion": 1}',
        b'{"protocolVersion":"2025-06-18","clientInfo":{"name":"c"}}',
    ],
)
def test_initialize_params_invalid(body: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(body, type=InitializeParams)


def test_require_served_version_lists_every_served_version() -> None:
    from proto import ALL_VERSIONS, UnsupportedVersionError, require_served_version

    require_served_version("2026-07-28")
    for version in ("2025-11-25", "2099-01-01", ""):
        with pytest.raises(UnsupportedVersionError) as info:
            require_served_version(version)
        assert info.value.code == -32022
        assert info.value.http_status == 400
        assert info.value.data == {"supported": list(ALL_VERSIONS), "requested": version}
        assert info.value.message == f"Unsupported protocol version: {version!r}"


def test_cancelled_params_need_a_request_id_of_either_type() -> None:
    from proto import CancelledParams

    decoder = msgspec.json.Decoder(CancelledParams)
    assert decoder.decode(b'{"requestId": 3}').request_id == 3
    assert decoder.decode(b'{"requestId": "3", "reason": "user"}').request_id == "3"
    for bad in (b"{}", b'{"requestId": true}', b'{"requestId": null}', b'{"requestId": 1.5}'):
        with pytest.raises(msgspec.ValidationError):
            decoder.decode(bad)


def test_mcp_name_mirrors_the_name_or_uri_of_name_bearing_methods() -> None:
    from msgspec import UNSET

    from proto import ModernParams, mirrored_name

    params = ModernParams(name="echo", uri="test://a")
    assert mirrored_name("tools/call", params) == "echo"
    assert mirrored_name("prompts/get", params) == "echo"
    assert mirrored_name("resources/read", params) == "test://a"
    assert mirrored_name("tools/list", params) is None
    assert mirrored_name("resources/read", ModernParams()) is UNSET


# --- the server identity per revision -------------------------------------------------------

FULL = Implementation(
    name="weather",
    version="1.2.0",
    title="Weather",
    description="Forecasts.",
    icons=[{"src": "https://example.com/w.png"}],
    website_url="https://example.com",
)


@pytest.mark.parametrize(
    ("version", "fields"),
    [
        ("2025-03-26", {"name", "version"}),
        ("2025-06-18", {"name", "version", "title"}),
        ("2025-11-25", {"name", "version", "title", "description", "icons", "websiteUrl"}),
        ("2026-07-28", {"name", "version", "title", "description", "icons", "websiteUrl"}),
    ],
)
def test_the_server_identity_has_only_its_revisions_fields(version: str, fields: set[str]) -> None:
    shaped = json.loads(msgspec.json.encode(implementation_for_version(FULL, version)))
    assert set(shaped) == fields
    assert (shaped["name"], shaped["version"]) == ("weather", "1.2.0")


def test_a_clients_odd_icons_do_not_fail_its_requests() -> None:
    """clientInfo is decoded on every 2026-07-28 request; its icons are display-only."""
    info = {"name": "c", "version": "1", "icons": [{"src": 5, "theme": "neon"}, {}]}
    params = _params({"_meta": {_VERSION_KEY: "2026-07-28", _CAPS_KEY: {},
                                "io.modelcontextprotocol/clientInfo": info}})  # fmt: skip
    assert isinstance(params.meta, ModernMeta)
    assert isinstance(params.meta.client_info, Implementation)
    assert params.meta.client_info.name == "c"
