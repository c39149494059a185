"""Where the three lanes of issue 7 meet, against real processes: two fronts of one fleet
with bearer auth (ADR-0016), rate limits (ADR-0017) and the security headers (ADR-0018) all
on. A bearer caller's bucket is keyed by issuer and subject, so the fronts share it and
another subject on the same address has its own; a 401 or a 403 is refused before anything
is charged; every refusal (401, 403, 429) and the RFC 9728 metadata carries the security
headers; a 2025-03-26 batch larger than the bucket gets its extra members refused in the
batch's answer; ``nbf``/``iat`` are honoured within ``auth.leeway_s`` only.

Each test charges a bucket of its own subject (:func:`fresh_subject`); the buckets refill
at 0.1 token/s, so none gains a token during a test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_rate_limits import assert_rate_limited
from tests.e2e.test_response_headers import assert_secured
from tests.fixtures.bearer_http import LegacySession, challenge, modern_call, post
from tests.fixtures.fleet import RunningFleet, start_pair, stop_pair
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.tokens import AUDIENCE, ISSUER, SECRET, hs256

APP = "tests.fixtures.scoped_tools:app"
BURST = 3
ENV = {
    "MCPFLEET_AUTH_JWT_SECRET": SECRET,
    "MCPFLEET_AUTH_ISSUER": ISSUER,
    "MCPFLEET_AUTH_AUDIENCE": AUDIENCE,
    "MCPFLEET_RATE_LIMIT_RATE": "0.1",  # a token per 10 s: no refill within a test
    "MCPFLEET_RATE_LIMIT_BURST": str(BURST),
}
WELL_KNOWN = "/.well-known/oauth-protected-resource"
OTHER_SECRET = "another-secret-that-did-not-sign-for-this-issuer-0123456789abcdef-012"


@pytest.fixture(scope="module")
def fronts(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningFleet, RunningFleet]]:
    """Two fronts of one deployment (one Redis, one fleet name), on two ports."""
    one, two = start_pair(redis_server, tmp_path_factory, app=APP, env=ENV)
    yield one, two
    stop_pair(one, two)


@pytest.fixture
def clients(
    fronts: tuple[RunningFleet, RunningFleet],
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    one, two = fronts
    with one.http() as first, two.http() as second:
        yield first, second


@pytest.fixture
def http(clients: tuple[httpx.Client, httpx.Client]) -> httpx.Client:
    return clients[0]


def fresh_subject() -> str:
    """A subject no other test charged: a bucket of the test's own."""
    return "s-" + uuid.uuid4().hex[:12]


def echo(http: httpx.Client, token: str | None, text: str = "hi") -> httpx.Response:
    return modern_call(http, token, "echo", {"text": text})


def text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["content"][0]["text"])


def assert_full_burst(clients: tuple[httpx.Client, httpx.Client], token: str) -> httpx.Response:
    """``token``'s principal has its whole burst: BURST calls pass (alternating fronts),
    the next is 429. Returns that refusal."""
    for n in range(BURST):
        assert text(echo(clients[n % 2], token, str(n))) == str(n)
    refused = echo(clients[BURST % 2], token)
    assert_rate_limited(refused, burst=BURST, reason="rate_limited")
    return refused


def test_a_bearer_callers_bucket_is_shared_by_the_fronts_and_keyed_by_subject(
    fronts: tuple[RunningFleet, RunningFleet], clients: tuple[httpx.Client, httpx.Client]
) -> None:
    one, two = fronts
    first, second = clients
    subject = fresh_subject()
    token = hs256(subject)
    # The burst of 3, spread over both fronts, is admitted once between them.
    assert [text(echo(http, token, str(n))) for n, http in enumerate([first, second, first])] == [
        "0",
        "1",
        "2",
    ]
    refused = echo(second, token)
    data = assert_rate_limited(refused, burst=BURST, reason="rate_limited")
    assert 1 <= int(data["retryAfter"]) <= 10  # type: ignore[call-overload]  # 0.1 token/s
    # Another token of the same subject (another lifetime: other bytes) is the same caller.
    assert echo(first, hs256(subject, lifetime_s=3600)).status_code == 429
    # Another subject, from the same address and through the same fronts, is not limited.
    other = hs256(fresh_subject())
    assert [text(echo(http, other, "free")) for http in (first, second)] == ["free", "free"]
    # Each front audited its own refusals, naming the principal (not the address).
    two.wait_for("limit.rejected", principal=f"bearer:{subject}")
    one.wait_for("limit.rejected", principal=f"bearer:{subject}")
    assert len(two.find("limit.rejected", principal=f"bearer:{subject}")) == 1
    line = two.find("limit.rejected", principal=f"bearer:{subject}")[0]
    assert (line["reason"], line["tool"], line["audit"]) == ("rate_limited", "echo", True)


def test_a_401_charges_nothing(clients: tuple[httpx.Client, httpx.Client]) -> None:
    subject = fresh_subject()
    refused_tokens = [
        hs256(subject, secret=OTHER_SECRET),  # the subject's name, not the issuer's signature
        hs256(subject, lifetime_s=-120),  # expired (beyond the leeway)
        hs256(subject, aud="https://elsewhere.test/mcp"),
        None,  # no token at all
    ]
    for n in range(BURST + 2):
        for token in refused_tokens:
            assert echo(clients[n % 2], token).status_code == 401
    assert_full_burst(clients, hs256(subject))


def test_a_403_charges_nothing_of_the_same_principal(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    token = hs256(fresh_subject(), scope="files:write")  # read_file needs files:read
    for n in range(BURST + 2):
        denied = modern_call(clients[n % 2], token, "read_file", {"path": "a"})
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["code"] == -31403
    assert_full_burst(clients, token)


def test_every_refusal_and_the_metadata_carry_the_security_headers(
    http: httpx.Client, clients: tuple[httpx.Client, httpx.Client]
) -> None:
    unauthorized = [echo(http, None), echo(http, hs256(secret=OTHER_SECRET))]
    assert [r.status_code for r in unauthorized] == [401, 401]
    forbidden = modern_call(http, hs256(fresh_subject()), "read_file", {"path": "a"})
    assert forbidden.status_code == 403
    limited = assert_full_burst(clients, hs256(fresh_subject()))
    legacy = LegacySession(http, hs256(fresh_subject()))
    for n in range(BURST):
        assert legacy.call("echo", {"text": str(n)}).status_code == 200
    legacy_limited = legacy.call("echo", {"text": "over"})
    assert_rate_limited(legacy_limited, burst=BURST, reason="rate_limited")
    metadata = [http.get(WELL_KNOWN), http.get(f"{WELL_KNOWN}/mcp")]
    assert [r.status_code for r in metadata] == [200, 200]
    assert all(r.json()["resource"].endswith("/mcp") for r in metadata)
    for response in [*unauthorized, forbidden, limited, legacy_limited, *metadata]:
        assert_secured(response)


def test_a_2025_03_26_batch_beyond_the_burst_gets_its_extra_members_refused(
    http: httpx.Client,
) -> None:
    token = hs256(fresh_subject())
    session = LegacySession(http, token, version="2025-03-26")
    size = BURST + 2
    batch = [
        {"jsonrpc": "2.0", "id": n, "method": "tools/call",
         "params": {"name": "echo", "arguments": {"text": str(n)}}}
        for n in range(size)
    ]  # fmt: skip
    response = post(http, batch, token, session.headers())
    assert response.status_code == 200, response.text
    replies = {reply["id"]: reply for reply in response.json()}
    assert sorted(replies) == list(range(size))
    served = [n for n, reply in replies.items() if "result" in reply]
    refused = [reply["error"] for reply in replies.values() if "error" in reply]
    # The members run concurrently: which ones the bucket admitted is theirs to race for.
    assert len(served) == BURST
    assert all(replies[n]["result"]["content"][0]["text"] == str(n) for n in served)
    assert len(refused) == size - BURST
    for error in refused:
        assert error["code"] == -31429
        assert error["data"]["reason"] == "rate_limited"
        assert error["data"]["limit"] == BURST
        assert error["data"]["remaining"] == 0
        assert error["data"]["retryAfter"] >= 1
    # The bucket is empty for the session's next request too.
    assert_rate_limited(session.call("echo", {"text": "x"}), burst=BURST, reason="rate_limited")


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_from_slightly_in_the_future_is_accepted_within_the_leeway(
    http: httpx.Client, claim: str
) -> None:
    subject = fresh_subject()
    now = int(time.time())
    # The default leeway_s is 60: 30 s of clock skew is forgiven, 10 minutes is not.
    assert text(echo(http, hs256(subject, **{claim: now + 30}), "skewed")) == "skewed"
    early = echo(http, hs256(subject, **{claim: now + 600}))
    assert early.status_code == 401, early.text
    assert early.json()["error"]["data"]["reason"] == "not_yet_valid"
    assert challenge(early)["error"] == "invalid_token"
    # Only the accepted call was charged: two of the burst are left.
    assert [text(echo(http, hs256(subject), str(n))) for n in range(BURST - 1)] == ["0", "1"]
    assert echo(http, hs256(subject)).status_code == 429
