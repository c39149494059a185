"""Public-key authentication against real fleets (ADR-0016): a static RS256 key file (the
HS/RS confusion attack fails), and a JWKS served by a real local HTTP server that counts its
fetches: a rotated key is picked up by its ``kid`` with one extra fetch, random ``kid``
values cause at most one fetch per cooldown (sent one after another, or all at once while
that fetch is in flight), and keys already fetched keep working while the endpoint is down
or answers garbage (the front keeps serving)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.e2e.test_http_bad_input import ACCEPT, ENVELOPE, call, modern_headers
from tests.fixtures.fleet import RunningFleet, start_fleet
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tokens import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    claims,
    hmac_forged,
    jwk,
    jwks_server,
    public_pem,
    rsa_key,
    signed,
    write_public_key,
)
from tests.fixtures.waiting import wait_until, wait_until_async, wait_until_true_async

COOLDOWN_S = 1.0


def _call(http: httpx.Client, token: str) -> httpx.Response:
    headers = {
        "content-type": "application/json",
        "accept": ACCEPT,
        "authorization": f"Bearer {token}",
        **modern_headers("tools/call", "echo"),
    }
    body = json.dumps(call("echo", {"text": "ok"}, meta=ENVELOPE)).encode()
    return http.post("/mcp", content=body, headers=headers)


def _reason(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", ')
    assert 'resource_metadata="http://127.0.0.1:' in challenge
    return str(response.json()["error"]["data"]["reason"])


PROTECTED = {"MCPFLEET_AUTH_ISSUER": ISSUER, "MCPFLEET_AUTH_AUDIENCE": AUDIENCE}
"""Beside a key, what `mcpfleet up` requires of [auth]: an audience and an issuer."""


def _fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]
) -> Iterator[RunningFleet]:
    running = start_fleet(
        redis_server,
        "k" + uuid.uuid4().hex[:10],
        tmp_path_factory.mktemp("fleet"),
        workers=1,
        env={**PROTECTED, **env},
    )
    yield running
    assert running.stop() == 0, "".join(running.lines[-40:])
    assert running.errors() == [], running.errors()


RSA = rsa_key()


@pytest.fixture(scope="module")
def key_file_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFleet]:
    path = write_public_key(RSA, tmp_path_factory.mktemp("keys") / "issuer.pem")
    yield from _fleet(redis_server, tmp_path_factory, {"MCPFLEET_AUTH_PUBLIC_KEY_FILE": path})


def test_a_static_key_verifies_rs256_and_refuses_the_confusion_attack(
    key_file_fleet: RunningFleet,
) -> None:
    with key_file_fleet.http() as http:
        assert _call(http, signed(RSA, "RS256")).status_code == 200
        # HS256 "signed" with the public key's PEM, the classic confusion: refused.
        assert _reason(_call(http, hmac_forged(public_pem(RSA)))) == "algorithm"
        assert _reason(_call(http, signed(rsa_key(), "RS256"))) == "signature"
        assert _reason(_call(http, signed(RSA, "RS256", body=claims(lifetime_s=-120)))) == (
            "expired"
        )


@pytest.fixture(scope="module")
def issuer() -> Iterator[JwksServer]:
    with jwks_server() as server:
        yield server


KEY_ONE = rsa_key()
KEY_TWO = rsa_key()


@pytest.fixture(scope="module")
def jwks_fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, issuer: JwksServer
) -> Iterator[RunningFleet]:
    issuer.serve([jwk(KEY_ONE, "one")])
    yield from _fleet(
        redis_server,
        tmp_path_factory,
        {
            "MCPFLEET_AUTH_JWKS_URL": issuer.url,
            "MCPFLEET_AUTH_ALGORITHMS": "RS256,ES256",
            "MCPFLEET_AUTH__JWKS_REFRESH_COOLDOWN_S": str(COOLDOWN_S),
        },
    )


def test_jwks_rotation_then_random_kids_then_the_endpoint_down(
    jwks_fleet: RunningFleet, issuer: JwksServer
) -> None:
    with jwks_fleet.http() as http:
        # Fetched once at start; tokens of its key pass without another fetch.
        assert issuer.hits == 1
        assert http.get("/ready").json()["checks"]["jwks"] == "ok"
        for _ in range(20):
            assert _call(http, signed(KEY_ONE, "RS256", kid="one")).status_code == 200
        assert issuer.hits == 1

        # The issuer rotates: a token with the new kid passes after one more fetch.
        issuer.serve([jwk(KEY_ONE, "one"), jwk(KEY_TWO, "two")])
        new = signed(KEY_TWO, "RS256", kid="two")
        wait_until(
            lambda: _call(http, new).status_code == 200,
            deadline_s=10 * COOLDOWN_S,
            what="the rotated key to be picked up",
        )
        assert issuer.hits == 2

        # A flood of random kids: at most one fetch per cooldown, whatever the rate.
        started = time.monotonic()
        for _ in range(200):
            token = signed(KEY_TWO, "RS256", kid=secrets.token_hex(8))
            assert _reason(_call(http, token)) == "unknown_key"
        elapsed = time.monotonic() - started
        extra = issuer.hits - 2
        assert extra <= elapsed / COOLDOWN_S + 1, (extra, elapsed)

        # The issuer's endpoint fails: the keys fetched keep verifying.
        issuer.fail = True
        hits = issuer.hits
        wait_until(
            lambda: (
                _reason(_call(http, signed(KEY_TWO, "RS256", kid="gone"))) == "unknown_key"
                and issuer.hits > hits
            ),
            deadline_s=10 * COOLDOWN_S,
            what="a failed fetch",
        )
        assert _call(http, new).status_code == 200
        assert _call(http, signed(KEY_ONE, "RS256", kid="one")).status_code == 200
        # Degraded, not unready: the keys it has keep serving.
        ready = http.get("/ready")
        assert ready.json()["checks"]["jwks"] == "degraded"
        assert ready.status_code == 200, ready.text
        issuer.fail = False

        # Answers that are not even HTTP errors (a chunked body cut short, a garbage status
        # line, a body that is not JSON): the same 401, the front keeps serving.
        for misbehave in ("truncated", "bad_status", "garbage"):
            issuer.misbehave = misbehave
            hits = issuer.hits
            wait_until(
                lambda hits=hits: (
                    _reason(_call(http, signed(KEY_TWO, "RS256", kid="gone"))) == "unknown_key"
                    and issuer.hits > hits
                ),
                deadline_s=10 * COOLDOWN_S,
                what=f"a fetch answered {misbehave}",
            )
            assert _call(http, new).status_code == 200
        issuer.misbehave = None
        assert http.get("/ready").status_code == 200
    jwks_fleet.wait_for("jwks.fetch_failed")
    assert jwks_fleet.find("auth.failed", reason="unknown_key")


def test_the_key_file_must_exist_at_start(redis_server: RedisServer, tmp_path: Path) -> None:
    import subprocess

    from tests.fixtures.fleet import MCPFLEET, ROOT, clean_env

    done = subprocess.run(
        [*MCPFLEET, "up", "--app", "examples.demo:app", "--redis", redis_server.url,
         "--http", "127.0.0.1:0", "--data-dir", str(tmp_path / "data")],
        env={
            **clean_env(),
            **PROTECTED,
            "MCPFLEET_AUTH_PUBLIC_KEY_FILE": str(tmp_path / "missing.pem"),
        },
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "[auth] cannot read public_key_file" in done.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MCPFLEET_AUTH_JWT_SECRET": "short"}, "jwt_secret is 5 bytes"),
        ({"MCPFLEET_AUTH_ALGORITHMS": "none"}, "'none' is never accepted"),
        (
            {"MCPFLEET_AUTH_JWKS_URL": "https://i/jwks", "MCPFLEET_AUTH_ALGORITHMS": "HS256"},
            "need jwt_secret",
        ),
        ({"MCPFLEET_AUTH_ISSUER": ISSUER}, "without a key"),
        (
            {
                **PROTECTED,
                "MCPFLEET_AUTH_JWT_SECRET": "x" * 64,
                "MCPFLEET_AUTH__TOOL_SCOPES": '{"echo": ["a"], "no_such_tool": ["b"]}',
            },
            "tool_scopes names tools the app does not register: no_such_tool",
        ),
        (
            {"MCPFLEET_AUTH_JWT_SECRET": "x" * 64, "MCPFLEET_AUTH_ISSUER": ISSUER},
            "[auth] no audience to check tokens against: set audience",
        ),
        (
            {"MCPFLEET_AUTH_JWT_SECRET": "x" * 64, "MCPFLEET_AUTH_AUDIENCE": AUDIENCE},
            "[auth] no authorization server for the protected-resource metadata",
        ),
    ],
)
def test_inconsistent_auth_settings_are_refused_at_start(
    redis_server: RedisServer, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    import subprocess

    from tests.fixtures.fleet import MCPFLEET, ROOT, clean_env

    done = subprocess.run(
        [*MCPFLEET, "up", "--app", "examples.demo:app", "--redis", redis_server.url,
         "--http", "127.0.0.1:0", "--data-dir", str(tmp_path / "data")],
        env={**clean_env(), **env},
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert message in done.stderr
    assert "short" not in done.stderr.replace("jwt_secret is 5 bytes", "")


FLOOD = 30


async def test_a_concurrent_flood_of_random_kids_costs_one_fetch(
    jwks_fleet: RunningFleet, issuer: JwksServer
) -> None:
    tokens = [signed(KEY_ONE, "RS256", kid=secrets.token_hex(8)) for _ in range(FLOOD)]
    async with httpx.AsyncClient(base_url=jwks_fleet.base_url, timeout=30) as http:

        async def healthy() -> bool:
            return (await http.get("/ready")).json()["checks"]["jwks"] == "ok"

        # A healthy set is refreshed hourly only (an unhealthy one every cooldown), and the
        # cooldown since the last fetch has passed: the flood may cause one fetch.
        await wait_until_true_async(healthy, deadline_s=10 * COOLDOWN_S, what="a healthy set")
        await wait_until_async(
            lambda: time.monotonic() - issuer.last_hit_at >= COOLDOWN_S,
            deadline_s=10 * COOLDOWN_S,
            what="the cooldown since the last fetch",
        )
        hits = issuer.hits
        answers: list[httpx.Response] = []

        async def one(token: str) -> None:
            answers.append(await _call_async(http, token))

        # The flood's fetch is held in flight while the requests arrive: they wait for it
        # rather than fetch again.
        issuer.hold()
        started = time.monotonic()
        try:
            async with trio.open_nursery() as nursery:
                for token in tokens:
                    nursery.start_soon(one, token)
                await wait_until_async(
                    lambda: issuer.hits > hits, deadline_s=10, what="the flood's fetch"
                )
                issuer.release()
        finally:
            issuer.release()
        elapsed = time.monotonic() - started
    assert [_reason(answer) for answer in answers] == ["unknown_key"] * FLOOD
    # One front: one fetch (another only if the flood outlasted a cooldown on a slow host).
    extra = issuer.hits - hits
    assert 1 <= extra <= 1 + int(elapsed / COOLDOWN_S), (extra, elapsed)


async def _call_async(http: httpx.AsyncClient, token: str) -> httpx.Response:
    headers = {
        "content-type": "application/json",
        "accept": ACCEPT,
        "authorization": f"Bearer {token}",
        **modern_headers("tools/call", "echo"),
    }
    body = json.dumps(call("echo", {"text": "ok"}, meta=ENVELOPE)).encode()
    return await http.post("/mcp", content=body, headers=headers)
