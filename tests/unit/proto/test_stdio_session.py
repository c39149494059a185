"""The stdio connection lifecycle: the first request decides the era (checklist 10), the
handshake era refuses requests before initialize (checklist 12), cross-era requests are
refused with the codes the SDK uses."""

from __future__ import annotations

import json
from itertools import count

import msgspec
import pytest

from proto import (
    ALL_VERSIONS,
    MODERN_VERSIONS,
    Admission,
    ErrorCode,
    LocalProtocolError,
    Request,
    RequestKind,
    SessionState,
    StdioSession,
    classify_request,
    refusal,
)

_ids = count(1)
MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


def request(method: str, params: object = None) -> Request:
    raw = msgspec.Raw(json.dumps(params).encode()) if params is not None else msgspec.Raw()
    return Request(next(_ids), method, raw)


def enveloped(method: str, version: object = MODERN) -> Request:
    meta = {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": version}
    return request(method, {"_meta": meta})


INITIALIZE = request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}})


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (INITIALIZE, RequestKind.INITIALIZE),
        (request("initialize", {"_meta": ENVELOPE}), RequestKind.INITIALIZE),
        (request("ping"), RequestKind.PING),
        (enveloped("ping"), RequestKind.ENVELOPED),
        (enveloped("tools/list"), RequestKind.ENVELOPED),
        (enveloped("server/discover", "2099-01-01"), RequestKind.ENVELOPED_UNSERVED),
        (enveloped("tools/list", 7), RequestKind.ENVELOPED_UNSERVED),
        # Presence of the version key alone marks the envelope (half-built ones too).
        (request("tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}),
         RequestKind.ENVELOPED),
        (request("tools/list", {"_meta": {"progressToken": 1}}), RequestKind.PLAIN),
        (request("tools/list"), RequestKind.PLAIN),
        (request("tools/list", {"_meta": "not an object"}), RequestKind.PLAIN),
        (request("tools/list", [1, 2]), RequestKind.PLAIN),
    ],
)  # fmt: skip
def test_classify(message: Request, kind: RequestKind) -> None:
    assert classify_request(message) is kind


def test_initialize_opens_a_handshake_session() -> None:
    session = StdioSession()
    assert session.admit(INITIALIZE) is Admission.SERVE_INITIALIZE
    assert session.state is SessionState.LEGACY_NEW
    session.initialized("2025-06-18")
    assert (session.state, session.version) == (SessionState.LEGACY_READY, "2025-06-18")
    assert session.admit(request("tools/list")) is Admission.SERVE_HANDSHAKE
    assert session.admit(request("ping")) is Admission.SERVE_HANDSHAKE
    assert session.admit(INITIALIZE) is Admission.REFUSE_REINITIALIZE
    assert session.admit(enveloped("tools/list")) is Admission.REFUSE_ENVELOPE_ON_LEGACY
    assert not session.is_modern


def test_before_initialize_only_ping_is_served() -> None:
    session = StdioSession()
    assert session.admit(request("tools/call")) is Admission.REFUSE_NOT_INITIALIZED
    assert session.state is SessionState.LEGACY_NEW
    assert session.admit(request("ping")) is Admission.SERVE_HANDSHAKE
    assert session.admit(request("tools/list")) is Admission.REFUSE_NOT_INITIALIZED
    assert session.admit(enveloped("tools/list")) is Admission.REFUSE_ENVELOPE_ON_LEGACY
    # A failed initialize can be retried.
    assert session.admit(INITIALIZE) is Admission.SERVE_INITIALIZE
    assert session.admit(INITIALIZE) is Admission.SERVE_INITIALIZE
    session.initialized("2025-11-25")
    assert session.state is SessionState.LEGACY_READY


def test_ping_first_locks_the_handshake_era() -> None:
    session = StdioSession()
    assert session.admit(request("ping")) is Admission.SERVE_HANDSHAKE
    assert session.admit(enveloped("server/discover")) is Admission.REFUSE_ENVELOPE_ON_LEGACY


def test_an_enveloped_first_request_opens_a_modern_connection() -> None:
    session = StdioSession()
    assert session.admit(enveloped("server/discover")) is Admission.SERVE_MODERN
    assert session.is_modern
    # Everything but initialize goes to the per-request ladder, which refuses what it must.
    for method in ("tools/list", "ping", "initialize/x", "nope"):
        assert session.admit(request(method)) is Admission.SERVE_MODERN
    assert session.admit(enveloped("tools/call", "1999-01-01")) is Admission.SERVE_MODERN
    assert session.admit(INITIALIZE) is Admission.REFUSE_INITIALIZE_ON_MODERN
    assert session.is_modern


def test_an_unserved_version_first_does_not_decide_the_era() -> None:
    session = StdioSession()
    assert session.admit(enveloped("server/discover", "2099-01-01")) is Admission.SERVE_MODERN
    assert session.state is SessionState.OPENING
    # The client falls back to initialize, as -32022 listing handshake versions invites.
    assert session.admit(INITIALIZE) is Admission.SERVE_INITIALIZE


def test_initialized_out_of_turn_is_a_local_error() -> None:
    session = StdioSession()
    with pytest.raises(LocalProtocolError):
        session.initialized("2025-11-25")
    session.admit(enveloped("tools/list"))
    with pytest.raises(LocalProtocolError):
        session.initialized("2025-11-25")


def test_refusals_carry_the_sdk_codes() -> None:
    tools = request("tools/list")
    assert refusal(Admission.REFUSE_NOT_INITIALIZED, tools).code == ErrorCode.INVALID_PARAMS
    assert refusal(Admission.REFUSE_REINITIALIZE, tools).code == ErrorCode.INVALID_REQUEST
    assert refusal(Admission.REFUSE_ENVELOPE_ON_LEGACY, tools).code == ErrorCode.INVALID_REQUEST
    modern = refusal(Admission.REFUSE_INITIALIZE_ON_MODERN, INITIALIZE)
    assert modern.code == ErrorCode.UNSUPPORTED_PROTOCOL_VERSION
    assert modern.data == {"supported": list(MODERN_VERSIONS), "requested": "2025-11-25"}
    odd = refusal(Admission.REFUSE_INITIALIZE_ON_MODERN, request("initialize", {"x": 1}))
    assert odd.data == {"supported": list(MODERN_VERSIONS), "requested": ""}
    with pytest.raises(LocalProtocolError):
        refusal(Admission.SERVE_MODERN, tools)


def test_every_state_answers_every_kind() -> None:
    for state in SessionState:
        for kind in RequestKind:
            session = StdioSession()
            session.state = state
            message = {
                RequestKind.INITIALIZE: INITIALIZE,
                RequestKind.PING: request("ping"),
                RequestKind.ENVELOPED: enveloped("tools/list"),
                RequestKind.ENVELOPED_UNSERVED: enveloped("tools/list", "x"),
                RequestKind.PLAIN: request("tools/list"),
            }[kind]
            assert isinstance(session.admit(message), Admission)


def test_all_versions_still_list_the_handshake_ones() -> None:
    # The -32022 of an unserved modern version lists these (checklist 25), which is what
    # makes the initialize fallback of test_an_unserved_version_first… meaningful.
    assert set(ALL_VERSIONS) - set(MODERN_VERSIONS)
