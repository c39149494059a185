"""Bearer JWT verification (ADR-0016): a token in, a :class:`~proto.Principal` out, or an
:class:`~proto.UnauthorizedError` naming why not.

Rules, each checked on every token not remembered as verified:

- the header's ``alg`` must be in the allow-list (``none`` never is, ``AuthConfig``), and the
  key that verifies it must be of that algorithm's family: the shared secret for HS*, an RSA
  key for RS*/PS*, an EC key of the right curve for ES*, an Ed25519/Ed448 key for EdDSA. An
  HS256 token "signed" with the RSA public key's PEM meets no secret and fails
  (algorithm confusion); so does an RS256 token when only a secret is configured;
- ``exp`` and ``sub`` are required; ``nbf`` and ``iat`` are honoured with ``leeway_s``;
  ``iss`` and ``aud`` are checked when configured; with ``max_token_lifetime_s``, ``iat`` is
  required and ``exp - iat`` bounded;
- the principal is ``Principal.bearer(sub, iss, scopes)``, its scopes from ``scope``
  (space-separated) and ``scp`` (a list or a string).

Verified tokens are remembered by their SHA-256 (a bounded LRU, each entry until the token's
``exp`` at most, without leeway), because a full check costs ~100-200 µs of the front's
per-request budget and a client sends the same token many times (ADR-0016 has the numbers).
The memory is cleared when the JWKS changes, so a key the issuer withdrew stops working at
once.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from proto import AuthFailure, FleetError, Principal, UnauthorizedError
from server.auth_config import HMAC_ALGORITHMS, AuthConfig
from server.jwks_cache import JwksCache

__all__ = ["KeyFileError", "TokenVerifier", "load_public_key", "token_scopes"]

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey

_EXCEPTIONS: Final[tuple[tuple[type[jwt.PyJWTError], AuthFailure, str], ...]] = (
    # Most specific first: several derive from DecodeError or InvalidTokenError.
    (jwt.ExpiredSignatureError, AuthFailure.EXPIRED, "the token has expired"),
    (jwt.ImmatureSignatureError, AuthFailure.NOT_YET_VALID, "the token is not valid yet"),
    (
        jwt.InvalidAudienceError,
        AuthFailure.AUDIENCE,
        "the token was not issued for this server (aud)",
    ),
    (jwt.InvalidIssuerError, AuthFailure.ISSUER, "the token's issuer is not accepted (iss)"),
    (jwt.MissingRequiredClaimError, AuthFailure.CLAIMS, "the token lacks a required claim"),
    (jwt.InvalidSignatureError, AuthFailure.SIGNATURE, "the token's signature does not verify"),
    (jwt.InvalidAlgorithmError, AuthFailure.ALGORITHM, "the token's algorithm is not accepted"),
    (jwt.InvalidKeyError, AuthFailure.KEY, "no acceptable key verifies the token"),
    (jwt.DecodeError, AuthFailure.MALFORMED, "the token is malformed"),
    (jwt.InvalidTokenError, AuthFailure.CLAIMS, "the token's claims are invalid"),
)


class KeyFileError(FleetError):
    """``public_key_file`` cannot be read or holds no usable public key."""


def load_public_key(path: str) -> PublicKey:
    """The public key in a PEM file (a ``PUBLIC KEY`` or an X.509 certificate).

    Raises:
        KeyFileError: unreadable, not PEM, a private key, or a key type JWTs do not use.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read public_key_file {path}: {exc.strerror}") from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError:
        raise KeyFileError(
            f"public_key_file {path} holds no PEM public key or certificate"
        ) from None
    if not isinstance(
        key, RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey
    ):
        raise KeyFileError(f"public_key_file {path}: {type(key).__name__} is not a JWT key")
    return key


def token_scopes(claims: Mapping[str, object]) -> tuple[str, ...]:
    """The scopes a token grants: ``scope`` (space-separated, RFC 8693 / RFC 9068) and
    ``scp`` (a list or a string, as some issuers send), in order, each once."""
    found: list[str] = []
    for claim in (claims.get("scope"), claims.get("scp")):
        if isinstance(claim, str):
            found.extend(claim.split())
        elif isinstance(claim, list):
            found.extend(s for s in claim if isinstance(s, str) and s)
    return tuple(dict.fromkeys(found))


def _family_matches(algorithm: str, key: object) -> bool:
    """Whether ``key`` belongs to ``algorithm``'s family (the confusion defence)."""
    if algorithm in HMAC_ALGORITHMS:
        return isinstance(key, bytes)
    if algorithm.startswith(("RS", "PS")):
        return isinstance(key, RSAPublicKey)
    if algorithm.startswith("ES"):
        return isinstance(key, EllipticCurvePublicKey)
    return algorithm == "EdDSA" and isinstance(key, Ed25519PublicKey | Ed448PublicKey)


class _Remembered:
    __slots__ = ("expires_at", "principal")

    def __init__(self, principal: Principal, expires_at: float) -> None:
        self.principal = principal
        self.expires_at = expires_at


class TokenVerifier:
    """Verifies the bearer tokens of one front.

    Args:
        config: the ``[auth]`` settings (enabled).
        public_key: the key of ``public_key_file`` (:func:`load_public_key`), if set.
        jwks: the issuer's key set, if ``jwks_url`` is set.
        clock: wall-clock seconds (``exp`` is wall-clock time).
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        public_key: PublicKey | None = None,
        jwks: JwksCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._algorithms = frozenset(config.allowed_algorithms)
        self._secret = config.jwt_secret.encode() if config.jwt_secret else None
        self._public_key = public_key
        self._jwks = jwks
        self._issuer = config.issuer
        self._audience = config.expected_audience
        self._leeway_s = config.leeway_s
        self._max_lifetime_s = config.max_token_lifetime_s
        required = ["exp", "sub"]
        if config.max_token_lifetime_s is not None:
            required.append("iat")
        self._options: jwt.types.Options = {
            "require": required,
            "verify_aud": self._audience is not None,
            "enforce_minimum_key_length": True,
        }
        self._clock = clock
        self._cache_size = config.token_cache_size
        self._verified: OrderedDict[bytes, _Remembered] = OrderedDict()

    @property
    def remembered(self) -> int:
        """How many verified tokens are remembered now."""
        return len(self._verified)

    def forget_verified(self) -> None:
        """Forget every token remembered as verified (the key set changed)."""
        self._verified.clear()

    async def verify(self, token: str) -> Principal:
        """The principal ``token`` vouches for.

        Raises:
            UnauthorizedError: it does not (the reason is one of a few fixed words).
        """
        digest = hashlib.sha256(token.encode()).digest()
        remembered = self._verified.get(digest)
        if remembered is not None:
            if remembered.expires_at > self._clock():
                self._verified.move_to_end(digest)
                return remembered.principal
            del self._verified[digest]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise UnauthorizedError(AuthFailure.MALFORMED, "the token is malformed") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise UnauthorizedError(
                AuthFailure.ALGORITHM, f"algorithm {str(algorithm)[:20]!r} is not accepted"
            )
        kid = header.get("kid")
        key = await self._key_for(algorithm, kid if isinstance(kid, str) else None)
        claims = self._decode(token, key, algorithm)
        principal, expires_at = self._principal(claims)
        self._remember(digest, principal, expires_at)
        return principal

    async def _key_for(self, algorithm: str, kid: str | None) -> object:
        if algorithm in HMAC_ALGORITHMS:
            key: object = self._secret
        elif self._jwks is not None:
            found = await self._jwks.key_for(kid, algorithm)
            if found is None:
                raise UnauthorizedError(
                    AuthFailure.UNKNOWN_KEY, "no key of the issuer has this kid"
                )
            if found.algorithm is not None and found.algorithm != algorithm:
                raise UnauthorizedError(
                    AuthFailure.ALGORITHM, "the key of this kid is not for the token's algorithm"
                )
            key = found.key
        else:
            key = self._public_key
        if key is None or not _family_matches(algorithm, key):
            raise UnauthorizedError(AuthFailure.KEY, "no acceptable key verifies the token")
        return key

    def _decode(self, token: str, key: object, algorithm: str) -> dict[str, object]:
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                key,  # type: ignore[arg-type]  # checked by _family_matches
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options=self._options,
            )
        except jwt.PyJWTError as exc:
            for kind, reason, message in _EXCEPTIONS:
                if isinstance(exc, kind):
                    raise UnauthorizedError(reason, message) from None
            raise UnauthorizedError(AuthFailure.CLAIMS, "the token's claims are invalid") from None
        return claims

    def _principal(self, claims: Mapping[str, object]) -> tuple[Principal, float]:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise UnauthorizedError(AuthFailure.CLAIMS, "the token has no subject (sub)")
        expires_at = claims.get("exp")
        if not isinstance(expires_at, int | float):
            raise UnauthorizedError(AuthFailure.CLAIMS, "the token's exp is not a number")
        if self._max_lifetime_s is not None:
            issued_at = claims.get("iat")
            if not isinstance(issued_at, int | float):
                raise UnauthorizedError(AuthFailure.CLAIMS, "the token's iat is not a number")
            if expires_at - issued_at > self._max_lifetime_s:
                raise UnauthorizedError(
                    AuthFailure.LIFETIME,
                    f"the token lives longer than the {self._max_lifetime_s:g} s accepted",
                )
        issuer = claims.get("iss")
        principal = Principal.bearer(
            subject, issuer if isinstance(issuer, str) else "", token_scopes(claims)
        )
        return principal, float(expires_at)

    def _remember(self, digest: bytes, principal: Principal, expires_at: float) -> None:
        if self._cache_size == 0:
            return
        self._verified[digest] = _Remembered(principal, expires_at)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
