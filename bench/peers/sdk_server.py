"""The official MCP Python SDK serving the demo tools, as the benchmark's reference peer.

The same tools as ``examples/demo.py`` (same names, argument names and results), served
in-process by ``mcp.server.mcpserver.MCPServer`` in the SDK's fastest documented HTTP mode:
stateless Streamable HTTP with JSON responses, one uvicorn process (uvicorn picks uvloop and
httptools when they are installed, as in the peer's virtualenv). The SDK serves both eras on
one endpoint: handshake-era calls (2025-11-25) without a session, and 2026-07-28 calls with
the per-request ``_meta`` envelope.

Self-contained on purpose: it runs from the peer virtualenv (``bench/.venvs/sdk``), which has
the SDK and uvicorn but not mcpfleet, and from the dev virtualenv for the CI smoke.

    python bench/peers/sdk_server.py --port 8123
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvicorn
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("sdk-demo", version="0.1.0", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
async def sleep_progress(seconds: float, steps: int, ctx: Context) -> str:
    """Sleep for a while, reporting progress once per step."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    for step in range(1, steps + 1):
        await asyncio.sleep(seconds / steps)
        await ctx.report_progress(step, steps, f"step {step} of {steps}")
    return f"slept {seconds:g} s in {steps} steps"


@server.tool()
def cpu_burn(ms: int) -> dict[str, int]:
    """Burn CPU in pure Python for about ``ms`` milliseconds."""
    end = time.perf_counter() + ms / 1000
    rounds = 0
    while time.perf_counter() < end:
        for i in range(1000):
            rounds += i & 1
    return {"rounds": rounds}


@server.tool()
async def wait(ms: int) -> str:
    """Wait asynchronously."""
    await asyncio.sleep(ms / 1000)
    return f"waited {ms} ms"


@server.tool()
def blocking_wait(ms: int) -> str:
    """Wait by blocking a thread (the SDK runs sync tools in its worker-thread pool)."""
    time.sleep(ms / 1000)
    return f"blocked {ms} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = server.streamable_http_app(stateless_http=True, json_response=True, host=args.host)
    # Access logs off: mcpfleet does not log per request either, and a log line per call
    # would measure the terminal, not the server.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
