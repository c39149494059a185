"""End-to-end cost of a foreground call through the fleet (DESIGN.md section 6 budget:
at most ~0.6 ms CPU per call in total, p50 under 1 ms at one client).

Starts ``mcpfleet up`` (2 workers) on a throwaway redis-server, drives ``tools/call echo``
(2026-07-28, one POST per call) from C keep-alive connections on a minimal raw HTTP/1.1
client, and reports calls/s, p50/p99 latency and the CPU each part spent per call.

    python -m bench.call_lane [MCPFLEET_KEY=value ...]   # settings for the fleet
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import trio

from bench.redis_server import bench_redis, process_cpu_s

ROOT = Path(__file__).resolve().parents[1]
BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "echo",
            "arguments": {"text": "hello"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
).encode()


def request_bytes(host: str) -> bytes:
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
        f"Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


async def one_connection(host: str, port: int, until: float, latencies: list[float]) -> None:
    """Keep-alive request loop; reconnects when the server closes the connection (hypercorn
    does after ``keep_alive_max_requests``)."""
    request = request_bytes(f"{host}:{port}")
    while time.perf_counter() < until:
        async with await trio.open_tcp_stream(host, port) as stream:
            buf = b""
            while time.perf_counter() < until:
                t0 = time.perf_counter()
                await stream.send_all(request)
                buf = await read_response(stream, buf)
                if buf is None:
                    break  # closed by the server: reconnect and resend
                latencies.append(time.perf_counter() - t0)


async def read_response(stream: trio.SocketStream, buf: bytes) -> bytes | None:
    """Read one response; returns the bytes after it, or None if the connection closed."""
    while True:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].lower()
            length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            if len(buf) >= head_end + 4 + length:
                assert head.startswith(b"http/1.1 200"), head
                return buf[head_end + 4 + length :]
        chunk = await stream.receive_some(65536)
        if not chunk:
            return None
        buf += chunk


async def drive(host: str, port: int, concurrency: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(one_connection, host, port, until, latencies)
    return latencies


def fleet_pids(supervisor_pid: int) -> dict[str, list[int]]:
    out = subprocess.run(
        ["ps", "-ewwo", "pid=,ppid=,args="], capture_output=True, text=True, check=True
    )
    roles: dict[str, list[int]] = {"front": [], "worker": []}
    for line in out.stdout.splitlines():
        pid, ppid, args = line.split(None, 2)
        if int(ppid) != supervisor_pid:
            continue
        for role, members in roles.items():
            if f"mcpfleet {role} " in args:
                members.append(int(pid))
    return roles


def main() -> None:
    with bench_redis() as (url, redis_pid), tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "up", "--app", "examples.demo:app",
             "--redis", url, "--http", "127.0.0.1:0", "--data-dir", tmp, "--workers", "2",
             "--fleet", "bench"],
            cwd=ROOT, stderr=subprocess.PIPE, text=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MCPFLEET_")},
                 **dict(arg.split("=", 1) for arg in sys.argv[1:])},
        )  # fmt: skip
        assert proc.stderr is not None
        for line in proc.stderr:
            if '"fleet.ready"' in line:
                bind = json.loads(line)["urls"][0]
                break
        else:
            raise SystemExit("the fleet did not start")
        # Keep draining the fleet's logs so a full pipe never blocks it.
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
        host, port = bind.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        pids = fleet_pids(proc.pid)
        try:
            trio.run(drive, host, int(port), 4, 1.0)  # warm-up
            for concurrency in (1, 16, 64):
                before = {r: sum(map(process_cpu_s, p)) for r, p in pids.items()}
                rcpu0, ccpu0 = process_cpu_s(redis_pid), time.process_time()
                seconds = 5.0
                lat = trio.run(drive, host, int(port), concurrency, seconds)
                n = len(lat)
                cpu = {
                    r: (sum(map(process_cpu_s, p)) - before[r]) / n * 1e6 for r, p in pids.items()
                }
                rcpu = (process_cpu_s(redis_pid) - rcpu0) / n * 1e6
                ccpu = (time.process_time() - ccpu0) / n * 1e6
                lat.sort()
                p50, p99 = statistics.median(lat) * 1e3, lat[int(n * 0.99)] * 1e3
                print(
                    f"c={concurrency:<3} {n / seconds:7.0f} calls/s  p50 {p50:6.2f} ms"
                    f"  p99 {p99:6.2f} ms  CPU µs/call: front {cpu['front']:5.0f}"
                    f"  workers {cpu['worker']:5.0f}  redis {rcpu:4.0f}"
                    f"  total {cpu['front'] + cpu['worker'] + rcpu:5.0f}  (client {ccpu:4.0f})"
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
