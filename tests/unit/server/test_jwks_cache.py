"""``JwksCache``: refreshed on an unknown ``kid`` at most once per cooldown, one fetch shared
by the requests that wait for it, kept when a fetch fails, refreshed in the background
every ``cache_s`` (every cooldown after a failure, whoever fetched). Time is trio's autojump
clock and the key set is served from memory; then the real fetch (``fetch_jwks`` in a
thread) against a real local endpoint that misbehaves: every bad answer is "unavailable",
within the deadline, and a redirect off https is refused."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from server.jwks_cache import JwksCache, JwksUnavailableError, parse_jwks
from server.jwks_fetch import fetch_jwks
from tests.fixtures.tokens import JwksServer, ec_key, jwk, jwks_server, rsa_key
from tests.fixtures.waiting import wait_until_async


class KeySet:
    """The issuer's key set as the cache's fetch reads it; counts fetches; can fail."""

    def __init__(self, *entries: dict[str, Any]) -> None:
        self.entries = list(entries)
        self.fetches = 0
        self.times: list[float] = []
        self.fail = False
        self.gate: trio.Event | None = None
        self._reached: dict[int, trio.Event] = {}

    async def reached(self, fetches: int) -> None:
        """Wait until ``fetches`` fetches have been answered."""
        if self.fetches < fetches:
            await self._reached.setdefault(fetches, trio.Event()).wait()
        await trio.testing.wait_all_tasks_blocked()

    async def fetch(self) -> bytes:
        self.fetches += 1
        self.times.append(trio.current_time())
        if self.gate is not None:
            await self.gate.wait()
        reached = self._reached.pop(self.fetches, None)
        if reached is not None:
            reached.set()
        if self.fail:
            raise JwksUnavailableError("down")
        return json.dumps({"keys": self.entries}).encode()


@asynccontextmanager
async def _running(keys: KeySet) -> AsyncIterator[JwksCache]:
    """A cache of ``keys`` with its refresh loop running (its first fetch done); the loop
    is stopped when the block ends."""
    cache = _cache(keys)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        yield cache
        nursery.cancel_scope.cancel()


def _cache(keys: KeySet, *, on_change: Any = lambda: None) -> JwksCache:
    return JwksCache(
        "https://issuer.test/jwks",
        cache_s=3600,
        cooldown_s=30,
        timeout_s=1,
        fetch=keys.fetch,
        on_change=on_change,
    )


async def test_random_kids_fetch_at_most_once_per_cooldown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))
    cache = _cache(keys)
    await cache.refresh()
    assert keys.fetches == 1
    autojump_clock.jump(31)
    for n in range(100):
        assert await cache.key_for(f"random-{n}", "RS256") is None
    assert keys.fetches == 2  # the first unknown kid fetched; the other 99 did not
    autojump_clock.jump(29)
    assert await cache.key_for("random-x", "RS256") is None
    assert keys.fetches == 2
    autojump_clock.jump(2)
    assert await cache.key_for("random-y", "RS256") is None
    assert keys.fetches == 3


async def test_a_rotated_key_is_picked_up_by_its_kid(
    autojump_clock: trio.testing.MockClock,
) -> None:
    old, new = rsa_key(), rsa_key()
    keys = KeySet(jwk(old, "old"))
    changes: list[int] = []
    cache = _cache(keys, on_change=lambda: changes.append(1))
    await cache.refresh()
    keys.entries = [jwk(old, "old"), jwk(new, "new")]
    autojump_clock.jump(31)
    found = await cache.key_for("new", "RS256")
    assert found is not None and found.kid == "new"
    assert keys.fetches == 2
    assert changes == [1]  # the verified tokens are forgotten
    assert await cache.key_for("old", "RS256") is not None
    assert keys.fetches == 2


async def test_requests_missing_the_same_kid_share_one_fetch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    key = rsa_key()
    keys = KeySet()
    cache = _cache(keys)
    await cache.refresh()
    autojump_clock.jump(31)
    keys.entries = [jwk(key, "k1")]
    keys.gate = trio.Event()
    found: list[object] = []

    async def ask() -> None:
        found.append(await cache.key_for("k1", "RS256"))

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(ask)
        await trio.testing.wait_all_tasks_blocked()
        keys.gate.set()
    assert keys.fetches == 2
    assert len(found) == 20 and all(k is not None for k in found)


async def test_a_failed_fetch_keeps_the_keys(autojump_clock: trio.testing.MockClock) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))
    cache = _cache(keys)
    await cache.refresh()
    assert cache.healthy
    keys.fail = True
    autojump_clock.jump(31)
    assert await cache.key_for("k2", "RS256") is None
    assert not cache.healthy
    assert await cache.key_for("k1", "RS256") is not None


async def test_the_set_is_refreshed_every_cache_period_in_the_background(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))
    async with _running(keys) as cache:
        assert keys.fetches == 1
        await keys.reached(4)
        keys.fail = True
        await keys.reached(7)
        assert not cache.healthy
    gaps = [round(b - a) for a, b in zip(keys.times, keys.times[1:], strict=False)]
    # Every cache period while fetches succeed; every cooldown once they fail.
    assert gaps == [3600, 3600, 3600, 3600, 30, 30]


async def test_a_first_fetch_that_fails_does_not_stop_the_front(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))
    keys.fail = True
    async with _running(keys) as cache:
        assert not cache.healthy
        keys.fail = False
        await keys.reached(2)
        assert cache.healthy
        assert await cache.key_for("k1", "RS256") is not None
    assert [round(t - keys.times[0]) for t in keys.times] == [0, 30]


def test_without_a_kid_only_an_unambiguous_key_counts() -> None:
    keys = parse_jwks(
        json.dumps({"keys": [jwk(rsa_key(), "a"), jwk(ec_key(), "b", "ES256")]}).encode()
    )
    assert [(k.kid, k.algorithm) for k in keys] == [("a", None), ("b", "ES256")]


def test_encryption_and_symmetric_keys_and_junk_are_skipped() -> None:
    rsa_enc = {**jwk(rsa_key(), "enc"), "use": "enc"}
    document = {"keys": [rsa_enc, {"kty": "oct", "k": "AAAA"}, {"kty": "RSA", "n": "x"}, 7]}
    assert parse_jwks(json.dumps(document).encode()) == []


async def test_a_failed_request_fetch_is_retried_by_the_loop_after_the_cooldown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))
    async with _running(keys) as cache:
        autojump_clock.jump(100)
        keys.fail = True
        assert await cache.key_for("k2", "RS256") is None  # fetch 2 fails
        assert not cache.healthy
        keys.fail = False
        await keys.reached(3)
        assert cache.healthy
        await keys.reached(4)
    # Retried a cooldown after the failure (not at 3600), then every cache period again.
    assert [round(t - keys.times[0]) for t in keys.times] == [0, 100, 130, 3730]


async def test_a_request_fetch_that_succeeds_moves_the_schedule(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))
    async with _running(keys) as cache:
        autojump_clock.jump(100)
        keys.entries.append(jwk(rsa_key(), "k2"))
        assert await cache.key_for("k2", "RS256") is not None
        await keys.reached(3)
    assert [round(t - keys.times[0]) for t in keys.times] == [0, 100, 3700]


async def test_no_request_waits_longer_than_the_timeout_for_a_fetch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))
    cache = _cache(keys)  # timeout_s=1
    await cache.refresh()
    autojump_clock.jump(31)
    keys.gate = trio.Event()  # the endpoint never answers
    waited: list[float] = []

    async def ask(after_s: float) -> None:
        await trio.sleep_until(trio.current_time() + after_s)
        started = trio.current_time()
        assert await cache.key_for("k2", "RS256") is None
        waited.append(trio.current_time() - started)

    with capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            for after_s in (0, 0, 0.5):
                nursery.start_soon(ask, after_s)
    assert keys.fetches == 2  # one fetch, shared
    assert sorted(round(w, 3) for w in waited) == [0.5, 1.0, 1.0]
    assert not cache.healthy
    assert await cache.key_for("k1", "RS256") is not None
    failed = [e for e in logs if e["event"] == "jwks.fetch_failed"]
    assert [e["error"] for e in failed] == ["the JWKS fetch did not complete within 1s"]


async def test_an_unforeseen_fetch_error_is_a_failed_fetch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))

    async def fetch() -> bytes:
        if keys.fetches:
            raise LookupError("a bug in a parser")
        return await keys.fetch()

    cache = JwksCache(
        "https://issuer.test/jwks", cache_s=3600, cooldown_s=30, timeout_s=1, fetch=fetch
    )
    await cache.refresh()
    autojump_clock.jump(31)
    with capture_logs() as logs:
        assert await cache.key_for("k2", "RS256") is None
    assert not cache.healthy
    assert await cache.key_for("k1", "RS256") is not None
    assert [e["error"] for e in logs if e["event"] == "jwks.fetch_failed"] == [
        "LookupError: a bug in a parser"
    ]


# The real fetch, against a real local endpoint.

KEY = rsa_key()


@pytest.fixture
def issuer() -> Iterator[JwksServer]:
    with jwks_server([jwk(KEY, "k1")]) as server:
        yield server


def _real_cache(issuer: JwksServer, *, timeout_s: float = 5, period_s: float = 30) -> JwksCache:
    return JwksCache(issuer.url, cache_s=period_s, cooldown_s=period_s, timeout_s=timeout_s)


@pytest.mark.parametrize(
    ("misbehave", "reason"),
    [
        ("garbage", "the JWKS is not JSON"),
        ("deep", "the JWKS is not JSON"),
        ("truncated", "cannot fetch the JWKS: IncompleteRead"),
        ("bad_status", "cannot fetch the JWKS: BadStatusLine"),
        ("oversized", "the JWKS is larger than 1 MiB"),
    ],
)
async def test_a_bad_answer_is_a_failed_fetch_that_keeps_the_keys(
    issuer: JwksServer, misbehave: str, reason: str
) -> None:
    cache = _real_cache(issuer)
    await cache.refresh()
    assert cache.healthy
    issuer.misbehave = misbehave
    with capture_logs() as logs:
        await cache.refresh()
    assert not cache.healthy
    assert await cache.key_for("k1", "RS256") is not None
    [failed] = [e for e in logs if e["event"] == "jwks.fetch_failed"]
    assert failed["error"].startswith(reason), failed


async def test_the_loop_survives_bad_answers_and_recovers(issuer: JwksServer) -> None:
    cache = _real_cache(issuer, period_s=0.05)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        assert cache.healthy
        issuer.misbehave = "truncated"
        hits = issuer.hits
        await wait_until_async(
            lambda: issuer.hits >= hits + 3, deadline_s=10, what="three failed fetches"
        )
        assert not cache.healthy
        assert await cache.key_for("k1", "RS256") is not None
        issuer.misbehave = None
        await wait_until_async(lambda: cache.healthy, deadline_s=10, what="a good fetch")
        nursery.cancel_scope.cancel()


def test_a_trickling_endpoint_is_given_up_at_the_deadline(issuer: JwksServer) -> None:
    issuer.misbehave = "trickle"  # a byte every 0.2 s: no single read ever times out
    started = time.monotonic()
    with pytest.raises(JwksUnavailableError, match=r"did not complete within 1s"):
        fetch_jwks(issuer.url, 1.0)
    assert 0.9 < time.monotonic() - started < 3


async def test_a_request_waits_no_longer_than_the_deadline_nor_blocks_a_cancel(
    issuer: JwksServer,
) -> None:
    cache = _real_cache(issuer, timeout_s=1, period_s=0)
    await cache.refresh()
    issuer.misbehave = "trickle"
    started = trio.current_time()
    assert await cache.key_for("k2", "RS256") is None
    assert trio.current_time() - started < 2
    started = trio.current_time()
    with trio.move_on_after(0.1):  # a drain: the thread is abandoned, not waited for
        await cache.key_for("k3", "RS256")
    assert trio.current_time() - started < 0.5
    assert await cache.key_for("k1", "RS256") is not None


def test_a_redirect_off_https_is_refused(issuer: JwksServer) -> None:
    issuer.redirect_to = "http://issuer.example/jwks.json"
    with pytest.raises(JwksUnavailableError, match="refused the JWKS endpoint's redirect"):
        fetch_jwks(issuer.url, 5)
    assert issuer.hits == 1  # the plain-http URL was never asked


def test_a_redirect_to_loopback_is_followed(issuer: JwksServer) -> None:
    issuer.redirect_to = f"{issuer.base_url}/moved.json"
    assert [k.kid for k in parse_jwks(fetch_jwks(issuer.url, 5))] == ["k1"]
    assert issuer.hits == 2
