"""What the hardening of issue 7 costs (ADR-0018): the nesting-depth bound and the argument
bounds on a typical ``tools/call`` and on hostile bodies; the security headers in h11 (which
hypercorn uses, and which validates every header it sends); the log redaction per line.

Run with ``python -m bench.hardening_overhead``. Reports the best of five timings per
operation (micro-benchmarks in one process: ratios matter, absolute numbers depend on the
machine and its load).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import timeit
from collections.abc import Callable
from typing import Final

import h11
import msgspec
import structlog

from proto import DEFAULT_MAX_JSON_DEPTH, decode_message, nesting_exceeds
from server.config import FrontConfig
from server.response_headers import SECURITY_HEADERS
from supervisor.log_redaction import SecretRedactor

TYPICAL_ARGUMENTS = {
    "query": "quarterly revenue by region for the last four quarters",
    "limit": 20,
    "filters": {"year": 2025, "tags": ["finance", "emea"], "currency": "EUR"},
}
TYPICAL = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 17,
        "method": "tools/call",
        "params": {
            "name": "search_documents",
            "arguments": TYPICAL_ARGUMENTS,
            "_meta": {"progressToken": "tok-17"},
        },
    },
    separators=(",", ":"),
).encode()

MIB = 1024 * 1024
HOSTILE = {
    "100 000 levels": b"[" * 100_000 + b"]" * 100_000,
    "4 MiB, siblings 63 deep": b"[" + b",".join([b"[" * 63 + b"]" * 63] * (4 * MIB // 127)) + b"]",
    "4 MiB, flat [[],[],...]": b"[" + b"[]," * (4 * MIB // 3 - 1) + b"[]]",
    "4 MiB, brackets in one string": b'["' + b"[" * (4 * MIB - 4) + b'"]',
    "4 MiB, escaped quotes": b'["' + b'\\"[' * (4 * MIB // 3 - 2) + b'"]',
    "4 MiB, 800k strings of [": b"[" * 60 + b",".join([b'"["'] * 800_000) + b"]" * 60,
}


class _Envelope(msgspec.Struct):
    params: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_envelope: Final = msgspec.json.Decoder(_Envelope)  # what decode_message does first


def per_call_ns(operation: Callable[[], object], number: int = 200_000) -> float:
    return min(timeit.repeat(operation, number=number, repeat=5)) / number * 1e9


def once_ms(operation: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with contextlib.suppress(msgspec.DecodeError, RecursionError):  # a refusal is a result
            operation()
        best = min(best, time.perf_counter() - started)
    return best * 1e3


_REQUEST: Final = (
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: application/json, "
    b"text/event-stream\r\nContent-Type: application/json\r\nMcp-Protocol-Version: "
    b"2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: 2\r\n\r\n{}"
)
_BEFORE: Final = [
    (b"content-type", b"application/json"),
    (b"content-length", b"120"),
    (b"date", b"Sat, 21 Nov 2026 19:19:20 GMT"),
    (b"server", b"hypercorn-h11"),
]
_AFTER: Final = [*_BEFORE[:1], *SECURITY_HEADERS, *_BEFORE[1:3]]  # no server header


def h11_cycle(headers: list[tuple[bytes, bytes]]) -> Callable[[], None]:
    """One request read and one response written on a kept-alive h11 connection."""
    connection = h11.Connection(h11.SERVER)
    body = b"x" * 120

    def cycle() -> None:
        connection.receive_data(_REQUEST)
        for _ in range(3):
            connection.next_event()
        connection.send(h11.Response(status_code=200, headers=headers))
        connection.send(h11.Data(data=body))
        connection.send(h11.EndOfMessage())
        connection.start_next_cycle()

    return cycle


def cpu_us(operation: Callable[[], object], *, rounds: int = 30, number: int = 2000) -> float:
    """The least CPU time per call over ``rounds`` (process time: others' load aside)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(number):
            operation()
        best = min(best, (time.process_time() - started) / number)
    return best * 1e6


TYPICAL_LINE: Final = {
    "event": "call.finished",
    "request_id": "front-0-a584a8-17",
    "call_id": 17,
    "tool": "search_documents",
    "principal": "anonymous",
    "worker_id": "w-3f2a",
    "duration_ms": 1.24,
    "role": "worker",
    "pid": 31717,
    "level": "info",
    "timestamp": "2026-11-21T20:01:16.979425Z",
}
DATA_LINE: Final = {
    **TYPICAL_LINE,
    "event": "tool.log",
    "message": "fetched page 3",
    "data": {"page": 3, "rows": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]},
}


def log_line_us(redact: bool) -> float:
    """A whole structlog line through the fleet's processors, rendered and written to
    /dev/null, with or without the redactor."""
    with open(os.devnull, "w", encoding="utf-8") as sink:
        processors: list[structlog.types.Processor] = [
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ]
        if redact:
            processors.append(SecretRedactor())
        processors.append(structlog.processors.JSONRenderer())
        logger = structlog.wrap_logger(
            structlog.WriteLogger(sink), processors=processors, cache_logger_on_first_use=True
        )
        fields = {k: v for k, v in TYPICAL_LINE.items() if k not in ("event", "level", "timestamp")}
        return cpu_us(lambda: logger.info("call.finished", **fields), number=5000)


def main() -> None:
    limits = FrontConfig().argument_limits()
    arguments = json.dumps(TYPICAL_ARGUMENTS, separators=(",", ":")).encode()
    print(f"typical tools/call: {len(TYPICAL)} bytes, arguments {len(arguments)} bytes")
    depth = per_call_ns(lambda: nesting_exceeds(TYPICAL, DEFAULT_MAX_JSON_DEPTH))
    check = per_call_ns(lambda: limits.check(arguments))
    decode = per_call_ns(lambda: decode_message(TYPICAL))
    print(f"  depth bound (two byte counts)    {depth:8.0f} ns")
    print(f"  argument bounds (comparisons)    {check:8.0f} ns")
    print(f"  decode_message, depth included   {decode:8.0f} ns")
    print("hostile bodies: exact depth scan vs the envelope decode (msgspec, params kept raw)")
    for name, body in HOSTILE.items():
        scan = once_ms(lambda body=body: nesting_exceeds(body, DEFAULT_MAX_JSON_DEPTH))
        wrapped = b'{"params":' + body + b"}"
        envelope = once_ms(lambda wrapped=wrapped: _envelope.decode(wrapped))
        print(f"  {name:32s} scan {scan:8.2f} ms   envelope decode {envelope:8.2f} ms")
    before = cpu_us(h11_cycle(_BEFORE))
    after = cpu_us(h11_cycle(_AFTER))
    print("h11, one kept-alive request/response cycle (CPU, best of 30 rounds)")
    print(f"  before: content-type, length, date, server     {before:7.2f} us")
    print(f"  after:  without server, with 5 security headers {after:7.2f} us")
    redactor = SecretRedactor()
    typical = per_call_ns(lambda: redactor(None, "info", dict(TYPICAL_LINE)))
    nested = per_call_ns(lambda: redactor(None, "info", dict(DATA_LINE)))
    copying = per_call_ns(lambda: dict(TYPICAL_LINE))
    print("log redaction, per line")
    print(f"  typical line, 11 fields (dict copy {copying:.0f} ns included) {typical:7.0f} ns")
    print(f"  ctx.log line with nested data                       {nested:7.0f} ns")
    print(
        f"  whole line rendered to /dev/null: without {log_line_us(False):6.2f} us, "
        f"with {log_line_us(True):6.2f} us"
    )


if __name__ == "__main__":
    main()
