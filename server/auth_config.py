"""``AuthConfig``: bearer-token authentication of the HTTP front (``[auth]``, ADR-0016).

Off unless a key source is set: ``jwt_secret`` (HS256/384/512), ``public_key_file`` or
``jwks_url`` (RS*, PS*, ES*, EdDSA). The Struct checks each key alone (so each layer of the
configuration can be checked on its own); :meth:`AuthConfig.problem` checks the keys
together, on the merged configuration, and refuses the inconsistent ones: an algorithm
without its key, a key no allowed algorithm uses, a public key and a JWKS URL at once, a
shared secret shorter than its hash (pyjwt's own minimum, RFC 7518 3.2), no audience to
check tokens against (unless ``insecure_skip_audience``), no authorization server for the
metadata. ``none`` is never an algorithm.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Final
from urllib.parse import urlsplit

import msgspec

from proto import is_scope_token

__all__ = ["ASYMMETRIC_ALGORITHMS", "HMAC_ALGORITHMS", "AuthConfig", "check_jwks_url"]

HMAC_ALGORITHMS: Final = {"HS256": 32, "HS384": 48, "HS512": 64}
"""The shared-secret algorithms, with the least secret length in bytes each takes (its hash's
output size: RFC 7518 3.2, what pyjwt enforces with ``enforce_minimum_key_length``)."""

ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512",
        "EdDSA",
    }
)  # fmt: skip
"""The public-key algorithms a static key or a JWKS may verify."""

_LOOPBACK_NAMES: Final = frozenset({"localhost"})

NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
Leeway = Annotated[float, msgspec.Meta(ge=0, le=300)]
CacheSeconds = Annotated[float, msgspec.Meta(ge=1)]


class AuthConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Bearer-token authentication of the HTTP front (``[auth]`` in mcpfleet.toml;
    docs/configuration.md). stdio is never authenticated: its principal is the local user."""

    jwt_secret: str | None = None
    """Shared secret of HS256/384/512 tokens (at least 32/48/64 bytes); setting it turns
    authentication on. For development: production deployments verify with keys."""

    public_key_file: str | None = None
    """PEM file of the public key that verifies RS*/PS*/ES*/EdDSA tokens; turns
    authentication on."""

    jwks_url: str | None = None
    """URL of the issuer's JSON Web Key Set (``https://``, or ``http://`` on loopback only);
    keys are picked by the token's ``kid``; turns authentication on."""

    algorithms: tuple[str, ...] | str = ()
    """The algorithms accepted (an explicit allow-list; ``none`` never is). Empty: HS256
    with ``jwt_secret``, RS256 with a public key or JWKS. A string is read as a
    comma-separated list (``MCPFLEET_AUTH_ALGORITHMS=RS256,ES256``)."""

    issuer: str | None = None
    """The ``iss`` every token must carry; unchecked when unset."""

    audience: str | tuple[str, ...] | None = None
    """The ``aud`` a token must name (one of, for a list). Unset: ``resource``. One of the
    two is required (a server must only take tokens issued for it, mcp-protocol.md 11),
    unless ``insecure_skip_audience``."""

    insecure_skip_audience: bool = False
    """Development only: accept tokens whatever their ``aud`` when neither ``audience`` nor
    ``resource`` is set (the front logs ``auth.audience_unchecked`` at start). Off, such a
    configuration stops ``mcpfleet up``."""

    resource: str | None = None
    """This MCP endpoint's canonical URL (``https://mcp.example.com/mcp``): ``resource`` in
    the protected-resource metadata, the base of the ``resource_metadata`` URL of every
    challenge, and the default ``audience``. Unset: derived per request from its scheme,
    ``Host`` and the front's path."""

    authorization_servers: tuple[str, ...] = ()
    """Issuer URLs of the authorization servers clients get tokens from, listed in the
    metadata; empty: ``[issuer]``. The metadata must list one (RFC 9728, mcp-protocol.md
    11): ``issuer`` or this is required."""

    scopes_supported: tuple[str, ...] = ()
    """Scopes listed in the metadata and in the ``scope`` of a 401 challenge; empty: every
    scope a tool requires."""

    resource_name: str | None = None
    """Human-readable name of the resource in the metadata (``resource_name``)."""

    leeway_s: Leeway = 60.0
    """Clock skew allowed on ``exp``, ``nbf`` and ``iat`` (at most 300 s)."""

    max_token_lifetime_s: Annotated[float, msgspec.Meta(gt=0)] | None = None
    """When set, tokens must carry ``iat`` and live at most this long (``exp - iat``)."""

    jwks_cache_s: CacheSeconds = 3600.0
    """How long a fetched key set is used before it is fetched again (in the background;
    a failed fetch keeps the keys it has)."""

    jwks_refresh_cooldown_s: CacheSeconds = 30.0
    """A token whose ``kid`` the key set lacks fetches the set again at most this often
    (per front), so tokens with random ``kid`` values cannot make a front hammer the issuer;
    also the pause before a failed fetch is tried again."""

    jwks_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0
    """Total deadline of one key-set fetch (connecting, TLS, headers and body), and the
    longest a request waits for one."""

    token_cache_size: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 4096
    """Verified tokens remembered (by their SHA-256, each until its ``exp`` at most), so a
    client's next request skips the signature check (ADR-0016 has the numbers); 0: none."""

    tool_scopes: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    """Scopes each named tool requires, replacing those its ``@app.tool(scopes=…)``
    declares (``{ deploy = ["ops:write"] }``; ``[]`` opens a tool to every token). A name
    the app does not register stops ``mcpfleet up``."""

    def __post_init__(self) -> None:
        # Checks of one key at a time: a layer (file, environment) may set one key of a
        # pair and rely on another for the other (``problem`` checks them together).
        names = self.algorithms
        if isinstance(names, str):
            names = tuple(part for part in re.split(r"[\s,]+", names) if part)
            msgspec.structs.force_setattr(self, "algorithms", names)
        for name in names:
            if name.lower() == "none":
                raise ValueError("algorithm 'none' is never accepted (unsigned tokens)")
            if name not in HMAC_ALGORITHMS and name not in ASYMMETRIC_ALGORITHMS:
                known = ", ".join([*HMAC_ALGORITHMS, *sorted(ASYMMETRIC_ALGORITHMS)])
                raise ValueError(f"unknown algorithm {name!r}: use one of {known}")
        if self.jwt_secret == "":
            raise ValueError("jwt_secret is empty")
        if self.jwks_url is not None:
            check_jwks_url(self.jwks_url)
        if self.resource is not None:
            _check_resource(self.resource)
        for tool, scopes in self.tool_scopes.items():
            _check_scopes(f"tool_scopes.{tool}", scopes)
        _check_scopes("scopes_supported", self.scopes_supported)

    @property
    def enabled(self) -> bool:
        """Whether requests must carry a bearer token (a key source is set)."""
        return bool(self.jwt_secret or self.public_key_file or self.jwks_url)

    @property
    def allowed_algorithms(self) -> tuple[str, ...]:
        """The algorithms accepted: the configured ones, or the default for the keys."""
        if self.algorithms:
            return tuple(self.algorithms)
        if self.jwt_secret and not (self.public_key_file or self.jwks_url):
            return ("HS256",)
        if self.public_key_file or self.jwks_url:
            return ("RS256",) if not self.jwt_secret else ("HS256", "RS256")
        return ()

    @property
    def expected_audience(self) -> str | tuple[str, ...] | None:
        """The ``aud`` tokens must name: ``audience``, else ``resource``, else None (not
        checked: only with ``insecure_skip_audience``, which :meth:`problem` demands)."""
        return self.audience if self.audience is not None else self.resource

    @property
    def metadata_servers(self) -> tuple[str, ...]:
        """The ``authorization_servers`` of the metadata: as configured, else the issuer."""
        if self.authorization_servers:
            return self.authorization_servers
        return (self.issuer,) if self.issuer else ()

    def problem(self) -> str | None:
        """What makes the keys inconsistent together, or None (checked on the merged
        configuration; the message never quotes the secret)."""
        if not self.enabled:
            if self != AuthConfig():
                return (
                    "[auth] is configured without a key: set jwt_secret, public_key_file or "
                    "jwks_url (authentication stays off without one)"
                )
            return None
        if self.public_key_file and self.jwks_url:
            return "set public_key_file or jwks_url, not both"
        algorithms = self.allowed_algorithms
        hmac = [a for a in algorithms if a in HMAC_ALGORITHMS]
        asymmetric = [a for a in algorithms if a in ASYMMETRIC_ALGORITHMS]
        if hmac and not self.jwt_secret:
            return (
                f"the HMAC algorithms ({', '.join(hmac)}) need jwt_secret: a public key is "
                "never used as an HMAC secret (algorithm confusion)"
            )
        if asymmetric and not (self.public_key_file or self.jwks_url):
            return (
                f"the public-key algorithms ({', '.join(asymmetric)}) need public_key_file or "
                "jwks_url"
            )
        if self.jwt_secret and not hmac:
            return "jwt_secret is set but no HS256/HS384/HS512 is among the algorithms"
        if (self.public_key_file or self.jwks_url) and not asymmetric:
            return "a public key or JWKS is set but no RS*/PS*/ES*/EdDSA is among the algorithms"
        if self.jwt_secret:
            length = len(self.jwt_secret.encode())
            strongest = max(hmac, key=HMAC_ALGORITHMS.__getitem__)
            needed = HMAC_ALGORITHMS[strongest]
            if length < needed:
                return (
                    f"jwt_secret is {length} bytes; {strongest} takes a secret of at least "
                    f"{needed} (RFC 7518 3.2): generate one with `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(64))'`"
                )
        return self._protected_resource_problem()

    def _protected_resource_problem(self) -> str | None:
        """What the protected resource lacks (mcp-protocol.md 11): an audience to check
        tokens against, an authorization server to name in its metadata."""
        if self.expected_audience is None and not self.insecure_skip_audience:
            return (
                "no audience to check tokens against: set audience (the aud your "
                "authorization server puts in tokens for this server) or resource (this "
                "endpoint's URL, the default audience); for development only, "
                "insecure_skip_audience = true accepts any aud"
            )
        if self.expected_audience is not None and self.insecure_skip_audience:
            return (
                "insecure_skip_audience = true contradicts audience/resource, which are "
                "checked: drop one"
            )
        if not self.metadata_servers:
            return (
                "no authorization server for the protected-resource metadata: set issuer "
                "(the iss of the tokens, also listed as their authorization server) or "
                "authorization_servers"
            )
        return None


def _check_scopes(field: str, scopes: tuple[str, ...]) -> None:
    for scope in scopes:
        if not is_scope_token(scope):
            raise ValueError(
                f"{field}: {scope!r} is not an OAuth scope (visible ASCII without spaces, "
                "quotes or backslashes)"
            )


def check_jwks_url(url: str) -> None:
    """Where a key set may be fetched from (``jwks_url``, and any redirect its endpoint
    answers): HTTPS, or plain HTTP to this machine; a key set fetched in the clear from
    elsewhere could be replaced on the way, and with it every key.

    Raises:
        ValueError: any other URL.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise ValueError(f"jwks_url must be an https:// URL (http:// only to loopback): {url!r}")


def _check_resource(url: str) -> None:
    """An absolute http(s) URL without a fragment (RFC 8707 2, RFC 9728 1.2)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ValueError(f"resource must be an absolute http(s) URL without a fragment: {url!r}")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
