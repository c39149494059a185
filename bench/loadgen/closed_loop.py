"""The closed-loop driver: N clients, each sending its next call as soon as the previous
answer arrived, for a warm-up (not measured) and then a measured period; optionally spread
over P generator processes whose results are merged."""

from __future__ import annotations

import math
import multiprocessing
import select
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import chain
from typing import Any, Final

from bench.loadgen.http_wire import (
    Connection,
    ConnectionClosed,
    Endpoint,
    ResponseReader,
    WireError,
)
from bench.loadgen.mcp_flows import (
    CallTemplate,
    Session,
    SetupError,
    call_verdict,
    close_session,
    open_session,
)
from bench.loadgen.workloads import ERAS, Workload


@dataclass(frozen=True)
class LoadSpec:
    """One closed-loop run.

    Args:
        url: the MCP endpoint, e.g. ``http://127.0.0.1:8000/mcp``.
        era: ``"2026-07-28"`` or ``"2025-11-25"``.
        workload: what every call sends and expects.
        clients: concurrent clients (one keep-alive connection each).
        duration_s: the measured period.
        warmup_s: the period before it (calls made, not counted).
        processes: generator processes the clients are spread over.
    """

    url: str
    era: str
    workload: Workload
    clients: int
    duration_s: float
    warmup_s: float = 1.0
    processes: int = 1


@dataclass
class LoadResult:
    """What a closed-loop run measured (calls completed within the measured period).

    ``errors`` maps a kind (``http_503``, ``jsonrpc_-32603``, ``tool_error``, ``check``,
    ``id_mismatch``, ``bad_reply``, ``connection``, ...) to its count; errors are not in
    ``requests``. ``generator_cpu_s`` is the CPU the generator's own driving threads spent
    during the measured period (all processes); ``generator_busy`` is that over
    ``duration_s * processes`` (near 1.0 means the generator was the bottleneck).
    """

    workload: str
    era: str
    clients: int
    processes: int
    duration_s: float
    requests: int
    errors: dict[str, int] = field(default_factory=dict)
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    max_ms: float = 0.0
    generator_cpu_s: float = 0.0
    generator_cpu_per_call_us: float = 0.0
    generator_busy: float = 0.0
    reconnects: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        """All errors, of every kind."""
        return sum(self.errors.values())

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-able dict."""
        return asdict(self)


def run_load(spec: LoadSpec) -> LoadResult:
    """Run ``spec`` and return what it measured. Never raises on bad replies (they are
    counted in ``errors``).

    Raises:
        ValueError: an invalid spec (era, clients, processes, durations).
    """
    _validate(spec)
    if spec.processes == 1:
        part = drive(spec, spec.clients, _start_now)
        return merge(spec, [part])
    return merge(spec, run_in_processes(spec))


def _validate(spec: LoadSpec) -> None:
    if spec.era not in ERAS:
        raise ValueError(f"era must be one of {ERAS}, not {spec.era!r}")
    if spec.clients < 1 or spec.processes < 1:
        raise ValueError("clients and processes must be at least 1")
    if spec.processes > spec.clients:
        raise ValueError("more processes than clients")
    if spec.duration_s <= 0 or spec.warmup_s < 0:
        raise ValueError("duration must be positive and warm-up not negative")
    Endpoint.from_url(spec.url)


@dataclass
class PartResult:
    """What one generator process measured (latencies in seconds, unsorted)."""

    requests: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    reconnects: int = 0

    def error(self, kind: str, detail: str) -> None:
        """Count an error (keeping the first few details as samples)."""
        self.errors[kind] += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(f"{kind}: {detail}")


MAX_SAMPLES: Final = 5


class _Client:
    """One simulated client: its connection, session, and the request in flight."""

    __slots__ = ("conn", "reader", "request", "request_id", "sent_at", "session", "template")

    def __init__(self, conn: Connection, session: Session, template: CallTemplate) -> None:
        self.conn = conn
        self.session = session
        self.template = template
        self.reader = ResponseReader()
        self.request = b""
        self.request_id = 0
        self.sent_at = 0.0


def _start_now() -> float:
    return time.perf_counter()


def drive(spec: LoadSpec, clients: int, start: Callable[[], float]) -> PartResult:
    """Set up ``clients`` clients, wait for ``start()`` (the perf_counter instant the run
    begins, agreed with the other processes), then run the warm-up and measured period on
    one epoll loop in this thread."""
    part = PartResult()
    endpoint = Endpoint.from_url(spec.url)
    ready = [c for c in (_set_up(spec, endpoint, part) for _ in range(clients)) if c is not None]
    begin = start()
    try:
        if ready:
            _loop(spec, ready, begin, part)
    finally:
        for client in ready:
            _tear_down(client)
    return part


def _set_up(spec: LoadSpec, endpoint: Endpoint, part: PartResult) -> _Client | None:
    conn = Connection(endpoint, timeout_s=30.0)
    try:
        conn.connect()
        session = open_session(conn, spec.era)
    except (OSError, WireError, ConnectionClosed, SetupError) as exc:
        conn.close()
        part.error("setup", repr(exc))
        return None
    workload = spec.workload
    return _Client(conn, session, session.call_template(workload.tool, workload.arguments))


def _tear_down(client: _Client) -> None:
    sock = client.conn.sock
    if sock is None:
        return
    if client.session.session_id is None:
        client.conn.close()
        return
    sock.setblocking(True)
    sock.settimeout(2.0)
    client.conn.close()  # a call may still be in flight on it: DELETE on a fresh one
    close_session(client.conn, client.session)
    client.conn.close()


def _loop(spec: LoadSpec, clients: list[_Client], begin: float, part: PartResult) -> None:
    _Loop(spec, part, begin).run(clients)


class _Loop:
    """The epoll loop of one generator process: every client's socket, non-blocking."""

    def __init__(self, spec: LoadSpec, part: PartResult, begin: float) -> None:
        self.poller = select.epoll()
        self.by_fd: dict[int, _Client] = {}
        self.check = spec.workload.check
        self.part = part
        self.measure_from = begin + spec.warmup_s
        self.until = self.measure_from + spec.duration_s

    def run(self, clients: list[_Client]) -> None:
        """Send every client's first call, then answer each reply with the next call until
        the measured period ends."""
        part = self.part
        measuring = False
        cpu_at = 0.0
        for client in clients:
            self.attach(client)
        for client in clients:
            self.send_next(client)
        try:
            while self.by_fd:
                now = time.perf_counter()
                if not measuring and now >= self.measure_from:
                    measuring = True
                    cpu_at = time.thread_time()
                if now >= self.until:
                    break
                timeout = (self.until if measuring else self.measure_from) - now
                for fd, _events in self.poller.poll(timeout):
                    polled = self.by_fd.get(fd)
                    if polled is not None:
                        self.readable(polled)
        finally:
            if measuring:
                part.cpu_s = time.thread_time() - cpu_at
            part.requests = len(part.latencies)
            self.poller.close()

    def readable(self, client: _Client) -> None:
        """Read what arrived; when a reply is whole, judge it and send the next call."""
        sock = client.conn.sock
        assert sock is not None
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self.reconnect(client, f"recv: {exc!r}")
            return
        if not data:
            self.reconnect(client, "closed by the server")
            return
        reader = client.reader
        try:
            if not reader.feed(data):
                return
        except WireError as exc:
            self.part.error("bad_framing", str(exc))
            reader.status = 0  # counted here: resend on a fresh connection
            self.reconnect(client, "bad framing")
            return
        done_at = time.perf_counter()
        verdict = call_verdict(reader.response(), client.request_id, self.check)
        if done_at >= self.measure_from:
            if verdict.message is None:
                self.part.error(verdict.kind, verdict.detail)
            else:
                self.part.latencies.append(done_at - client.sent_at)
        client.reader = ResponseReader(reader.rest)
        if reader.headers.get("connection", "").lower() == "close":
            self.detach(client)
            if not self.connect(client):
                return
        self.send_next(client)

    def send_next(self, client: _Client) -> None:
        """Send the client's next call."""
        client.request_id = client.session.take_id()
        client.request = client.template.render(client.request_id)
        self.send(client)

    def send(self, client: _Client) -> None:
        """(Re)send the call in flight."""
        sock = client.conn.sock
        assert sock is not None
        client.sent_at = time.perf_counter()
        try:
            sent = sock.send(client.request)
            if sent < len(client.request):  # rare: a full send buffer; finish blocking
                sock.setblocking(True)
                sock.sendall(client.request[sent:])
                sock.setblocking(False)
        except OSError as exc:
            self.reconnect(client, f"send: {exc!r}")

    def attach(self, client: _Client) -> None:
        """Poll the client's socket."""
        sock = client.conn.sock
        assert sock is not None
        sock.setblocking(False)
        self.by_fd[sock.fileno()] = client
        self.poller.register(sock.fileno(), select.EPOLLIN)

    def detach(self, client: _Client) -> None:
        """Stop polling the client's socket and close it."""
        sock = client.conn.sock
        if sock is not None:
            self.poller.unregister(sock.fileno())
            del self.by_fd[sock.fileno()]
            client.conn.close()

    def connect(self, client: _Client) -> bool:
        """Open a fresh connection for the client (False, counted, when that fails: the
        client then stops)."""
        try:
            client.conn.connect()
        except OSError as exc:
            self.part.error("connect", repr(exc))
            return False
        self.part.reconnects += 1
        self.attach(client)
        return True

    def reconnect(self, client: _Client, why: str) -> None:
        """The server closed (or broke) the connection: resend the call in flight on a
        fresh one (hypercorn closes kept-alive connections after a number of requests). An
        error only if its response had begun."""
        partial = bool(client.reader.status)
        self.detach(client)
        client.reader = ResponseReader()
        if partial:
            self.part.error("connection", why)
        if not self.connect(client):
            return
        if partial:
            self.send_next(client)
        else:
            self.send(client)


def run_in_processes(spec: LoadSpec) -> list[PartResult]:
    """Spread the clients over ``spec.processes`` generator processes (spawned: nothing of
    this process is inherited), start them at one agreed instant and collect their parts."""
    context = multiprocessing.get_context("spawn")
    shares = [
        spec.clients // spec.processes + (1 if i < spec.clients % spec.processes else 0)
        for i in range(spec.processes)
    ]
    pipes: list[Any] = []
    processes = []
    for share in shares:
        mine, theirs = context.Pipe()
        process = context.Process(target=_child, args=(theirs, spec, share), daemon=True)
        process.start()
        theirs.close()
        pipes.append(mine)
        processes.append(process)
    try:
        for pipe in pipes:
            if _receive(pipe) != "ready":
                raise RuntimeError("a generator process failed to start")
        start_wall = time.time() + 0.05
        for pipe in pipes:
            pipe.send(start_wall)
        parts = [_receive(pipe) for pipe in pipes]
        if not all(isinstance(part, PartResult) for part in parts):
            raise RuntimeError("a generator process sent no result")
        return parts
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def _receive(pipe: Any) -> Any:
    """The next message from a generator process (RuntimeError when it died first)."""
    try:
        return pipe.recv()
    except EOFError:
        raise RuntimeError("a generator process exited early (see its stderr)") from None


def _child(pipe: Any, spec: LoadSpec, clients: int) -> None:
    def start() -> float:
        pipe.send("ready")
        start_wall = pipe.recv()
        delay = float(start_wall) - time.time()
        return time.perf_counter() + max(0.0, delay)

    pipe.send(drive(spec, clients, start))
    pipe.close()


def merge(spec: LoadSpec, parts: list[PartResult]) -> LoadResult:
    """One result from every process's part (latencies merged for the percentiles)."""
    latencies = sorted(chain.from_iterable(part.latencies for part in parts))
    errors: Counter[str] = Counter()
    samples: list[str] = []
    for part in parts:
        errors.update(part.errors)
        samples += part.samples
    requests = len(latencies)
    cpu_s = sum(part.cpu_s for part in parts)
    return LoadResult(
        workload=spec.workload.name,
        era=spec.era,
        clients=spec.clients,
        processes=spec.processes,
        duration_s=spec.duration_s,
        requests=requests,
        errors=dict(errors),
        rps=requests / spec.duration_s,
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p90_ms=percentile(latencies, 0.90) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
        mean_ms=(sum(latencies) / requests * 1e3) if requests else 0.0,
        max_ms=(latencies[-1] * 1e3) if requests else 0.0,
        generator_cpu_s=cpu_s,
        generator_cpu_per_call_us=(cpu_s / requests * 1e6) if requests else 0.0,
        generator_busy=cpu_s / (spec.duration_s * spec.processes),
        reconnects=sum(part.reconnects for part in parts),
        error_samples=samples[:MAX_SAMPLES],
    )


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of sorted values (0.0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
