"""Durable tasks as each protocol serves them (mcp-protocol.md 10, ADR-0011): when a
``tools/call`` becomes a task, and the ``tasks/*`` methods of both protocols, on top of
:class:`server.task_store.TaskStore`.

- **2025-11-25** (sessions negotiated at that revision only): the client decides with the
  ``task`` param, within the tool's ``execution.taskSupport``; ``tasks/get``, a blocking
  ``tasks/result``, ``tasks/list`` and ``tasks/cancel``. Unknown, expired and foreign ids are
  all -32602 "Task not found".
- **2026-07-28** (extension ``io.modelcontextprotocol/tasks``, declared per request): the
  server decides; ``tasks/get`` inlines the outcome or the outstanding ``inputRequests``,
  ``tasks/update`` takes answers and ``tasks/cancel`` acknowledges. A request without the
  extension gets -32021.

``tasks/result`` waits on the task events channel (``server/task_events.py``): an event for
its task wakes it to re-read the record, and a slow poll backs lost events up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

import msgspec
import structlog
import trio
from msgspec import UNSET, UnsetType

from proto import (
    TASKS_EXTENSION,
    ClientResponse,
    CreateTaskResultLegacy,
    InvalidParamsError,
    ListTasksParams,
    ListTasksResult,
    LocalProtocolError,
    MethodNotFoundError,
    MissingClientCapabilityError,
    Principal,
    ProtocolError,
    ResultMeta,
    TaskAcknowledgement,
    TaskCallParams,
    TaskError,
    TaskIdParams,
    TaskMetadata,
    TaskNotFoundError,
    TaskOutcomeError,
    TaskRecord,
    TaskSpec,
    TaskStatus,
    TaskSupport,
    TaskUpdateParams,
    decode_params,
    input_responses,
    legacy_task,
    legacy_task_input_request,
    legacy_task_result,
    modern_task,
    parse_task_ask_id,
    supports_tasks,
    task_answer,
)
from server.audit_log import Requester
from server.task_events import TaskEvents
from server.task_store import TaskStore
from server.tool_catalog import CatalogTool

__all__ = ["TaskCall", "TaskMethods", "task_mode"]

log = structlog.get_logger()

_encoder: Final = msgspec.json.Encoder()
_json: Final = msgspec.json.Decoder()
_id_params: Final = msgspec.json.Decoder(TaskIdParams)
_update_params: Final = msgspec.json.Decoder(TaskUpdateParams)
_list_params: Final = msgspec.json.Decoder(ListTasksParams)
_task_metadata: Final = msgspec.json.Decoder(TaskMetadata)
_call_params: Final = msgspec.json.Decoder(TaskCallParams)

_RETRYABLE_MAX_ATTEMPTS: Final = 3
"""Runs at most of a task whose tool is idempotent (a run lost with its worker is retried)."""

_BACKSTOP_POLL_S: Final = 1.5
"""How often ``tasks/result`` re-reads the record without an event (events may be lost)."""
_SETTLE_POLL_S: Final = 0.02

LEGACY_TASKS_CAPABILITY: Final[dict[str, object]] = {
    "list": {},
    "cancel": {},
    "requests": {"tools": {"call": {}}},
}
"""The 2025-11-25 ``capabilities.tasks`` (mcp-protocol.md 10.1)."""

_EXTENSION_REQUIRED: Final[dict[str, object]] = {
    "requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}
}


class TaskCall(msgspec.Struct, frozen=True, kw_only=True):
    """A ``tools/call`` that becomes a task: what to run and for whom.

    Attributes:
        tool: the tool (its arguments already checked).
        arguments: the validated arguments (a JSON object).
        version: the request's protocol version.
        principal: who asked.
        owner: the ownership key (``TaskSpec.owner_of``).
        request_id: the creating request's id at this front.
        requested_ttl_ms: the retention the client asked for (2025-11-25), if any.
        idempotency_key: the client's ``_meta["mcpfleet/idempotencyKey"]``, if any.
        client_capabilities: what the client can answer (``ClientCapability`` flags):
            what the task's handler may ask it.
        client: the caller's address ("" when none), keying an anonymous caller's
            limits (ADR-0017).
    """

    tool: CatalogTool
    arguments: bytes
    version: str
    principal: Principal
    owner: str
    request_id: str
    requested_ttl_ms: int | None = None
    idempotency_key: str | None = None
    client_capabilities: int = 0
    client: str = ""


def _send_input_requests(
    record: TaskRecord, notify: Callable[[bytes], None], sent: set[str]
) -> None:
    """Send ``record``'s outstanding input requests not sent on this stream yet (by the
    fields, not the status: progress reported while a request waits marks the task
    ``working`` again)."""
    for key, stored in sorted(record.input_requests.items()):
        if key in sent:
            continue
        sent.add(key)
        try:
            notify(legacy_task_input_request(record.task_id, key, stored))
        except msgspec.MsgspecError:
            log.error("task.input_request_unreadable", task_id=record.task_id, key=key)


def task_mode(
    tool: CatalogTool,
    *,
    version: str,
    task_param: object,
    extension_declared: bool,
    modern: bool,
) -> bool:
    """Whether a ``tools/call`` of ``tool`` runs as a task (True) or as a plain call.

    Args:
        tool: the tool called.
        version: the request's version.
        task_param: the 2025-11-25 ``task`` param (``UNSET`` when absent).
        extension_declared: the 2026-07-28 request declares the tasks extension.
        modern: the request is a 2026-07-28 one.

    Raises:
        MethodNotFoundError: 2025-11-25: a task asked of a forbidden tool, or a plain call
            of a tool that requires one (mcp-protocol.md 10.1); a handshake revision
            without tasks calling a tool that only runs as one.
        MissingClientCapabilityError: 2026-07-28: the tool only runs as a task and the
            request did not declare the extension (-32021, mcp-protocol.md 10.2).
    """
    support = tool.task_support
    if modern:
        if support is TaskSupport.FORBIDDEN:
            return False  # a legacy ``task`` param never makes a task at 2026-07-28
        if extension_declared:
            return True
        if support is TaskSupport.REQUIRED:
            raise MissingClientCapabilityError(
                f"Tool {tool.name!r} only runs as a task: declare the {TASKS_EXTENSION} "
                "extension in the request's clientCapabilities",
                _EXTENSION_REQUIRED,
            )
        return False
    asked = not isinstance(task_param, UnsetType) and supports_tasks(version)
    if asked and support is TaskSupport.FORBIDDEN:
        raise MethodNotFoundError(f"Tool {tool.name!r} does not run as a task")
    if not asked and support is TaskSupport.REQUIRED:
        raise MethodNotFoundError(f"Tool {tool.name!r} only runs as a task")
    return asked


class TaskMethods:
    """The task methods of both protocols for one front.

    Args:
        store: where tasks are.
        meta: the ``_meta`` stamped on 2026-07-28 results.
        result_wait_s: how long 2025-11-25 ``tasks/result`` waits for a task to end (the
            longest tool timeout plus the reply grace).
        page_size: most tasks on one ``tasks/list`` page.
        input_grace_s: how long a call creating a task of an ``input_before_task`` tool
            waits for it to ask for input or end (2026-07-28).
        events: the front's task events (``tasks/result`` wakes on them).
    """

    def __init__(
        self,
        store: TaskStore,
        *,
        meta: ResultMeta,
        result_wait_s: float,
        page_size: int,
        events: TaskEvents,
        input_grace_s: float = 0.3,
    ) -> None:
        self._store = store
        self._events = events
        self._meta = meta
        self._result_wait_s = result_wait_s
        self._page_size = page_size
        self._input_grace_s = input_grace_s

    # --- creation (both protocols) ---------------------------------------------------------

    async def create(self, call: TaskCall) -> TaskRecord:
        """Create the task (durably: a read finds it once this returns), or, for a call
        whose idempotency key the owner already used, answer the task it created.

        Raises:
            LimitExceededError: a limit refused it (ADR-0017); nothing was created.
            InvalidParamsError: the key was used for another tool or other arguments.
            BackendUnavailableError: Redis did not take it.
        """
        tool = call.tool
        spec = TaskSpec(
            tool=tool.name,
            arguments=msgspec.Raw(call.arguments),
            protocol_version=call.version,
            principal=call.principal,
            owner=call.owner,
            request_id=call.request_id,
            retryable=tool.retryable,
            max_attempts=_RETRYABLE_MAX_ATTEMPTS if tool.retryable else 1,
            client_capabilities=call.client_capabilities,
        )
        return await self._store.create(
            spec,
            requested_ttl_ms=call.requested_ttl_ms,
            idempotency_key=call.idempotency_key,
            client=call.client,
        )

    async def create_legacy(self, call: TaskCall) -> bytes:
        """2025-11-25: the nested ``CreateTaskResult``."""
        record = await self.create(call)
        return _encoder.encode(CreateTaskResultLegacy(task=legacy_task(record)))

    async def create_modern(self, call: TaskCall) -> bytes:
        """2026-07-28: the flat ``CreateTaskResult`` (``resultType: "task"``)."""
        return self.created_modern(await self.create(call))

    def created_modern(self, record: TaskRecord) -> bytes:
        """2026-07-28: the flat ``CreateTaskResult`` of ``record``."""
        return _encoder.encode(modern_task(record, result_type="task", meta=self._meta))

    async def settle(self, task_id: str, owner: str) -> TaskRecord:
        """The task once it asks for input or ends, or as it stands after the input grace
        (``input_before_task`` tools, 2026-07-28). Polls the record every 20 ms: the grace
        is short, and only such tools wait.

        Raises:
            TaskNotFoundError: no such task for this owner.
        """
        record = await self._store.get(task_id, owner)
        with trio.move_on_after(self._input_grace_s):
            while not record.terminal and not (
                record.status is TaskStatus.INPUT_REQUIRED and record.input_requests
            ):
                await trio.sleep(_SETTLE_POLL_S)
                record = await self._store.get(task_id, owner)
        return record

    async def answer(self, task_id: str, owner: str, answers: dict[str, msgspec.Raw]) -> int:
        """Apply answers to the task's outstanding input requests (others are ignored).

        Raises:
            TaskNotFoundError: no such task for this owner.
        """
        return await self._store.answer(
            task_id, owner, {key: task_answer(bytes(answer)) for key, answer in answers.items()}
        )

    async def tool_of(self, params: msgspec.Raw, owner: str) -> str | None:
        """The tool of the task a ``tasks/*`` request names, if ``owner`` owns it (None
        otherwise: the request then fails as for an unknown task).

        Raises:
            InvalidParamsError: no ``taskId`` (-32602).
        """
        return await self._store.tool_of(decode_params(params, _id_params).task_id, owner)

    @staticmethod
    def requested_ttl_ms(task_param: object) -> int | None:
        """The ``ttl`` of a 2025-11-25 ``task`` param (None: absent or null).

        Raises:
            InvalidParamsError: the param is not a task metadata object (-32602).
        """
        if isinstance(task_param, UnsetType):
            return None
        metadata = decode_params(msgspec.Raw(_encoder.encode(task_param)), _task_metadata)
        ttl = metadata.ttl
        return None if ttl is None or isinstance(ttl, UnsetType) else ttl

    @staticmethod
    def idempotency_key(params: msgspec.Raw) -> str | None:
        """The ``_meta["mcpfleet/idempotencyKey"]`` of a ``tools/call`` that becomes a task,
        in either protocol (None: absent).

        Raises:
            InvalidParamsError: not a string of 1 to ``IDEMPOTENCY_KEY_MAX_CHARS``
                characters (-32602).
        """
        return decode_params(params, _call_params).idempotency_key

    # --- 2025-11-25 ------------------------------------------------------------------------

    async def legacy_get(self, params: msgspec.Raw, owner: str) -> bytes:
        """``tasks/get``: the Task, flat."""
        record = await self._store.get(decode_params(params, _id_params).task_id, owner)
        return _encoder.encode(legacy_task(record))

    async def legacy_result(
        self, params: msgspec.Raw, owner: str, notify: Callable[[bytes], None] | None = None
    ) -> bytes | msgspec.Raw:
        """``tasks/result``: wait until the task ends, then its underlying result (with the
        related-task ``_meta``) or the JSON-RPC error it ended with. While it waits, the
        task's outstanding input requests go to ``notify`` (the request's stream, when the
        transport has one), each once, as JSON-RPC requests whose ids name the task and the
        request (``task_ask_id``); the client's responses reach the task through
        :meth:`answer_response` on any front (mcp-protocol.md 10.1, "Input required").

        Raises:
            TaskOutcomeError: the task's own error.
            ProtocolError: -32602 for a cancelled task (it has no result) or an unknown
                one; -32603 when it did not end in time.
        """
        task_id = decode_params(params, _id_params).task_id
        sent: set[str] = set()
        # Registered before the first read: an event published after it wakes the waiter.
        with self._events.waiter(task_id) as waiter:
            record = await self._store.get(task_id, owner)
            with trio.move_on_after(self._result_wait_s):
                while not record.terminal:
                    if notify is not None:
                        _send_input_requests(record, notify, sent)
                    await waiter.wait(_BACKSTOP_POLL_S)
                    record = await self._store.get(task_id, owner)
        if not record.terminal:
            raise ProtocolError(
                f"Task {task_id} has not ended after {self._result_wait_s:g} s: "
                "ask tasks/get, then tasks/result again"
            )
        outcome = legacy_task_result(record)
        if isinstance(outcome, bytes):
            return msgspec.Raw(outcome)
        if isinstance(outcome, TaskError):
            data = (
                None if isinstance(outcome.data, UnsetType) else msgspec.json.decode(outcome.data)
            )
            raise TaskOutcomeError(outcome.message, data, code=outcome.code)
        if record.status is TaskStatus.CANCELLED:
            raise InvalidParamsError(f"Task {task_id} was cancelled: it has no result")
        raise LocalProtocolError(f"task {task_id} ended {record.status} without an outcome")

    async def answer_response(self, response: ClientResponse, owner: str) -> bool:
        """2025-11-25: a client's response to a task's input request (its id names the task
        and the request, ``task_ask_id``), taken for the task when ``owner`` owns it and
        the request is outstanding; any other response is dropped.

        Returns:
            Whether the answer was taken.

        Raises:
            BackendUnavailableError: Redis did not answer.
        """
        named = parse_task_ask_id(response.id)
        if named is None:
            return False
        task_id, key = named
        try:
            taken = await self._store.answer(task_id, owner, {key: response.outcome()})
        except TaskNotFoundError:
            return False  # unknown, expired or another owner's: alike, and not answered
        return taken > 0

    async def legacy_list(self, params: msgspec.Raw, owner: str) -> bytes:
        """``tasks/list``: the caller's tasks, oldest first, paged."""
        cursor = decode_params(params, _list_params).cursor
        page = await self._store.list_page(
            owner, None if isinstance(cursor, UnsetType) else cursor, page_size=self._page_size
        )
        return _encoder.encode(
            ListTasksResult(
                tasks=[legacy_task(record) for record in page.records],
                next_cursor=UNSET if page.next_cursor is None else page.next_cursor,
            )
        )

    async def legacy_cancel(self, params: msgspec.Raw, owner: str, requester: Requester) -> bytes:
        """``tasks/cancel``: the Task, already ``cancelled``; an ended task is -32602.
        Audited (:meth:`_cancel`)."""
        task_id = decode_params(params, _id_params).task_id
        moved, record = await self._cancel(task_id, owner, requester)
        task = legacy_task(record)
        if not moved:
            raise InvalidParamsError(
                f"Cannot cancel task: already in terminal status '{task.status}'"
            )
        return _encoder.encode(task)

    # --- 2026-07-28 (the extension) --------------------------------------------------------

    async def modern_get(self, params: msgspec.Raw, owner: str) -> bytes:
        """``tasks/get``: the DetailedTask, its result or error inline once ended."""
        record = await self._store.get(decode_params(params, _id_params).task_id, owner)
        return self._encode_detailed(record, "complete")

    async def modern_update(self, params: msgspec.Raw, owner: str) -> bytes:
        """``tasks/update``: the answers to outstanding input requests are taken, answers
        to other keys ignored (mcp-protocol.md 10.2); the task must exist.

        Raises:
            InvalidParamsError: ``inputResponses`` is not an object of objects (-32602).
            TaskNotFoundError: no such task for this owner.
        """
        update = decode_params(params, _update_params)
        answers = input_responses(update.input_responses)
        await self.answer(update.task_id, owner, answers)
        return self._acknowledgement()

    async def modern_cancel(self, params: msgspec.Raw, owner: str, requester: Requester) -> bytes:
        """``tasks/cancel``: acknowledged, also for a task that has ended (idempotent).
        Audited (:meth:`_cancel`)."""
        await self._cancel(decode_params(params, _id_params).task_id, owner, requester)
        return self._acknowledgement()

    async def _cancel(
        self, task_id: str, owner: str, requester: Requester
    ) -> tuple[bool, TaskRecord]:
        """``TaskStore.cancel``, with one ``task.cancel_requested`` audit line naming the
        task's tool (when it was found) and how it ended: ``cancelled``, ``already_ended``,
        ``not_found`` (unknown, expired or another owner's: the trail sees the probe the
        client cannot, and no tool), or ``error``."""
        outcome, tool = "error", ""
        try:
            moved, record = await self._store.cancel(task_id, owner)
        except TaskNotFoundError:
            outcome = "not_found"
            raise
        else:
            # The record the cancel read anyway names the tool: no round trip of its own.
            outcome, tool = "cancelled" if moved else "already_ended", record.tool
            return moved, record
        finally:
            requester.audit("task.cancel_requested", tool=tool, task_id=task_id, outcome=outcome)

    @staticmethod
    def require_extension(declared: bool, method: str) -> None:
        """A 2026-07-28 ``tasks/*`` request must declare the extension itself.

        Raises:
            MissingClientCapabilityError: it did not (-32021, mcp-protocol.md 10.2).
        """
        if not declared:
            raise MissingClientCapabilityError(
                f"{method} needs the {TASKS_EXTENSION} extension in the request's "
                "clientCapabilities",
                _EXTENSION_REQUIRED,
            )

    def _encode_detailed(
        self, record: TaskRecord, result_type: Literal["task", "complete"]
    ) -> bytes:
        return _encoder.encode(modern_task(record, result_type=result_type, meta=self._meta))

    def _acknowledgement(self) -> bytes:
        return _encoder.encode(TaskAcknowledgement(result_type="complete", meta=self._meta))
