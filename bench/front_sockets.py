"""How should several front processes share one port? (ADR-0015)

Two (or ``BENCH_FRONTS``) hypercorn-trio processes serve a bare ASGI app (it answers
with its pid) on one port:
  * ``reuseport``: each binds its own ``SO_REUSEPORT`` socket (server/listen_socket.py),
    the kernel picks a socket per connection by a hash of its addresses;
  * ``inherited``: the parent binds and listens once and every child accepts on that one
    socket (the pre-fork model: every child waits on the same accept queue).
Workloads: ``keep_alive``: C connections opened at once, each making R requests (a load
balancer's pool); ``staggered``: the same, opened one every 20 ms while the earlier ones
run; ``fresh``: C clients making requests on a new connection each; ``one_by_one``: a
single client, a new connection per request (light load). Reported: requests/s, the
servers' CPU per request, and how connections and requests split over the processes.
Run with ``python -m bench.front_sockets`` (``BENCH_FRONTS=4`` for four processes); only a
quiet machine gives stable rates and CPU figures.
"""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import sys
import time
from functools import partial

import hypercorn.trio
import trio
from hypercorn.config import Config

from server.listen_socket import bind_shared_socket

PROCESSES = int(os.environ.get("BENCH_FRONTS", "2"))
CONNECTIONS = 64
REQUESTS_PER_CONNECTION = 200
FRESH_REQUESTS = 4000
REQUEST = b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n"
CLOSE_REQUEST = b"GET / HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n"


async def app(scope: dict[str, object], receive: object, send: object) -> None:
    """Answers every request with this process's pid."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()  # type: ignore[operator]
            await send({"type": message["type"] + ".complete"})  # type: ignore[operator]
            if message["type"] == "lifespan.shutdown":
                return
    body = str(os.getpid()).encode()
    headers = [(b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


def serve(fd: int) -> None:
    """A child: serve on the socket ``fd`` until SIGTERM."""
    config = Config()
    config.bind = [f"fd://{fd}"]
    config.accesslog = None
    config.errorlog = None
    config.backlog = 1024
    trio.run(partial(hypercorn.trio.serve, app, config))  # type: ignore[arg-type]


def start_servers(mode: str) -> tuple[int, list[subprocess.Popen[bytes]]]:
    """The port and the two serving processes."""
    children = []
    if mode == "inherited":
        shared = socket.socket()
        shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        shared.bind(("127.0.0.1", 0))
        shared.listen(1024)
        port = shared.getsockname()[1]
        fds = [shared.fileno()] * PROCESSES
    else:
        first = bind_shared_socket("127.0.0.1:0")
        port = first.getsockname()[1]
        sockets = [first] + [bind_shared_socket(f"127.0.0.1:{port}") for _ in range(PROCESSES - 1)]
        fds = [s.fileno() for s in sockets]
    for fd in fds:
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.front_sockets", "serve", str(fd)], pass_fds=(fd,)
            )
        )
    for fd in set(fds):
        os.close(fd)
    _wait_listening(port)
    return port, children


def _wait_listening(port: int) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(CLOSE_REQUEST)
                if probe.recv(4096):
                    # Both processes must be up: give the second one the same chance.
                    time.sleep(1)
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("servers did not start")


async def request(stream: trio.SocketStream, data: bytes, buffer: bytearray) -> str:
    """Send one request, read its response; the responding pid."""
    await stream.send_all(data)
    while True:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = bytes(buffer[:head_end]).lower()
            length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
            end = head_end + 4 + length
            if len(buffer) >= end:
                body = bytes(buffer[head_end + 4 : end])
                del buffer[:end]
                return body.decode()
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk


async def keep_alive(
    port: int, stagger_s: float = 0.0
) -> tuple[float, collections.Counter[str], collections.Counter[str]]:
    by_connection: collections.Counter[str] = collections.Counter()
    by_request: collections.Counter[str] = collections.Counter()

    async def one_connection() -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        buffer = bytearray()
        async with stream:
            pid = ""
            for _ in range(REQUESTS_PER_CONNECTION):
                pid = await request(stream, REQUEST, buffer)
                by_request[pid] += 1
            by_connection[pid] += 1

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(CONNECTIONS):
            nursery.start_soon(one_connection)
            await trio.sleep(stagger_s)
    rate = CONNECTIONS * REQUESTS_PER_CONNECTION / (time.perf_counter() - started)
    return rate, by_connection, by_request


async def staggered(port: int) -> tuple[float, collections.Counter[str], collections.Counter[str]]:
    """``keep_alive``, the connections opened one every 20 ms: most open while the servers
    are busy with the earlier ones."""
    return await keep_alive(port, stagger_s=0.02)


async def fresh(
    port: int, clients: int = CONNECTIONS
) -> tuple[float, collections.Counter[str], collections.Counter[str]]:
    by_request: collections.Counter[str] = collections.Counter()
    per_client = FRESH_REQUESTS // clients

    async def client() -> None:
        for _ in range(per_client):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                by_request[await request(stream, CLOSE_REQUEST, bytearray())] += 1

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(client)
    rate = per_client * clients / (time.perf_counter() - started)
    return rate, by_request, by_request


async def one_by_one(port: int) -> tuple[float, collections.Counter[str], collections.Counter[str]]:
    """Light load: one client, a new connection per request."""
    return await fresh(port, clients=1)


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def split(counts: collections.Counter[str]) -> str:
    shares = sorted(counts.values(), reverse=True) + [0] * (PROCESSES - len(counts))
    total = sum(shares) or 1
    return "/".join(f"{100 * n / total:.0f}%" for n in shares[:PROCESSES])


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]))
        return
    print(f"{PROCESSES} processes")
    for workload in (keep_alive, staggered, fresh, one_by_one):
        for mode in ("reuseport", "inherited"):
            port, children = start_servers(mode)
            try:
                cpu0 = sum(cpu_s(c.pid) for c in children)
                rate, connections, requests = trio.run(workload, port)
                served = sum(requests.values())
                cpu_us = (sum(cpu_s(c.pid) for c in children) - cpu0) / served * 1e6
            finally:
                for child in children:
                    child.terminate()
                for child in children:
                    child.wait()
            print(
                f"{workload.__name__:10} {mode:10} {rate:7.0f} req/s  server {cpu_us:5.0f} µs/req  "
                f"connections {split(connections)}  requests {split(requests)}"
            )


if __name__ == "__main__":
    main()
