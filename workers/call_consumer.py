"""The worker side of the call lane: read calls from the stream as this worker's consumer,
run each as its own asyncio task, and hand the outcome to the :class:`ReplyPublisher`.
Cancellations (heard by the :class:`~workers.cancel_listener.CancelListener`) stop the call
if it runs here, or are remembered in case it is taken later; either way the front gets a
``CancelledReply`` instead of a result.

At most ``max_concurrent_calls`` calls run at once; the consumer reads only as many entries
as it has free slots, so waiting calls stay in the stream where any idle worker can take
them. A call whose caller's deadline has passed is acknowledged and dropped unrun.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import threading
import time
from collections.abc import Callable
from typing import Final

import msgspec
import structlog

from proto import (
    CALL_GROUP,
    CALL_PAYLOAD_FIELD,
    MODERN_VERSIONS,
    AnsweredInput,
    BackendUnavailableError,
    BroadcastMessage,
    CallMessage,
    CancelCall,
    CancelledReply,
    CancelRequest,
    CancelTask,
    ChangeAnnouncement,
    ChangeKind,
    ClientRequestMessage,
    ErrorReply,
    InputRequiredReply,
    Keyspace,
    LogMessage,
    Principal,
    ProgressMessage,
    RedisCommandError,
    ResultReply,
    TaskAnswered,
    cancel_key_session,
    decode_call,
    stream_entries,
)
from workers.call_log import CallLog, LogSink
from workers.client_input import InputChannel, LiveInputs, PendingAnswers, RetriedInputs
from workers.config import WorkerConfig
from workers.context import ProgressSink, VisibilitySink
from workers.handler_jobs import HandlerJob, HandlerJobs, Outcome
from workers.handler_runner import HandlerRunner
from workers.redis_connection import AsyncRedis
from workers.reply_publisher import ReplyPublisher

__all__ = ["CallConsumer"]

log = structlog.get_logger()

_REMEMBERED_CANCELS: Final = 10_000
"""Bound on cancels remembered for calls not (yet) seen here: cancels are rare, and each is
forgotten once its call's deadline passes."""

_CancelKey = tuple[str, str | int]
"""A call as a cancel names it: ``(front id, call id)``, or ``("", cancel key)``."""


class _Running:
    __slots__ = ("flag", "task")

    def __init__(self, task: asyncio.Task[None]) -> None:
        self.task = task
        self.flag = threading.Event()


class CallConsumer:
    """Consumes the call stream for one worker process."""

    def __init__(
        self,
        *,
        redis: AsyncRedis,
        reads: AsyncRedis,
        keys: Keyspace,
        worker_id: str,
        jobs: HandlerJobs,
        runner: HandlerRunner,
        publisher: ReplyPublisher,
        visibility: VisibilitySink,
        config: WorkerConfig,
    ) -> None:
        self._redis = redis
        self._reads = reads
        self._keys = keys
        self._stream = keys.call_stream()
        self._worker_id = worker_id
        self._jobs = jobs
        self._runner = runner
        self._announce: Callable[[str], None] | None = None
        self._publisher = publisher
        self._visibility = visibility
        self._config = config
        self._inflight: set[asyncio.Task[None]] = set()
        self._running: dict[_CancelKey, _Running] = {}
        self._cancelled: collections.OrderedDict[_CancelKey, int] = collections.OrderedDict()
        self._answers = PendingAnswers()
        self.on_task_cancel: Callable[[str], None] | None = None
        """Receives the ids of cancelled durable tasks (the task lane's, ADR-0011)."""
        self.on_task_answered: Callable[[str], None] | None = None
        """Receives the ids of durable tasks whose input requests a client answered."""
        self.calls_served = 0
        self.calls_cancelled = 0

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def ensure_group(self) -> None:
        """Create the consumer group (from the stream's start) unless it exists."""
        try:
            await self._redis.execute("XGROUP", "CREATE", self._stream, CALL_GROUP, "0", "MKSTREAM")
        except RedisCommandError as exc:
            if "BUSYGROUP" not in str(exc):  # it exists already: fine
                raise

    async def run(
        self, stop: asyncio.Event, *, drain_timeout_s: Callable[[], float] | None = None
    ) -> None:
        """Read and dispatch calls until ``stop`` is set; then wait for in-flight calls
        (up to the drain timeout: ``drain_timeout_s()`` as of the stop, else
        ``worker.drain_timeout_s``) and for their replies to be published."""
        waking = asyncio.create_task(self._end_blocked_read(stop))
        try:
            await self._read_until(stop)
        finally:
            waking.cancel()
        await self._drain(
            self._config.drain_timeout_s if drain_timeout_s is None else drain_timeout_s()
        )

    async def _end_blocked_read(self, stop: asyncio.Event) -> None:
        """Once ``stop`` is set, end the read blocked in ``XREADGROUP`` at once (``CLIENT
        UNBLOCK``: it returns nothing, as at the end of its block time) rather than up to
        ``read_block_ms`` later: every worker stop would wait for it. A read that already
        took entries returns them; they are served like any other."""
        await stop.wait()
        client_id = self._reads.client_id
        if client_id is None:
            return
        try:
            await self._redis.execute("CLIENT", "UNBLOCK", client_id)
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("worker.unblock_failed", error=str(exc))  # it ends at its block time

    async def _read_until(self, stop: asyncio.Event) -> None:
        backoff_s = 0.05
        while not stop.is_set():
            free = self._config.max_concurrent_calls - len(self._inflight)
            if free <= 0:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                # Its own connection: a blocked read would hold up anything pipelined behind it.
                response = await self._reads.execute(
                    "XREADGROUP", "GROUP", CALL_GROUP, self._worker_id,
                    "COUNT", free, "BLOCK", self._config.read_block_ms,
                    "STREAMS", self._stream, ">",
                )  # fmt: skip
                backoff_s = 0.05
            except RedisCommandError as exc:
                if exc.is_transient:
                    log.warning("worker.read_failed", error=str(exc), retry_in_s=backoff_s)
                    await asyncio.sleep(backoff_s)
                    backoff_s = min(backoff_s * 2, 2.0)
                    continue
                if "NOGROUP" not in str(exc):
                    raise
                # Redis came back without our data: re-create the lane and carry on.
                log.warning("worker.call_group_recreated")
                await self.ensure_group()
                continue
            except BackendUnavailableError as exc:
                log.warning("worker.read_failed", error=str(exc), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 2.0)
                continue
            for entry_id, payload in stream_entries(response, CALL_PAYLOAD_FIELD):
                self._spawn(entry_id, payload)

    async def _drain(self, timeout_s: float) -> None:
        if self._inflight:
            log.info("worker.draining", inflight=len(self._inflight), timeout_s=timeout_s)
            _done, pending = await asyncio.wait(self._inflight, timeout=timeout_s)
            for task in pending:
                task.cancel()
        await self._publisher.wait_idle()

    def on_broadcast(self, message: BroadcastMessage) -> None:
        """Act on an entry of the broadcast stream: a client's answer goes to the handler
        waiting for it here (if one does), a task's cancellation or answers to the task
        lane, a call's cancellation to :meth:`on_cancel`."""
        if isinstance(message, AnsweredInput):
            self._answers.on_answer(message)
        elif isinstance(message, CancelTask):
            if self.on_task_cancel is not None:
                self.on_task_cancel(message.task_id)
        elif isinstance(message, TaskAnswered):
            if self.on_task_answered is not None:
                self.on_task_answered(message.task_id)
        else:
            self.on_cancel(message)

    def on_cancel(self, cancel: CancelCall | CancelRequest) -> None:
        """Stop the cancelled call if it runs here; otherwise remember the cancel until the
        call's deadline, in case it is still queued and this worker takes it."""
        key: _CancelKey = (
            (cancel.front_id, cancel.call_id) if isinstance(cancel, CancelCall)
            else ("", cancel.cancel_key)
        )  # fmt: skip
        running = self._running.get(key)
        if running is not None:
            running.flag.set()  # first: the runner tells this cancel from a shutdown by it
            running.task.cancel()
            return
        self._remember(key, cancel.expires_ms)

    def _remember(self, key: _CancelKey, expires_ms: int) -> None:
        now_ms = time.time() * 1000
        while self._cancelled and (
            len(self._cancelled) >= _REMEMBERED_CANCELS
            or next(iter(self._cancelled.values())) < now_ms
        ):
            self._cancelled.popitem(last=False)
        self._cancelled[key] = expires_ms

    def _spawn(self, entry_id: bytes, payload: bytes) -> None:
        task = asyncio.create_task(self._handle(entry_id, payload))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _handle(self, entry_id: bytes, payload: bytes) -> None:
        try:
            call = decode_call(payload)
        except msgspec.MsgspecError as exc:
            log.error("call.undecodable", entry_id=entry_id.decode(), error=str(exc))
            await self._drop(entry_id)
            return
        remaining_s = call.deadline_ms / 1000 - time.time()
        with structlog.contextvars.bound_contextvars(
            request_id=call.request_id,
            call_id=call.call_id,
            tool=call.tool,
            principal=_principal_name(call),
        ):
            if remaining_s <= 0:
                log.info("call.expired_unrun")
                await self._drop(entry_id)
                return
            keys = _cancel_keys(call)
            if any(self._cancelled.pop(key, None) is not None for key in keys):
                log.info("call.cancelled_unrun")
                self._answer_cancelled(call, entry_id)
                return
            running = _Running(asyncio.current_task())  # type: ignore[arg-type]  # in a task
            for key in keys:
                self._running[key] = running
            try:
                await self._run_call(entry_id, call, remaining_s, running.flag)
            finally:
                for key in keys:
                    self._running.pop(key, None)

    async def _run_call(
        self, entry_id: bytes, call: CallMessage, remaining_s: float, cancel_flag: threading.Event
    ) -> None:
        job = self._jobs.prepare(call)
        if not isinstance(job, HandlerJob):
            # Refused before running (a version skew between fronts and workers).
            self._answer(call, job, entry_id)
            return
        sink = self._progress_sink(call) if call.progress_token is not None else None
        # Only a handler that takes a context can log or announce.
        call_log = None if job.context_param is None else self._call_log(call)
        outcome, overrun = await self._runner.run(
            job,
            call,
            timeout_s=min(job.limit_s, remaining_s),
            progress_sink=sink,
            cancel_flag=cancel_flag,
            call_log=call_log,
            announce=None if job.context_param is None else self._announcer(),
            inputs=None if job.context_param is None else self._inputs(call),
            visibility=None if job.context_param is None else self._visibility,
        )
        if call_log is not None:
            call_log.finish()  # its last entries are queued before the reply
        if outcome is None:
            self._answer_cancelled(call, entry_id)
        else:
            self.calls_served += 1
            self._answer(call, outcome, entry_id)
        if overrun is not None:
            # The caller has its answer; this slot stays taken until the thread lets go.
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(overrun)
            log.info("call.overrun_finished")

    def _answer(
        self, call: CallMessage, outcome: Outcome | InputRequiredReply, entry_id: bytes
    ) -> None:
        reply: ResultReply | ErrorReply | InputRequiredReply
        if isinstance(outcome, bytes):
            reply = ResultReply(call.call_id, msgspec.Raw(outcome))
        elif isinstance(outcome, InputRequiredReply):
            reply = outcome
        else:
            reply = ErrorReply(call.call_id, outcome)
        self._publisher.reply(call.front_id, reply, entry_id)

    def _inputs(self, call: CallMessage) -> InputChannel:
        """How the call's handler reaches its client (ADR-0009): at 2026-07-28 through the
        answers its round brings; in the handshake era by requests sent at once, through
        the call's front, answered by its own session ("" on stdio)."""
        if call.protocol_version in MODERN_VERSIONS:
            return RetriedInputs(call.client_capabilities, call.input_responses or {})
        send = self._notifier(call.front_id)
        return LiveInputs(
            call.client_capabilities,
            self._answers,
            session_id=cancel_key_session(call.cancel_key),
            send=send,
            call_id=call.call_id,
            register=functools.partial(self._register_ask, call.deadline_ms),
        )

    async def _register_ask(self, deadline_ms: int, request_id: str, session_id: str) -> None:
        """Record a request for the client as outstanding until the call's deadline.

        Raises:
            BackendUnavailableError: Redis did not take it (the handler fails: its answer
                could not be passed on).
        """
        ttl_ms = max(int(deadline_ms - time.time() * 1000), 1)
        try:
            await self._redis.execute(
                "SET", self._keys.outstanding_ask(request_id), session_id, "PX", ttl_ms
            )
        except RedisCommandError as exc:
            raise BackendUnavailableError(f"Redis refused the request: {exc}") from None

    def _answer_cancelled(self, call: CallMessage, entry_id: bytes) -> None:
        # The front waiting for the call (if still waiting) stops, sending nothing more to
        # its client; the entry is acknowledged like any answered call.
        self.calls_cancelled += 1
        self._publisher.reply(call.front_id, CancelledReply(call.call_id), entry_id)

    def _progress_sink(self, call: CallMessage) -> ProgressSink:
        notify = self._notifier(call.front_id)

        def sink(done: float, total: float | None, message: str | None) -> None:
            notify(ProgressMessage(call.call_id, done, total, message))

        return sink

    def _call_log(self, call: CallMessage) -> CallLog:
        return CallLog(
            tool=call.tool,
            request_id=call.request_id,
            call_id=call.call_id,
            principal=_principal_name(call),
            minimum=call.log_level,
            sink=self._log_sink(call) if call.log_level is not None else None,
            per_second=self._config.log_messages_per_s,
        )

    def _log_sink(self, call: CallMessage) -> LogSink:
        notify = self._notifier(call.front_id)

        def sink(level: str, logger: str | None, data: bytes) -> None:
            notify(LogMessage(call.call_id, level, logger, msgspec.Raw(data)))

        return sink

    def _announcer(self) -> Callable[[str], None]:
        """Announce a resource change from any thread (``ctx.resource_updated``), through
        the publisher, so it goes out before the announcing call's answer."""
        if self._announce is None:
            loop = asyncio.get_running_loop()
            publisher = self._publisher
            loop_thread = threading.get_ident()

            def announce(uri: str) -> None:
                change = ChangeAnnouncement(ChangeKind.RESOURCE, uri)
                if threading.get_ident() == loop_thread:
                    publisher.announce(change)
                else:
                    loop.call_soon_threadsafe(publisher.announce, change)

            self._announce = announce
        return self._announce

    def _notifier(
        self, front_id: str
    ) -> Callable[[ProgressMessage | LogMessage | ClientRequestMessage], None]:
        """Queue a notice for ``front_id`` from any thread: a sync handler's thread hands
        it to the event loop, which owns the publisher."""
        loop = asyncio.get_running_loop()
        publisher = self._publisher
        loop_thread = threading.get_ident()

        def notify(message: ProgressMessage | LogMessage | ClientRequestMessage) -> None:
            if threading.get_ident() == loop_thread:
                # Queued now, so it is published before the reply that follows it.
                publisher.notify(front_id, message)
            else:
                loop.call_soon_threadsafe(publisher.notify, front_id, message)

        return notify

    async def _drop(self, entry_id: bytes) -> None:
        try:
            await self._redis.execute_many(
                [("XACK", self._stream, CALL_GROUP, entry_id), ("XDEL", self._stream, entry_id)]
            )
        except (BackendUnavailableError, RedisCommandError) as exc:
            log.warning("call.drop_failed", error=str(exc))


_UNKNOWN_CALLER: Final = Principal.anonymous()


def _principal_name(call: CallMessage) -> str:
    # A front that predates principals sends none: nobody vouched for the caller.
    return (call.principal or _UNKNOWN_CALLER).name


def _cancel_keys(call: CallMessage) -> list[_CancelKey]:
    keys: list[_CancelKey] = [(call.front_id, call.call_id)]
    if call.cancel_key is not None:
        keys.append(("", call.cancel_key))
    return keys
