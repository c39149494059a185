"""The demo tool app served by ``make run``: one tool of each kind the runtime handles."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from workers import Header, ToolContext, ToolError, Toolset

app = Toolset(
    "mcpfleet-demo",
    "0.1.0",
    title="mcpfleet demo",
    instructions=(
        "Demo tools: echo, a header-routed echo, arithmetic, progress, CPU work, waits "
        "and a failing tool."
    ),
)


@app.tool(read_only=True, idempotent=True, open_world=False)
def echo(text: str) -> str:
    """Echo the text back.

    Args:
        text: the text to return.
    """
    return text


@app.tool(read_only=True, idempotent=True, open_world=False)
def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: the first addend.
        b: the second addend.
    """
    return a + b


@app.tool(timeout_s=600, task_support="optional")
async def sleep_progress(seconds: float, steps: int, ctx: ToolContext) -> str:
    """Sleep for a while, reporting progress once per step.

    Args:
        seconds: total time to sleep.
        steps: how many progress reports to send (at least 1).
    """
    if steps < 1:
        raise ToolError("steps must be at least 1")
    for step in range(1, steps + 1):
        await asyncio.sleep(seconds / steps)
        ctx.progress(step, steps, f"step {step} of {steps}")
    return f"slept {seconds:g} s in {steps} steps"


@app.tool(read_only=True, open_world=False, task_support="optional")
def cpu_burn(ms: int, ctx: ToolContext) -> dict[str, int]:
    """Burn CPU in pure Python for about ``ms`` milliseconds.

    Args:
        ms: how long to keep one core busy, in milliseconds.
    """
    end = time.perf_counter() + ms / 1000
    rounds = 0
    while time.perf_counter() < end:
        for i in range(1000):
            rounds += i & 1
        if ctx.cancelled:
            break
    return {"rounds": rounds}


@app.tool(read_only=True, idempotent=True, open_world=False)
async def wait(ms: int) -> str:
    """Wait asynchronously (the worker keeps serving other calls).

    Args:
        ms: how long to wait, in milliseconds.
    """
    await asyncio.sleep(ms / 1000)
    return f"waited {ms} ms"


@app.tool(read_only=True, idempotent=True, open_world=False)
def blocking_wait(ms: int) -> str:
    """Wait by blocking a thread (runs in the worker's thread pool).

    Args:
        ms: how long to block, in milliseconds.
    """
    time.sleep(ms / 1000)
    return f"blocked {ms} ms"


@app.tool(read_only=True, open_world=False)
def fail(message: str) -> str:
    """Always fail with the given message (to see how errors look).

    Args:
        message: the error message to raise.
    """
    raise RuntimeError(message)


@app.tool(read_only=True, idempotent=True, open_world=False)
def regional_echo(region: Annotated[str, Header("Region")], text: str = "") -> str:
    """Echo the text with the region it was routed for. ``region`` is mirrored into the
    ``Mcp-Param-Region`` header, so a gateway can route on it without reading the body.

    Args:
        region: where the call should be served, e.g. ``eu-west``.
        text: the text to return.
    """
    return f"[{region}] {text}"
