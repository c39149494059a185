"""The issuer's JSON Web Key Set, fetched off the trio thread and kept (ADR-0016).

- **Fetched in a thread** (``urllib`` under a ``CapacityLimiter`` of one: a fetch is
  blocking I/O), at start and then every ``jwks_cache_s`` in the background, so requests
  never wait for a scheduled refresh. The few keys of a set are parsed on the trio thread
  (well under a millisecond, once an hour).
- **A failed fetch keeps the keys it has** (tokens keep being verified while the issuer is
  unreachable; ``healthy`` says it failed) and is retried after the cooldown.
- **An unknown ``kid``** (the issuer rotated its keys) fetches the set again, but at most
  once per ``jwks_refresh_cooldown_s``: tokens with random ``kid`` values cannot make the
  front hammer the issuer. Requests that miss while a fetch runs wait for that fetch, so a
  burst of tokens signed with a new key costs one fetch.
- Only signature keys of the asymmetric families are kept (``use`` absent or ``sig``;
  ``kty`` RSA, EC or OKP): a symmetric (``oct``) key published in a key set is ignored, so
  no HS* token can ever be verified against it.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Final

import structlog
import trio
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from proto import FleetError

__all__ = ["JwksCache", "JwksKey", "JwksUnavailableError", "fetch_jwks", "parse_jwks"]

log = structlog.get_logger()

_MAX_JWKS_BYTES: Final = 1024 * 1024
_KEY_TYPES: Final = frozenset({"RSA", "EC", "OKP"})

Fetch = Callable[[], Awaitable[bytes]]
"""Reads the key set's bytes (:func:`fetch_jwks` in a thread by default)."""


class JwksUnavailableError(FleetError):
    """The key set could not be fetched or read."""


class JwksKey:
    """One verification key of the set.

    Attributes:
        kid: its ``kid`` (None when the set gives none).
        algorithm: the ``alg`` the set pins it to (None: any of its family).
        key: the public key object (``cryptography``).
    """

    __slots__ = ("algorithm", "key", "kid")

    def __init__(self, kid: str | None, algorithm: str | None, key: object) -> None:
        self.kid = kid
        self.algorithm = algorithm
        self.key = key


def fetch_jwks(url: str, timeout_s: float) -> bytes:
    """GET the key set (blocking; at most 1 MiB).

    Raises:
        JwksUnavailableError: unreachable, an HTTP error, or too large.
    """
    request = urllib.request.Request(
        url, headers={"Accept": "application/json"}
    )  # https or loopback, checked in AuthConfig
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data: bytes = response.read(_MAX_JWKS_BYTES + 1)
    except OSError as exc:  # URLError, HTTPError, timeouts are all OSErrors
        raise JwksUnavailableError(f"cannot fetch the JWKS: {exc}") from None
    if len(data) > _MAX_JWKS_BYTES:
        raise JwksUnavailableError("the JWKS is larger than 1 MiB")
    return data


def parse_jwks(data: bytes) -> list[JwksKey]:
    """The signature keys of a key set document (others are skipped, and logged).

    Raises:
        JwksUnavailableError: not a JSON object with a ``keys`` array.
    """
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise JwksUnavailableError("the JWKS is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JwksUnavailableError('the JWKS has no "keys" array')
    keys: list[JwksKey] = []
    for entry in entries:
        key = _signature_key(entry)
        if key is not None:
            keys.append(key)
    return keys


def _signature_key(entry: object) -> JwksKey | None:
    if not isinstance(entry, dict):
        return None
    kid = entry.get("kid")
    kid = kid if isinstance(kid, str) else None
    if entry.get("kty") not in _KEY_TYPES or entry.get("use", "sig") != "sig":
        log.info("jwks.key_skipped", kid=kid, kty=str(entry.get("kty")), use=entry.get("use"))
        return None
    algorithm = entry.get("alg")
    try:
        jwk = PyJWK(entry)
    except (PyJWTError, ValueError, TypeError, KeyError) as exc:
        log.warning("jwks.key_unreadable", kid=kid, error=str(exc))
        return None
    return JwksKey(kid, algorithm if isinstance(algorithm, str) else None, jwk.key)


class JwksCache:
    """The key set of one issuer, as one front uses it.

    Args:
        url: where the set is.
        cache_s: how long a fetched set is used before the background refresh.
        cooldown_s: least time between two fetches a request may cause.
        timeout_s: deadline of one fetch.
        fetch: reads the set (default: :func:`fetch_jwks` of ``url`` in a thread).
        on_change: called after a fetch brought a different set of keys (the verified
            tokens remembered are then forgotten).
        clock: monotonic seconds (``trio.current_time`` by default; tests pass their own).

    Attributes:
        fetches: fetches attempted so far.
        healthy: whether the latest fetch succeeded (False until one did).
    """

    def __init__(
        self,
        url: str,
        *,
        cache_s: float,
        cooldown_s: float,
        timeout_s: float,
        fetch: Fetch | None = None,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._url = url
        self._cache_s = cache_s
        self._cooldown_s = cooldown_s
        self._timeout_s = timeout_s
        self._limiter = trio.CapacityLimiter(1)
        self._fetch = fetch or partial(
            trio.to_thread.run_sync, fetch_jwks, url, timeout_s, limiter=self._limiter
        )
        self._on_change = on_change
        self._clock = clock or trio.current_time
        self._keys: Sequence[JwksKey] = ()
        self._digest = b""
        self._by_kid: Mapping[str, JwksKey] = {}
        self._last_attempt: float | None = None
        self._fetched_at: float | None = None
        self._inflight: trio.Event | None = None
        self._asleep: trio.CancelScope | None = None
        """The background refresh's wait for its next fetch (None before :meth:`run`)."""
        self.fetches = 0
        self.healthy = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Fetch the set, report started, then refresh it every ``cache_s`` (after a failed
        fetch: every cooldown) until cancelled. A failed first fetch does not stop the
        front: tokens then fail with "unknown key" until a fetch succeeds.

        Cancellation: stops at once; a fetch running in its thread finishes there.
        """
        await self.refresh()
        task_status.started()
        while True:
            # A deadline refresh() moves: a request's fetch that failed brings the retry
            # forward to the cooldown, one that succeeded starts a new cache period.
            with trio.CancelScope(deadline=self._next_refresh_at()) as self._asleep:
                await trio.sleep_forever()
            await self.refresh()

    def _next_refresh_at(self) -> float:
        if self.healthy and self._fetched_at is not None:
            return self._fetched_at + self._cache_s
        return (self._last_attempt or self._clock()) + self._cooldown_s

    async def key_for(self, kid: str | None, algorithm: str) -> JwksKey | None:
        """The key that verifies a token with this ``kid`` and ``alg``, fetching the set
        again if the ``kid`` is unknown and the cooldown allows; None when there is none.
        Without a ``kid``, the set's only key that can verify ``algorithm``."""
        found = self._find(kid, algorithm)
        if found is not None or kid is None:
            return found
        if self._inflight is None and not self._may_fetch_now():
            return None
        await self.refresh()
        return self._find(kid, algorithm)

    def _may_fetch_now(self) -> bool:
        return self._last_attempt is None or (
            self._clock() - self._last_attempt >= self._cooldown_s
        )

    def _find(self, kid: str | None, algorithm: str) -> JwksKey | None:
        if kid is not None:
            return self._by_kid.get(kid)
        usable = [k for k in self._keys if k.algorithm in (None, algorithm)]
        return usable[0] if len(usable) == 1 else None

    async def refresh(self) -> None:
        """Fetch the set now, or wait for the fetch already running (one at a time; a
        failure is logged and keeps the keys there were).

        Cancellation: waits for the fetch's thread (bounded by ``timeout_s``), whose result
        is then dropped.
        """
        if self._inflight is not None:
            await self._inflight.wait()
            return
        done = self._inflight = trio.Event()
        attempt = self._last_attempt = self._clock()
        self.fetches += 1
        started = time.perf_counter()
        try:
            data = await self._fetch()
            keys = parse_jwks(data)
        except JwksUnavailableError as exc:
            self.healthy = False
            log.warning("jwks.fetch_failed", url=self._url, error=str(exc))
        else:
            self._store(hashlib.sha256(data).digest(), keys, fetched_at=attempt)
            log.info(
                "jwks.fetched",
                url=self._url,
                keys=len(keys),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
        finally:
            self._inflight = None
            done.set()
            if self._asleep is not None:
                self._asleep.deadline = self._next_refresh_at()

    def _store(self, digest: bytes, keys: list[JwksKey], *, fetched_at: float) -> None:
        changed = bool(self._digest) and digest != self._digest
        self._digest = digest
        self._keys = tuple(keys)
        self._by_kid = {k.kid: k for k in keys if k.kid is not None}
        # From the fetch's start: the schedule does not drift by the fetches' durations.
        self._fetched_at = fetched_at
        self.healthy = True
        if changed:
            self._on_change()
