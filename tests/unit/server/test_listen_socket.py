"""The fronts' shared listening sockets (server/listen_socket.py): every front binds the
same port with SO_REUSEPORT, and a port held by a socket without it is refused."""

from __future__ import annotations

import socket

import pytest

from server.listen_socket import bind_address, bind_shared_socket


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("[::1]:9000", ("::1", 9000)),
        ("localhost:80", ("localhost", 80)),
    ],
)
def test_bind_address_splits_host_and_port(bind: str, expected: tuple[str, int]) -> None:
    assert bind_address(bind) == expected


@pytest.mark.parametrize("bind", ["8000", ":8000", "127.0.0.1:", "127.0.0.1:http"])
def test_a_malformed_address_is_refused_naming_it(bind: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        bind_address(bind)


def test_several_sockets_bind_and_listen_on_one_port() -> None:
    first = bind_shared_socket("127.0.0.1:0")
    port = first.getsockname()[1]
    second = bind_shared_socket(f"127.0.0.1:{port}")
    with first, second:
        first.listen()
        second.listen()
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert second.getsockname() == ("127.0.0.1", port)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # one of them took it


def test_a_port_held_without_reuseport_is_refused() -> None:
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        with pytest.raises(OSError):
            bind_shared_socket(f"127.0.0.1:{plain.getsockname()[1]}")
