"""Durable tasks (ADR-0011, mcp-protocol.md 10): the one task record kept in Redis, and the
two protocols' views of it.

The record is neutral: a tool that ran and returned ``isError: true`` is stored
``completed`` with ``is_error``; the 2025-11-25 view shows it ``failed`` (that revision's
rule) and the 2026-07-28 view ``completed`` (the extension's). The record is a Redis hash
whose fields are :class:`TaskField`; :class:`TaskRecord` is its decoded form.

- **2025-11-25** (experimental core tasks): a task-augmented ``tools/call`` (``task``
  param) answers ``{"task": Task}``; ``tasks/get`` the Task flat; ``tasks/result`` the
  underlying result or error with the related-task ``_meta``; ``tasks/list``;
  ``tasks/cancel`` the Task already ``cancelled``. Times: ``ttl`` / ``pollInterval``.
- **2026-07-28** (extension ``io.modelcontextprotocol/tasks``): a flat ``CreateTaskResult``
  (``resultType: "task"``); ``tasks/get`` with the result or error inline; ``tasks/cancel``
  an empty acknowledgement. Times: ``ttlMs`` / ``pollIntervalMs``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Annotated, Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from proto.jsonrpc import encode_notification, encode_request
from proto.lifecycle import ModernMeta, ResultMeta
from proto.mcp_struct import JsonObject, McpStruct
from proto.methods import NOTIFICATION_TASKS_STATUS
from proto.principal import Principal

__all__ = [
    "IDEMPOTENCY_KEY",
    "IDEMPOTENCY_KEY_MAX_CHARS",
    "RELATED_TASK_KEY",
    "RETENTION_SLIDE_DIVISOR",
    "TASKS_EXTENSION",
    "TASK_ANSWER_PREFIX",
    "TASK_ASK_ID_PREFIX",
    "TASK_JOB_FUNCTION",
    "TASK_REQUEST_PREFIX",
    "TERMINAL_STATUSES",
    "CreateTaskResultLegacy",
    "LegacyTask",
    "ListTasksParams",
    "ListTasksResult",
    "ModernTask",
    "TaskAcknowledgement",
    "TaskCallParams",
    "TaskError",
    "TaskField",
    "TaskIdParams",
    "TaskJobSerializer",
    "TaskMetadata",
    "TaskRecord",
    "TaskSpec",
    "TaskStatus",
    "TaskSupport",
    "TaskUpdateParams",
    "declares_tasks_extension",
    "decode_task_record",
    "decode_task_spec",
    "encode_task_spec",
    "input_requests_object",
    "iso_time",
    "legacy_task",
    "legacy_task_input_request",
    "legacy_task_result",
    "legacy_task_status_notification",
    "modern_task",
    "parse_task_ask_id",
    "retention_slide_due",
    "task_answer",
    "task_ask_id",
]

TASKS_EXTENSION: Final = "io.modelcontextprotocol/tasks"
"""The 2026-07-28 extension's id: in ``capabilities.extensions`` of ``server/discover``, and
in a request's ``clientCapabilities.extensions`` when the client takes tasks for it."""

RELATED_TASK_KEY: Final = "io.modelcontextprotocol/related-task"
"""The 2025-11-25 ``_meta`` key tying a message to its task: ``{"taskId": ...}``."""

IDEMPOTENCY_KEY: Final = "mcpfleet/idempotencyKey"
"""The ``_meta`` key of a task-creating ``tools/call`` naming the client's idempotency key
(docs/tasks.md): a resubmission with the same key by the same owner is answered with the
task the first one created. Read only when a call becomes a task; ignored otherwise."""

IDEMPOTENCY_KEY_MAX_CHARS: Final = 200
"""The longest idempotency key taken (a longer one, or an empty one, is -32602)."""


TASK_JOB_FUNCTION: Final = "workers.task_lane.run_task"
"""What every task's rq job calls, with the task id as its one argument (ADR-0011): the
job only names the task; what to run is in the task's record."""


TASK_REQUEST_PREFIX: Final = "request:"
"""A task record's field ``request:<key>`` holds an outstanding input request of the task,
``{"method", "params"}`` as JSON; it goes when the client answers it (ADR-0011)."""

TASK_ANSWER_PREFIX: Final = "answer:"
"""A task record's field ``answer:<key>`` holds the client's answer to the request ``key``
as a JSON-RPC response without its envelope (``{"result": ...}`` or ``{"error": ...}``,
:func:`task_answer`), where the task's handler finds it."""

TASK_ASK_ID_PREFIX: Final = "mcpfleet-task-"
"""Starts the JSON-RPC id of a 2025-11-25 task's input request, sent on its ``tasks/result``
stream: ``<prefix><task id>:<key>`` (:func:`task_ask_id`). The client's response thus names
the task and the request it answers, on whichever front it lands; that front checks the
responder owns the task, and ``TASK_ANSWER`` takes only outstanding requests."""


class TaskJobSerializer:
    """rq's serializer for task jobs: JSON through msgspec, so Redis never holds a pickle
    (rq calls ``dumps``/``loads`` on its job data and results)."""

    _encoder: Final = msgspec.json.Encoder()
    _decoder: Final = msgspec.json.Decoder()

    @classmethod
    def dumps(cls, obj: object) -> bytes:
        return cls._encoder.encode(obj)

    @classmethod
    def loads(cls, data: bytes | str) -> object:
        return cls._decoder.decode(data)


class TaskStatus(enum.StrEnum):
    """Where a task is (mcp-protocol.md 10.3); the last three never change again."""

    WORKING = "working"
    INPUT_REQUIRED = "input_required"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_STATUSES: Final = frozenset(status.value for status in TaskStatus)

TERMINAL_STATUSES: Final = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
)


class TaskSupport(enum.StrEnum):
    """A tool's ``execution.taskSupport``, declared by its author."""

    FORBIDDEN = "forbidden"
    """Never a task (the default)."""
    OPTIONAL = "optional"
    """A task when the client asks for one (2025-11-25) or declared the extension
    (2026-07-28); otherwise a plain call."""
    REQUIRED = "required"
    """Only ever a task: a plain call is refused."""


class TaskField(enum.StrEnum):
    """The fields of a task's Redis hash (``Keyspace.task``). Every value is a string."""

    STATUS = "status"
    """A :class:`TaskStatus`; only ``TASK_TRANSITION`` writes it after creation."""
    MESSAGE = "message"
    """The ``statusMessage``, if any."""
    CREATED_MS = "created"
    UPDATED_MS = "updated"
    TTL_MS = "ttl"
    """Retention from creation, in ms (the record and its result expire then)."""
    SLID_MS = "slid"
    """When the retention last slid (ms): set at creation, refreshed by a read that slides
    it (:func:`retention_slide_due`)."""
    POLL_MS = "poll"
    """The suggested polling interval, in ms."""
    OWNER = "owner"
    """Who may see the task: :meth:`TaskSpec.owner` of its creator."""
    SPEC = "spec"
    """The encoded :class:`TaskSpec`: what to run, written once at creation."""
    ATTEMPTS = "attempts"
    """How many times a worker started it."""
    WORKER = "worker"
    """The task thread (``<worker id>-task-<n>``) that runs (or last ran) it."""
    OUTCOME = "outcome"
    """Once ended with an answer: ``{"result": ...}`` or ``{"error": {...}}``."""
    IS_ERROR = "is_error"
    """``"1"`` when the result is a tool error (``isError: true``)."""
    PROGRESS = "progress"
    """The latest progress report, ``{"progress": n, "total"?: n, "message"?: s}``."""
    CANCEL_REQUESTED = "cancel"
    """``"1"`` once a client asked to cancel."""


class TaskSpec(msgspec.Struct, frozen=True, array_like=True):
    """What a task runs and for whom: written once, read by the worker that runs it.

    Attributes:
        tool: the tool's name.
        arguments: the validated arguments (JSON object).
        protocol_version: the version of the request that created it (results are
            rendered for it).
        principal: who created it.
        owner: the ownership key compared on every access (see :meth:`owner_of`).
        request_id: the creating request's id at its front (log correlation).
        retryable: the tool is idempotent: a run lost with its worker may be retried.
        max_attempts: how many runs at most.
        client_capabilities: what the creating request's client can answer
            (``ClientCapability`` flags): what the task's handler may ask it.
    """

    tool: str
    arguments: msgspec.Raw
    protocol_version: str
    principal: Principal
    owner: str
    request_id: str
    retryable: bool = False
    max_attempts: int = 1
    client_capabilities: int = 0

    @staticmethod
    def owner_of(principal: Principal, connection: str = "") -> str:
        """The ownership key of tasks ``principal`` creates. A bearer principal's tasks are
        its own whatever the session or era it uses (its identity: issuer and subject,
        ADR-0016); otherwise they belong to its name, its handshake-era session, and on
        stdio the connection (``connection``): without a verified subject, tasks do not
        outlive the scope that made them."""
        if principal.is_bearer:
            return principal.identity
        return f"{principal.name}|{principal.session_id}|{connection}"


_spec_decoder: Final = msgspec.json.Decoder(TaskSpec)
_encoder: Final = msgspec.json.Encoder()


class _SpecHead(msgspec.Struct, frozen=True, array_like=True):
    """A :class:`TaskSpec`'s first field only (the rest, arguments included, is skipped)."""

    tool: str


_spec_head_decoder: Final = msgspec.json.Decoder(_SpecHead)


def encode_task_spec(spec: TaskSpec) -> bytes:
    """The ``spec`` field of a task's record."""
    return _encoder.encode(spec)


def decode_task_spec(data: bytes) -> TaskSpec:
    """Raises: msgspec.MsgspecError for garbage."""
    return _spec_decoder.decode(data)


class TaskRecord(msgspec.Struct, frozen=True):
    """A task's hash, decoded (:func:`decode_task_record`)."""

    task_id: str
    status: TaskStatus
    created_ms: int
    updated_ms: int
    ttl_ms: int
    poll_ms: int
    owner: str
    message: str | None = None
    attempts: int = 0
    outcome: bytes | None = None
    is_error: bool = False
    cancel_requested: bool = False
    input_requests: dict[str, bytes] = msgspec.field(default_factory=dict)
    """The outstanding input requests by key (``{"method", "params"}`` JSON each)."""
    tool: str = ""
    """The tool it runs (its spec's); "" when the spec is unreadable."""
    slid_ms: int = 0
    """When the retention last slid (0: never recorded, as in records written before)."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


RETENTION_SLIDE_DIVISOR: Final = 8
"""A client's read slides a task's retention once at least ``ttl / 8`` passed since the last
slide, so a task read at any time has at least 7/8 of its ``ttl`` left, and a client polling
fast costs one ``HGETALL`` a poll rather than three commands (ADR-0020)."""


def retention_slide_due(record: TaskRecord, now_ms: int) -> bool:
    """Whether a read at ``now_ms`` should slide ``record``'s retention."""
    return now_ms - record.slid_ms >= record.ttl_ms // RETENTION_SLIDE_DIVISOR


def _text(fields: Mapping[bytes, bytes], field: TaskField) -> str | None:
    value = fields.get(field.value.encode())
    return None if value is None else value.decode()


def _int(fields: Mapping[bytes, bytes], field: TaskField) -> int:
    value = fields.get(field.value.encode())
    return int(value) if value else 0


def decode_task_record(task_id: str, fields: Mapping[bytes, bytes]) -> TaskRecord | None:
    """The record of an ``HGETALL`` reply; None when the hash is gone (expired, never
    existed) or not a task's."""
    status = _text(fields, TaskField.STATUS)
    owner = _text(fields, TaskField.OWNER)
    if status is None or status not in _STATUSES or owner is None:
        return None
    outcome = fields.get(TaskField.OUTCOME.value.encode())
    prefix = TASK_REQUEST_PREFIX.encode()
    requests = {
        name[len(prefix) :].decode(): value
        for name, value in fields.items()
        if name.startswith(prefix)
    }
    return TaskRecord(
        task_id=task_id,
        status=TaskStatus(status),
        created_ms=_int(fields, TaskField.CREATED_MS),
        updated_ms=_int(fields, TaskField.UPDATED_MS),
        ttl_ms=_int(fields, TaskField.TTL_MS),
        poll_ms=_int(fields, TaskField.POLL_MS),
        owner=owner,
        message=_text(fields, TaskField.MESSAGE) or None,
        attempts=_int(fields, TaskField.ATTEMPTS),
        outcome=outcome or None,
        is_error=fields.get(TaskField.IS_ERROR.value.encode()) == b"1",
        cancel_requested=fields.get(TaskField.CANCEL_REQUESTED.value.encode()) == b"1",
        input_requests=requests,
        tool=_tool(fields.get(TaskField.SPEC.value.encode())),
        slid_ms=_int(fields, TaskField.SLID_MS),
    )


def _tool(spec: bytes | None) -> str:
    if not spec:
        return ""
    try:
        return _spec_head_decoder.decode(spec).tool
    except msgspec.MsgspecError:
        return ""


def iso_time(ms: int) -> str:
    """ISO 8601 UTC with milliseconds and ``Z`` (``createdAt``, ``lastUpdatedAt``), from
    epoch milliseconds; integer arithmetic only (proto reads no clock and imports no
    ``datetime``): days to a civil date by Howard Hinnant's algorithm."""
    days, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    z = days + 719_468
    era = z // 146_097
    day_of_era = z - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    return f"{year:04d}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


# --- wire shapes ------------------------------------------------------------------------------


class TaskMetadata(McpStruct, frozen=True):
    """The 2025-11-25 ``task`` param of a task-augmented request."""

    ttl: int | UnsetType | None = UNSET


_IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=IDEMPOTENCY_KEY_MAX_CHARS)]


class _TaskCallMeta(msgspec.Struct, frozen=True):
    idempotency_key: _IdempotencyKey | UnsetType = msgspec.field(
        default=UNSET, name=IDEMPOTENCY_KEY
    )


class TaskCallParams(msgspec.Struct, frozen=True):
    """What a task-creating ``tools/call`` carries beyond a plain one, in either protocol:
    the client's idempotency key in ``_meta`` (other fields are skipped)."""

    meta: _TaskCallMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")

    @property
    def idempotency_key(self) -> str | None:
        """The key, if the call carries one."""
        if isinstance(self.meta, UnsetType) or isinstance(self.meta.idempotency_key, UnsetType):
            return None
        return self.meta.idempotency_key


class TaskIdParams(McpStruct, frozen=True):
    """``tasks/get``, ``tasks/result``, ``tasks/cancel`` params."""

    task_id: str


class TaskUpdateParams(McpStruct, frozen=True):
    """2026-07-28 ``tasks/update``: answers to a task's outstanding input requests."""

    task_id: str
    input_responses: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class ListTasksParams(McpStruct, frozen=True):
    """2025-11-25 ``tasks/list``."""

    cursor: str | UnsetType = UNSET


class LegacyTask(McpStruct, frozen=True):
    """A 2025-11-25 ``Task`` (also ``GetTaskResult`` and ``CancelTaskResult``, flat)."""

    task_id: str
    status: str
    created_at: str
    last_updated_at: str
    ttl: int | None  # no default: the key is required, null meaning unlimited
    status_message: str | UnsetType = UNSET
    poll_interval: int | UnsetType = UNSET
    meta: JsonObject | UnsetType = msgspec.field(default=UNSET, name="_meta")


class CreateTaskResultLegacy(McpStruct, frozen=True):
    """The 2025-11-25 answer to a task-augmented call: the task, nested."""

    task: LegacyTask
    meta: JsonObject | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ListTasksResult(McpStruct, frozen=True):
    """2025-11-25 ``tasks/list``: the caller's tasks, paged."""

    tasks: list[LegacyTask]
    next_cursor: str | UnsetType = UNSET


class ModernTask(McpStruct, frozen=True):
    """A 2026-07-28 task, flat: ``CreateTaskResult`` (``resultType: "task"``) or
    ``DetailedTask`` from ``tasks/get`` (``resultType: "complete"``, with ``result``,
    ``error`` or ``inputRequests`` by status)."""

    result_type: Literal["task", "complete"]
    task_id: str
    status: str
    created_at: str
    last_updated_at: str
    ttl_ms: int | None  # no default: the key is required
    status_message: str | UnsetType = UNSET
    poll_interval_ms: int | UnsetType = UNSET
    result: msgspec.Raw | UnsetType = UNSET
    error: msgspec.Raw | UnsetType = UNSET
    input_requests: msgspec.Raw | UnsetType = UNSET
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


def _message(record: TaskRecord) -> str | UnsetType:
    return UNSET if record.message is None else record.message


def legacy_task(record: TaskRecord) -> LegacyTask:
    """The 2025-11-25 view: a tool error is ``failed`` in that revision."""
    status = record.status
    if status is TaskStatus.COMPLETED and record.is_error:
        status = TaskStatus.FAILED
    return LegacyTask(
        task_id=record.task_id,
        status=status.value,
        created_at=iso_time(record.created_ms),
        last_updated_at=iso_time(record.updated_ms),
        ttl=record.ttl_ms,
        status_message=_message(record),
        poll_interval=record.poll_ms or UNSET,
    )


class _Outcome(msgspec.Struct, frozen=True):
    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    error: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_outcome_decoder: Final = msgspec.json.Decoder(_Outcome)


def legacy_task_status_notification(task: LegacyTask) -> bytes:
    """The 2025-11-25 ``notifications/tasks/status``: the Task, flat, without the
    related-task ``_meta`` (mcp-protocol.md 10.1)."""
    return encode_notification(NOTIFICATION_TASKS_STATUS, _encoder.encode(task))


def modern_task(
    record: TaskRecord,
    *,
    result_type: Literal["task", "complete"],
    meta: ResultMeta | UnsetType = UNSET,
) -> ModernTask:
    """The 2026-07-28 view; ``tasks/get`` (``result_type="complete"``) inlines the result
    of a completed task (a tool error included) or the error of a failed one, and the
    outstanding ``inputRequests`` of one waiting for input."""
    result: msgspec.Raw | UnsetType = UNSET
    error: msgspec.Raw | UnsetType = UNSET
    requests: msgspec.Raw | UnsetType = UNSET
    if (
        result_type == "complete"
        and record.status is TaskStatus.INPUT_REQUIRED
        and record.input_requests
    ):
        requests = input_requests_object(record)
    if result_type == "complete" and record.outcome is not None:
        outcome = _outcome_decoder.decode(record.outcome)
        if record.status is TaskStatus.COMPLETED and outcome.result:
            result = outcome.result
        elif record.status is TaskStatus.FAILED and outcome.error:
            error = outcome.error
    return ModernTask(
        result_type=result_type,
        task_id=record.task_id,
        status=record.status.value,
        created_at=iso_time(record.created_ms),
        last_updated_at=iso_time(record.updated_ms),
        ttl_ms=record.ttl_ms,
        status_message=_message(record),
        poll_interval_ms=record.poll_ms or UNSET,
        result=result,
        error=error,
        input_requests=requests,
        meta=meta,
    )


def input_requests_object(record: TaskRecord) -> msgspec.Raw:
    """The record's outstanding requests as an ``inputRequests`` object, key → request."""
    return msgspec.Raw(
        _encoder.encode(
            {key: msgspec.Raw(value) for key, value in sorted(record.input_requests.items())}
        )
    )


def task_answer(result: bytes) -> bytes:
    """The ``answer:<key>`` field for a client's result (2026-07-28 ``tasks/update``, an
    MRTR retry): the result in a response's place (``ClientResponse.outcome()``)."""
    return b'{"result":' + result + b"}"


def task_ask_id(task_id: str, key: str) -> str:
    """The JSON-RPC id of a 2025-11-25 task's input request ``key`` (``TASK_ASK_ID_PREFIX``):
    the same on every send, so a request sent again on a later ``tasks/result`` is the same
    request, answered once."""
    return f"{TASK_ASK_ID_PREFIX}{task_id}:{key}"


def parse_task_ask_id(request_id: object) -> tuple[str, str] | None:
    """The task id and request key a client's response id names (:func:`task_ask_id`);
    None for any other id."""
    if not isinstance(request_id, str) or not request_id.startswith(TASK_ASK_ID_PREFIX):
        return None
    task_id, colon, key = request_id[len(TASK_ASK_ID_PREFIX) :].partition(":")
    if not task_id or not colon or not key:
        return None
    return task_id, key


class _StoredRequest(msgspec.Struct, frozen=True):
    method: str
    params: JsonObject = msgspec.field(default_factory=dict)


_stored_request: Final = msgspec.json.Decoder(_StoredRequest)


def legacy_task_input_request(task_id: str, key: str, stored: bytes) -> bytes:
    """A 2025-11-25 task's outstanding input request (``request:<key>``, ``{"method",
    "params"}``) as the JSON-RPC request sent on the task's ``tasks/result`` stream, with
    the related-task ``_meta`` (mcp-protocol.md 10.1) and the id :func:`task_ask_id`.

    Raises:
        msgspec.MsgspecError: ``stored`` is not a stored request.
    """
    request = _stored_request.decode(stored)
    params = dict(request.params)
    meta = params.get("_meta")
    related: JsonObject = dict(meta) if isinstance(meta, dict) else {}
    related[RELATED_TASK_KEY] = {"taskId": task_id}
    params["_meta"] = related
    return encode_request(task_ask_id(task_id, key), request.method, _encoder.encode(params))


class TaskAcknowledgement(McpStruct, frozen=True):
    """2026-07-28 ``tasks/update`` and ``tasks/cancel``: the empty acknowledgement."""

    result_type: Literal["complete"]
    meta: ResultMeta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class TaskError(msgspec.Struct, frozen=True, omit_defaults=True):
    """The JSON-RPC error a task ended with (the ``error`` of its outcome)."""

    code: int
    message: str
    data: msgspec.Raw | UnsetType = UNSET


_error_decoder: Final = msgspec.json.Decoder(TaskError)
_object_decoder: Final = msgspec.json.Decoder(JsonObject)


def legacy_task_result(record: TaskRecord) -> bytes | TaskError | None:
    """What 2025-11-25 ``tasks/result`` answers for an ended task (mcp-protocol.md 10.1):
    the underlying result with ``_meta[RELATED_TASK_KEY] = {"taskId": ...}`` (a tool error
    included), or the JSON-RPC error it ended with; None when it ended without an answer
    (cancelled, or a record without an outcome)."""
    if record.outcome is None:
        return None
    outcome = _outcome_decoder.decode(record.outcome)
    if outcome.result:
        result = _object_decoder.decode(outcome.result)
        meta = result.get("_meta")
        related: JsonObject = dict(meta) if isinstance(meta, dict) else {}
        related[RELATED_TASK_KEY] = {"taskId": record.task_id}
        result["_meta"] = related
        return _encoder.encode(result)
    if outcome.error:
        return _error_decoder.decode(outcome.error)
    return None


def declares_tasks_extension(meta: ModernMeta | UnsetType) -> bool:
    """Whether a 2026-07-28 request's envelope declares the tasks extension
    (``clientCapabilities.extensions["io.modelcontextprotocol/tasks"]``, mcp-protocol.md
    10.2): declared per request, never remembered."""
    if isinstance(meta, UnsetType) or isinstance(meta.client_capabilities, UnsetType):
        return False
    extensions = meta.client_capabilities.get("extensions")
    return isinstance(extensions, dict) and TASKS_EXTENSION in extensions
