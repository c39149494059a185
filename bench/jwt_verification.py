"""What bearer-token verification costs the front per request (ADR-0016): the full check of
``server/jwt_auth.TokenVerifier`` for HS256, RS256 (2048-bit) and ES256 tokens, and the
same token again, answered from the verified-token memory.

Run: ``.venv/bin/python -m bench.jwt_verification`` (pure CPU, single thread; reports the
median of five rounds, in µs per verification).
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.auth_config import AuthConfig
from server.jwt_auth import TokenVerifier, load_public_key

ISSUER = "https://issuer.example.com"
AUDIENCE = "https://mcp.example.com/mcp"
ROUNDS = 5


def _claims() -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 900,
        "scope": "files:read files:write",
    }


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, directory: Path) -> str:
    path = directory / f"{secrets.token_hex(4)}.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(path)


def _per_call_us(run: Callable[[], object], calls: int) -> float:
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        rounds.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(rounds)


def _verifiers(directory: Path) -> dict[str, tuple[TokenVerifier, TokenVerifier, str]]:
    """Per algorithm: a verifier that remembers nothing, one that does, and a token."""
    secret = secrets.token_urlsafe(48)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    made = {}
    for name, config, key, signing in (
        ("HS256", AuthConfig(jwt_secret=secret), None, secret),
        ("RS256", AuthConfig(public_key_file=_pem(rsa_key, directory)), rsa_key, rsa_key),
        (
            "ES256",
            AuthConfig(public_key_file=_pem(ec_key, directory), algorithms=("ES256",)),
            ec_key,
            ec_key,
        ),
    ):
        public = None if key is None else load_public_key(config.public_key_file or "")
        common = {"issuer": ISSUER, "audience": AUDIENCE}
        cold = TokenVerifier(
            AuthConfig(**{**_fields(config), **common, "token_cache_size": 0}), public_key=public
        )
        warm = TokenVerifier(AuthConfig(**{**_fields(config), **common}), public_key=public)
        token = jwt.encode(_claims(), signing, algorithm=name)  # type: ignore[arg-type]
        made[name] = (cold, warm, token)
    return made


def _fields(config: AuthConfig) -> dict[str, object]:
    return {
        "jwt_secret": config.jwt_secret,
        "public_key_file": config.public_key_file,
        "algorithms": config.algorithms,
    }


def main() -> None:
    with TemporaryDirectory() as tmp:
        verifiers = _verifiers(Path(tmp))

        for name, (cold, warm, token) in verifiers.items():
            full = _per_call_us(partial(_verify, cold, token), 2000)
            _verify(warm, token)
            hit = _per_call_us(partial(_verify, warm, token), 20000)
            print(f"{name}: full check {full:7.1f} µs   remembered {hit:5.1f} µs")


def _verify(verifier: TokenVerifier, token: str) -> object:
    """Run a verification that never awaits anything (no JWKS) without an event loop, so
    the loop's own cost is not measured."""
    coroutine = verifier.verify(token)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the verification awaited something")


if __name__ == "__main__":
    main()
