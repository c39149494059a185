"""The tools mcpfleet serves in the benchmark: examples.demo's tools, with ``echo`` also
runnable as a task (for the tasks workload), plus ``progress_probe``, whose progress messages
carry the worker's clock at report time so the load generator can measure report -> receipt
latency (both run on one machine, one clock).

    mcpfleet up --app bench.apps.mcpfleet_tools:app
"""

from __future__ import annotations

import asyncio
import time

from examples import demo
from workers import ToolContext, ToolError, Toolset

app = Toolset(
    "mcpfleet-bench",
    "0.1.0",
    title="mcpfleet benchmark tools",
    instructions="The demo tools plus progress_probe, for the benchmark.",
)

# Same functions as the demo; ``echo`` may also run as a task (plain calls are unchanged).
app.tool(read_only=True, idempotent=True, open_world=False, task_support="optional")(demo.echo)
app.tool(read_only=True, idempotent=True, open_world=False)(demo.add)
app.tool(timeout_s=600, task_support="optional")(demo.sleep_progress)
app.tool(read_only=True, open_world=False, task_support="optional")(demo.cpu_burn)
app.tool(read_only=True, idempotent=True, open_world=False)(demo.wait)
app.tool(read_only=True, idempotent=True, open_world=False)(demo.blocking_wait)
app.tool(read_only=True, open_world=False)(demo.fail)
app.tool(read_only=True, idempotent=True, open_world=False)(demo.regional_echo)


@app.tool(read_only=True, open_world=False)
async def progress_probe(steps: int, interval_ms: float, ctx: ToolContext) -> str:
    """Report progress ``steps`` times, ``interval_ms`` apart; each report's message is the
    worker's ``time.time_ns()`` when it reported (mcpfleet coalesces reports closer than
    50 ms, so keep ``interval_ms`` at 50 or more).

    Args:
        steps: how many progress reports to send (at least 1).
        interval_ms: the pause before each report, in milliseconds.
    """
    if steps < 1:
        raise ToolError("steps must be at least 1")
    for step in range(1, steps + 1):
        await asyncio.sleep(interval_ms / 1000)
        ctx.progress(step, steps, str(time.time_ns()))
    return f"probed {steps} steps"
