"""``JwksCache``: refreshed on an unknown ``kid`` at most once per cooldown, one fetch shared
by the requests that wait for it, kept when a fetch fails, refreshed in the background
every ``cache_s``. Time is trio's autojump clock; the key set is served from memory."""

from __future__ import annotations

import json
from typing import Any

import trio
import trio.testing

from server.jwks_cache import JwksCache, JwksUnavailableError, parse_jwks
from tests.fixtures.tokens import ec_key, jwk, rsa_key


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
    cache = _cache(keys)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        assert keys.fetches == 1
        await keys.reached(4)
        keys.fail = True
        await keys.reached(7)
        assert not cache.healthy
        nursery.cancel_scope.cancel()
    gaps = [round(b - a) for a, b in zip(keys.times, keys.times[1:], strict=False)]
    # Every cache period while fetches succeed; every cooldown once they fail.
    assert gaps == [3600, 3600, 3600, 3600, 30, 30]


async def test_a_failed_fetch_a_request_caused_is_retried_after_the_cooldown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The background refresh was asleep until the next cache period when a request's fetch
    # failed: it wakes to retry every cooldown, as after a failure of its own.
    keys = KeySet(jwk(rsa_key(), "k1"))
    cache = _cache(keys)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        autojump_clock.jump(100)
        keys.fail = True
        assert await cache.key_for("k2", "RS256") is None
        assert not cache.healthy
        keys.fail = False
        await keys.reached(3)
        assert cache.healthy
        # Healthy again: back to one refresh per cache period, counted from that fetch.
        await keys.reached(4)
        nursery.cancel_scope.cancel()
    assert [round(t - keys.times[0]) for t in keys.times] == [0, 100, 130, 3730]


async def test_a_first_fetch_that_fails_does_not_stop_the_front(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keys = KeySet(jwk(rsa_key(), "k1"))
    keys.fail = True
    cache = _cache(keys)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        assert not cache.healthy
        keys.fail = False
        await keys.reached(2)
        assert cache.healthy
        assert await cache.key_for("k1", "RS256") is not None
        nursery.cancel_scope.cancel()
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
