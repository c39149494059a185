"""The lifecycle of one stdio connection: which era it speaks and whether a request may be
served now (mcp-protocol.md 3, checklist 10-12). Pure: requests in, verdicts out.

The era is decided once per connection, by its first request, like the official SDK's
dual-era loop: a request whose ``params._meta`` carries
``io.modelcontextprotocol/protocolVersion`` (presence alone, so a half-built envelope still
routes modern and then fails -32602), other than ``initialize``, opens a 2026-07-28
connection; anything else opens a handshake-era one. Afterwards ``initialize`` on a modern
connection is refused with -32022 naming the modern versions, and an enveloped request on a
handshake-era connection with -32600.

One refinement over the SDK: an enveloped request naming a version we do not serve does not
decide the era. It is answered -32022 listing every served version (checklist 25), and a
client that then falls back to ``initialize``, as that answer invites, gets a handshake-era
connection instead of a second refusal.

All transitions are in :data:`_TRANSITIONS`; a pair missing from it raises.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from proto.errors import (
    InvalidParamsError,
    InvalidRequestError,
    LocalProtocolError,
    ProtocolError,
    UnsupportedVersionError,
)
from proto.jsonrpc import Request
from proto.lifecycle import MODERN_VERSION_KEY, unsupported_version_error
from proto.methods import INITIALIZE, PING
from proto.versions import MODERN_VERSIONS

__all__ = [
    "Admission",
    "RequestKind",
    "SessionState",
    "StdioSession",
    "classify_request",
    "refusal",
]


class SessionState(enum.Enum):
    """Where a stdio connection stands."""

    OPENING = "opening"
    """No request decided the era yet."""
    LEGACY_NEW = "legacy-new"
    """Handshake era, ``initialize`` not answered successfully yet."""
    LEGACY_READY = "legacy-ready"
    """Handshake era, initialized: requests are served at the negotiated version."""
    MODERN = "modern"
    """2026-07-28: every request carries its own envelope."""


class RequestKind(enum.Enum):
    """What the lifecycle needs to know about a request."""

    INITIALIZE = "initialize"
    PING = "ping"
    ENVELOPED = "enveloped"
    """Carries the 2026 envelope's version key with a modern version we serve."""
    ENVELOPED_UNSERVED = "enveloped-unserved"
    """Carries the 2026 envelope's version key, but not a version we serve."""
    PLAIN = "plain"
    """Anything else: a handshake-era request."""


class Admission(enum.Enum):
    """The verdict on one request."""

    SERVE_INITIALIZE = "serve-initialize"
    SERVE_HANDSHAKE = "serve-handshake"
    SERVE_MODERN = "serve-modern"
    REFUSE_NOT_INITIALIZED = "refuse-not-initialized"
    REFUSE_REINITIALIZE = "refuse-reinitialize"
    REFUSE_ENVELOPE_ON_LEGACY = "refuse-envelope-on-legacy"
    REFUSE_INITIALIZE_ON_MODERN = "refuse-initialize-on-modern"


_S = SessionState
_K = RequestKind
_A = Admission

_TRANSITIONS: Final[dict[tuple[SessionState, RequestKind], tuple[SessionState, Admission]]] = {
    # The first request decides the era (module docstring).
    (_S.OPENING, _K.INITIALIZE): (_S.LEGACY_NEW, _A.SERVE_INITIALIZE),
    (_S.OPENING, _K.PING): (_S.LEGACY_NEW, _A.SERVE_HANDSHAKE),
    (_S.OPENING, _K.ENVELOPED): (_S.MODERN, _A.SERVE_MODERN),
    (_S.OPENING, _K.ENVELOPED_UNSERVED): (_S.OPENING, _A.SERVE_MODERN),
    (_S.OPENING, _K.PLAIN): (_S.LEGACY_NEW, _A.REFUSE_NOT_INITIALIZED),
    # Handshake era before initialize: only ping (checklist 12); a failed initialize may be
    # retried.
    (_S.LEGACY_NEW, _K.INITIALIZE): (_S.LEGACY_NEW, _A.SERVE_INITIALIZE),
    (_S.LEGACY_NEW, _K.PING): (_S.LEGACY_NEW, _A.SERVE_HANDSHAKE),
    (_S.LEGACY_NEW, _K.ENVELOPED): (_S.LEGACY_NEW, _A.REFUSE_ENVELOPE_ON_LEGACY),
    (_S.LEGACY_NEW, _K.ENVELOPED_UNSERVED): (_S.LEGACY_NEW, _A.REFUSE_ENVELOPE_ON_LEGACY),
    (_S.LEGACY_NEW, _K.PLAIN): (_S.LEGACY_NEW, _A.REFUSE_NOT_INITIALIZED),
    # Initialized: the connection is the session; its version cannot change under requests
    # already running, so a second initialize is refused.
    (_S.LEGACY_READY, _K.INITIALIZE): (_S.LEGACY_READY, _A.REFUSE_REINITIALIZE),
    (_S.LEGACY_READY, _K.PING): (_S.LEGACY_READY, _A.SERVE_HANDSHAKE),
    (_S.LEGACY_READY, _K.ENVELOPED): (_S.LEGACY_READY, _A.REFUSE_ENVELOPE_ON_LEGACY),
    (_S.LEGACY_READY, _K.ENVELOPED_UNSERVED): (_S.LEGACY_READY, _A.REFUSE_ENVELOPE_ON_LEGACY),
    (_S.LEGACY_READY, _K.PLAIN): (_S.LEGACY_READY, _A.SERVE_HANDSHAKE),
    # Modern: everything but initialize goes through the 2026 ladder, which refuses a missing
    # envelope (-32602), ping and other removed methods (-32601) and unknown versions
    # (-32022) per request.
    (_S.MODERN, _K.INITIALIZE): (_S.MODERN, _A.REFUSE_INITIALIZE_ON_MODERN),
    (_S.MODERN, _K.PING): (_S.MODERN, _A.SERVE_MODERN),
    (_S.MODERN, _K.ENVELOPED): (_S.MODERN, _A.SERVE_MODERN),
    (_S.MODERN, _K.ENVELOPED_UNSERVED): (_S.MODERN, _A.SERVE_MODERN),
    (_S.MODERN, _K.PLAIN): (_S.MODERN, _A.SERVE_MODERN),
}


class _EnvelopeProbe(msgspec.Struct):
    """Just enough of ``params`` to see the envelope's version key, whatever its type."""

    meta: dict[str, msgspec.Raw] | UnsetType = msgspec.field(default=UNSET, name="_meta")


class _InitializeProbe(msgspec.Struct):
    protocol_version: str | UnsetType = msgspec.field(default=UNSET, name="protocolVersion")


_probe_decoder: Final = msgspec.json.Decoder(_EnvelopeProbe)
_initialize_decoder: Final = msgspec.json.Decoder(_InitializeProbe)
_str_decoder: Final = msgspec.json.Decoder(str)


def classify_request(request: Request) -> RequestKind:
    """Sort a request for the lifecycle table (module docstring)."""
    if request.method == INITIALIZE:
        return RequestKind.INITIALIZE
    version = _envelope_version(request)
    if version is not None:
        return _K.ENVELOPED if version in MODERN_VERSIONS else _K.ENVELOPED_UNSERVED
    if request.method == PING:
        return RequestKind.PING
    return RequestKind.PLAIN


def _envelope_version(request: Request) -> str | None:
    """The envelope's declared version; ``""`` when the key is there but not a string;
    ``None`` when there is no envelope key (or params are not an object)."""
    try:
        probe = _probe_decoder.decode(request.params or b"{}")
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(probe.meta, UnsetType) or MODERN_VERSION_KEY not in probe.meta:
        return None
    try:
        return _str_decoder.decode(probe.meta[MODERN_VERSION_KEY])
    except (msgspec.MsgspecError, UnicodeDecodeError):
        return ""


class StdioSession:
    """The lifecycle state of one stdio connection.

    Attributes:
        state: where the connection stands.
        version: the negotiated handshake-era version once initialized, else ``None``.
    """

    def __init__(self) -> None:
        self.state = SessionState.OPENING
        self.version: str | None = None

    def admit(self, request: Request) -> Admission:
        """Decide whether ``request`` may be served now, moving the state on.

        ``SERVE_INITIALIZE`` must be answered before the next request is admitted, and
        followed by :meth:`initialized` if it succeeded.
        """
        self.state, verdict = _TRANSITIONS[(self.state, classify_request(request))]
        return verdict

    def initialized(self, version: str) -> None:
        """``initialize`` was answered successfully with ``version``.

        Raises:
            LocalProtocolError: not awaiting an ``initialize`` answer (a bug in the caller).
        """
        if self.state is not SessionState.LEGACY_NEW:
            raise LocalProtocolError(f"stdio session: initialized while {self.state.value}")
        self.state = SessionState.LEGACY_READY
        self.version = version

    @property
    def is_modern(self) -> bool:
        """True once the connection speaks 2026-07-28."""
        return self.state is SessionState.MODERN


def refusal(admission: Admission, request: Request) -> ProtocolError:
    """The error a refused request is answered with.

    Raises:
        LocalProtocolError: ``admission`` is not a refusal (a bug in the caller).
    """
    if admission is Admission.REFUSE_NOT_INITIALIZED:
        # Same code as the SDK for a request before initialize (mcp-protocol.md 6.4).
        return InvalidParamsError(
            f"Server not initialized: send initialize before {request.method!r}"
        )
    if admission is Admission.REFUSE_REINITIALIZE:
        return InvalidRequestError("Already initialized: this connection's session is open")
    if admission is Admission.REFUSE_ENVELOPE_ON_LEGACY:
        return InvalidRequestError(
            "This connection speaks the handshake era (it began with initialize): "
            "requests must not carry the 2026-07-28 _meta envelope"
        )
    if admission is Admission.REFUSE_INITIALIZE_ON_MODERN:
        return _initialize_on_modern(request)
    raise LocalProtocolError(f"stdio session: {admission.value} is not a refusal")


def _initialize_on_modern(request: Request) -> UnsupportedVersionError:
    try:
        requested = _initialize_decoder.decode(request.params or b"{}").protocol_version
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        requested = UNSET
    return unsupported_version_error(
        "" if isinstance(requested, UnsetType) else requested,
        supported=MODERN_VERSIONS,
        reason="This connection speaks 2026-07-28 (its first request carried the envelope); "
        "initialize does not exist at that version",
    )
