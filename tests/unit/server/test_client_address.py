"""server/client_address.py: the TCP peer, or the address the outermost trusted proxy saw."""

from __future__ import annotations

from server.client_address import client_address


def scope(peer: tuple[str, int] | None, *forwarded: bytes) -> dict[str, object]:
    return {"client": peer, "headers": [(b"x-forwarded-for", value) for value in forwarded]}


def test_the_peer_without_trusted_proxies_whatever_the_header_says() -> None:
    assert client_address(scope(("10.0.0.9", 5555), b"6.6.6.6")) == "10.0.0.9"
    assert client_address(scope(None)) == ""


def test_behind_proxies_the_entry_the_outermost_one_appended() -> None:
    # The client forged "6.6.6.6"; the outer proxy appended 1.2.3.4, the inner one 10.0.0.2.
    request = scope(("10.0.0.3", 1), b"6.6.6.6, 1.2.3.4", b"10.0.0.2")
    assert client_address(request, 2) == "1.2.3.4"
    assert client_address(request, 1) == "10.0.0.2"


def test_fewer_entries_than_proxies_means_it_did_not_come_through_them() -> None:
    assert client_address(scope(("10.0.0.3", 1), b"1.2.3.4"), 2) == "10.0.0.3"
