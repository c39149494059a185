"""The issuer's JSON Web Key Set, fetched off the trio thread and kept (ADR-0016).

- **Fetched in a thread** (:func:`server.jwks_fetch.fetch_jwks` under a
  ``CapacityLimiter`` of one: a fetch is blocking I/O, over within ``jwks_timeout_s``), at
  start and then every ``jwks_cache_s`` in the background, so requests never wait for a
  scheduled refresh. The few keys of a set are parsed on the trio thread (well under a
  millisecond, once an hour).
- **A failed fetch keeps the keys it has** (tokens keep being verified while the issuer is
  unreachable; ``healthy`` says it failed) and is retried after the cooldown. Whatever the
  endpoint answers (a refusal, a truncated or garbage body, a redirect off https, silence),
  the fetch fails with a reason in ``jwks.fetch_failed``: it never stops the front, its
  start-up, or a request (whose token then has an unknown key, a 401).
- **One schedule, whoever fetched.** After every fetch (the background one, or one a
  request caused) the background loop computes its next one again: ``cache_s`` after the
  latest success, or the cooldown after a failure.
- **An unknown ``kid``** (the issuer rotated its keys) fetches the set again, but at most
  once per ``jwks_refresh_cooldown_s``: tokens with random ``kid`` values cannot make the
  front hammer the issuer. Requests that miss while a fetch runs wait for that fetch, so a
  burst of tokens signed with a new key costs one fetch; no request waits longer than
  ``jwks_timeout_s``.
- Only signature keys of the asymmetric families are kept (``use`` absent or ``sig``;
  ``kty`` RSA, EC or OKP): a symmetric (``oct``) key published in a key set is ignored, so
  no HS* token can ever be verified against it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Final

import structlog
import trio
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from server.jwks_fetch import JwksUnavailableError, fetch_jwks

__all__ = ["JwksCache", "JwksKey", "JwksUnavailableError", "parse_jwks"]

log = structlog.get_logger()

_KEY_TYPES: Final = frozenset({"RSA", "EC", "OKP"})

Fetch = Callable[[], Awaitable[bytes]]
"""Reads the key set's bytes (:func:`fetch_jwks` in a thread by default)."""


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


def parse_jwks(data: bytes) -> list[JwksKey]:
    """The signature keys of a key set document (others are skipped, and logged).

    Raises:
        JwksUnavailableError: not a JSON object with a ``keys`` array.
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
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
        cooldown_s: least time between two fetches a request may cause, and between a
            failed fetch and the next.
        timeout_s: deadline of one fetch, and the longest a request waits for one.
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
        # abandon_on_cancel: a cancelled wait (a drain, a client gone) never waits for the
        # thread, which ends on its own within timeout_s (fetch_jwks's deadline).
        self._fetch = fetch or partial(
            trio.to_thread.run_sync,
            fetch_jwks,
            url,
            timeout_s,
            limiter=self._limiter,
            abandon_on_cancel=True,
        )
        self._on_change = on_change
        self._clock = clock or trio.current_time
        self._keys: Sequence[JwksKey] = ()
        self._digest = b""
        self._by_kid: Mapping[str, JwksKey] = {}
        self._last_attempt: float | None = None
        self._fetched_at: float | None = None
        self._inflight: trio.Event | None = None
        self._fetched = trio.Event()  # set, then replaced, after each fetch
        self.fetches = 0
        self.healthy = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Fetch the set, report started, then refresh it every ``cache_s`` (after a failed
        fetch: every cooldown) until cancelled. A failed first fetch does not stop the
        front: tokens then fail with "unknown key" until a fetch succeeds. A fetch a request
        caused moves the schedule as this loop's own do.

        Cancellation: stops at once; a fetch running in its thread ends there.
        """
        await self.refresh()
        task_status.started()
        while True:
            fetched = self._fetched
            with trio.move_on_at(self._next_refresh_at()) as due:
                await fetched.wait()  # a request fetched: compute the schedule again
            if due.cancelled_caught:
                await self.refresh()

    def _next_refresh_at(self) -> float:
        if self.healthy and self._fetched_at is not None:
            return self._fetched_at + self._cache_s
        return (self._last_attempt or self._clock()) + self._cooldown_s

    async def key_for(self, kid: str | None, algorithm: str) -> JwksKey | None:
        """The key that verifies a token with this ``kid`` and ``alg``, fetching the set
        again if the ``kid`` is unknown and the cooldown allows; None when there is none
        (also when that fetch fails or takes longer than ``timeout_s``). Without a ``kid``,
        the set's only key that can verify ``algorithm``."""
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
        """Fetch the set now, or wait for the fetch already running (one at a time). Never
        raises for a failed fetch: it is logged (``jwks.fetch_failed``), ``healthy`` turns
        False and the keys there were stay. Returns within ``timeout_s``.

        Cancellation: abandons the fetch's thread (it ends by its own deadline; its result
        is dropped).
        """
        inflight = self._inflight
        if inflight is not None:
            with trio.move_on_after(self._timeout_s):
                await inflight.wait()
            return
        done = self._inflight = trio.Event()
        attempt = self._last_attempt = self._clock()
        self.fetches += 1
        started = time.perf_counter()
        try:
            data, keys = await self._fetch_keys()
        except JwksUnavailableError as exc:
            self.healthy = False
            log.warning("jwks.fetch_failed", url=self._url, error=str(exc))
        except Exception as exc:  # noqa: BLE001  # the issuer's answer never stops the front
            self.healthy = False
            log.warning("jwks.fetch_failed", url=self._url, error=f"{type(exc).__name__}: {exc}")
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
            self._fetched.set()
            self._fetched = trio.Event()

    async def _fetch_keys(self) -> tuple[bytes, list[JwksKey]]:
        with trio.move_on_after(self._timeout_s) as deadline:
            data = await self._fetch()
        if deadline.cancelled_caught:
            raise JwksUnavailableError(
                f"the JWKS fetch did not complete within {self._timeout_s:g}s"
            )
        return data, parse_jwks(data)

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
