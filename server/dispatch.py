"""Transport-neutral request handling for both protocol eras.

A transport decodes one message, picks the era and calls :meth:`Dispatcher.handshake` or
:meth:`Dispatcher.modern`; either returns the encoded ``result`` object or raises a
``ProtocolError`` that the transport renders with the request id.

About 1000 lines, one handler per method of both eras in one class on purpose: they share
the catalog, the call queue and the identity stamp, and their tables (``_HANDSHAKE_METHODS``,
``_MODERN_METHODS``) are the one place that says what each era serves. What stands alone
lives elsewhere: the catalogs (listings, argument checks, completion targets), the log
level and subscription stores, the call queue, durable tasks (``server/task_methods.py``:
the ``tasks/*`` handlers here only pick the protocol's method and the caller's owner).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import msgspec
import structlog
from msgspec import UNSET, UnsetType

from proto import (
    ALL_VERSIONS,
    COMPLETION_COMPLETE,
    INITIALIZE,
    LOGGING_SET_LEVEL,
    MODERN_VERSIONS,
    NOTIFICATION_CANCELLED,
    NOTIFICATION_PROGRESS,
    PING,
    PROMPTS_GET,
    PROMPTS_LIST,
    RESOURCES_LIST,
    RESOURCES_READ,
    RESOURCES_SUBSCRIBE,
    RESOURCES_TEMPLATES_LIST,
    RESOURCES_UNSUBSCRIBE,
    SERVER_DISCOVER,
    SUBSCRIPTIONS_LISTEN,
    TASKS_CANCEL,
    TASKS_EXTENSION,
    TASKS_GET,
    TASKS_LIST,
    TASKS_RESULT,
    TASKS_UPDATE,
    TOOLS_CALL,
    TOOLS_LIST,
    ArgumentLimits,
    CallKind,
    CallToolParams2025,
    CallToolParams2026,
    CancelledParams,
    ClientRequestMessage,
    ClientResponse,
    CompleteParams,
    CompleteResult,
    Completion,
    CompletionArguments,
    CompletionsCapability,
    DiscoverResult,
    ForbiddenError,
    GetPromptParams,
    HeaderMismatchError,
    InitializeParams,
    InitializeResult,
    InputRequiredReply,
    InvalidParamsError,
    LegacyMeta,
    ListenParams,
    ListToolsParams,
    LocalProtocolError,
    LogMessage,
    MethodNotFoundError,
    MissingClientCapabilityError,
    ModernMeta,
    ModernParams,
    Notification,
    Principal,
    ProgressMessage,
    ProgressParams,
    PromptsCapability,
    ProtocolError,
    ReadResourceParams,
    Request,
    RequestBinding,
    RequestOutcome,
    ResourceReadArguments,
    ResourcesCapability,
    ResultMeta,
    ResultReply,
    ServerCapabilities,
    SetLevelParams,
    SubscribeParams,
    Subscription,
    TaskSpec,
    TaskStatus,
    TextContent,
    ToolsCapability,
    build_call_result,
    capability_flags,
    declares_tasks_extension,
    decode_params,
    encode_call_arguments,
    encode_notification,
    encode_request,
    implementation_for_version,
    input_requests_object,
    is_client_request_id,
    log_notification,
    negotiate_handshake_version,
    param_header_mismatch,
    parse_task_ask_id,
    request_cancel_key,
    require_log_level,
    required_capabilities,
    resource_not_found,
    supports_tasks,
    validation_failure_is_tool_error,
)
from server.audit_log import Requester
from server.call_queue import IDEMPOTENT_CALL_MAX_RUNS, CallQueue
from server.catalog_visibility import CatalogVisibility
from server.input_rounds import InputRounds, RoundInputs
from server.log_level_setting import LogLevelSetting
from server.metrics import FrontMetrics, request_outcome
from server.reply_router import ClientRequestSink, LogSink, ProgressSink
from server.resource_subscriptions import ResourceSubscriptions
from server.task_methods import LEGACY_TASKS_CAPABILITY, TaskCall, TaskMethods, task_mode
from server.tool_catalog import CatalogTool, ToolCatalog

__all__ = ["SERVED_METHODS", "Dispatcher", "NotificationSink"]

log = structlog.get_logger()

_encoder: Final = msgspec.json.Encoder()
_initialize_params: Final = msgspec.json.Decoder(InitializeParams)
_modern_params: Final = msgspec.json.Decoder(ModernParams)
_call_params_2025: Final = msgspec.json.Decoder(CallToolParams2025)
_call_params_2026: Final = msgspec.json.Decoder(CallToolParams2026)
_list_params: Final = msgspec.json.Decoder(ListToolsParams)
_cancelled_params: Final = msgspec.json.Decoder(CancelledParams)
_listen_params: Final = msgspec.json.Decoder(ListenParams)
_set_level_params: Final = msgspec.json.Decoder(SetLevelParams)
_read_params: Final = msgspec.json.Decoder(ReadResourceParams)
_prompt_params: Final = msgspec.json.Decoder(GetPromptParams)
_complete_params: Final = msgspec.json.Decoder(CompleteParams)
_subscribe_params: Final = msgspec.json.Decoder(SubscribeParams)
_EMPTY_RESULT: Final = b"{}"
_EMPTY_ARGUMENTS: Final = b"{}"
_FIRST_TOKEN: Final = re.compile(rb"[ \t\r\n]*(.)", re.S)
_ANONYMOUS: Final = Principal.anonymous()
_NO_TOOLS: Final[frozenset[str]] = frozenset()


class Dispatcher:
    """Answers requests from the tool catalog and the call queue.

    Args:
        catalog: the tools served.
        calls: where ``tools/call`` goes.
        list_ttl_ms: the cache hint on 2026-07-28 discover results.
        input_rounds: seals and opens the ``requestState`` of 2026-07-28 requests whose
            handlers ask the client for input (ADR-0009).
        visibility: keeps the catalog's items on and off as the fleet says (ADR-0010).
        tasks: serves durable tasks (ADR-0011); None when the app has no tool that runs
            as one (tasks are then neither advertised nor served).
        metrics: counts and times every request served (``handshake``, ``modern``,
            ``initialize`` and ``subscribe``), whatever its transport.
        argument_limits: the bounds a ``tools/call``'s arguments must keep (ADR-0018),
            checked before the tool's own schema.

    Attributes:
        requests_inflight: requests in ``handshake`` or ``modern`` now (a plain int for
            this front's load record, ``server/front_load.py``).
    """

    def __init__(
        self,
        catalog: ToolCatalog,
        calls: CallQueue,
        *,
        list_ttl_ms: int,
        input_rounds: InputRounds,
        visibility: CatalogVisibility,
        metrics: FrontMetrics,
        argument_limits: ArgumentLimits,
        tasks: TaskMethods | None = None,
    ) -> None:
        self._catalog = catalog
        self._argument_limits = argument_limits
        self._metrics = metrics
        self._calls = calls
        self._rounds = input_rounds
        self._visibility = visibility
        self._tasks = tasks if catalog.has_task_tools else None
        self._meta = ResultMeta(server_info=catalog.server_info)
        capabilities = _capabilities(catalog)
        self._capabilities = capabilities
        discovered = capabilities
        if self._tasks is not None:
            # The extension is advertised in server/discover only (mcp-protocol.md 10.2).
            discovered = msgspec.structs.replace(capabilities, extensions={TASKS_EXTENSION: {}})
        self._discover = _encoder.encode(
            DiscoverResult(
                result_type="complete",
                supported_versions=list(ALL_VERSIONS),
                capabilities=discovered,
                ttl_ms=list_ttl_ms,
                cache_scope="public",
                meta=self._meta,
                instructions=catalog.instructions or msgspec.UNSET,
            )
        )
        self._initialize: dict[str, bytes] = {}
        self._no_completions: dict[str, bytes] = {}
        self.requests_inflight = 0

    async def handshake(
        self,
        request: Request,
        version: str,
        *,
        request_id: str,
        notify: NotificationSink | None = None,
        session_id: str | None = None,
        log_setting: LogLevelSetting | None = None,
        subscriptions: ResourceSubscriptions | None = None,
        principal: Principal | None = None,
        client_capabilities: int = 0,
        connection: str = "",
        client: str = "",
    ) -> bytes | msgspec.Raw:
        """Serve a handshake-era request; ``version`` is the session's negotiated version.

        ``notify`` receives encoded notifications related to this request (progress, when
        the request asked for it; log entries at the level in ``log_setting``) while it
        runs; a transport that cannot stream passes None. With ``session_id``, the session
        may cancel the request from any front (:meth:`handshake_notification`).
        ``log_setting`` is the session's (or connection's) ``logging/setLevel`` level, and
        ``subscriptions`` its ``resources/subscribe`` URIs. ``principal`` defaults to an
        anonymous caller bound to ``session_id``. ``client_capabilities``: what the client
        declared in ``initialize`` (``ClientCapability`` flags); a handler's requests for
        the client go to ``notify`` too. ``connection``: a per-connection id on stdio,
        scoping the tasks it creates (``TaskSpec.owner_of``). ``client``: the peer's
        address, for the audit trail.

        Raises:
            ProtocolError: the request is refused; render it with ``request.id``.
            CallCancelledError: the client cancelled it; send nothing for it.
        """
        started = time.perf_counter()
        outcome = RequestOutcome.OK
        self.requests_inflight += 1
        try:
            handler = _HANDSHAKE_METHODS.get(request.method)
            if handler is None:
                raise MethodNotFoundError(f"Method not found: {request.method}")
            if self._visibility.refreshing:
                await self._visibility.settled()  # read-your-writes (catalog_visibility.py)
            served = ServedRequest(
                request,
                version,
                request_id=request_id,
                notify=notify,
                session_id=session_id,
                log_level=None if log_setting is None else log_setting.level,
                log_setting=log_setting,
                subscriptions=subscriptions,
                principal=principal or Principal.anonymous(session_id or ""),
                client_capabilities=client_capabilities,
                connection=connection,
                client=client,
            )
            return await handler(self, served)
        except BaseException as exc:  # only to tell how it ended: re-raised
            outcome = request_outcome(exc)
            raise
        finally:
            self.requests_inflight -= 1
            self._metrics.request_served(request.method, outcome, time.perf_counter() - started)

    async def handshake_notification(self, message: Notification, *, session_id: str) -> None:
        """Act on a client notification of a handshake-era HTTP session. Notifications are
        never answered, so malformed ones are only logged (mcp-protocol.md 2.1).

        ``notifications/cancelled`` stops the session's request wherever it runs: the front
        waiting for it may be another one (mcp-protocol.md 9.2).

        Raises:
            BackendUnavailableError: Redis did not take the cancellation.
        """
        if message.method != NOTIFICATION_CANCELLED:
            return
        try:
            params = decode_params(message.params, _cancelled_params)
        except ProtocolError as exc:
            log.info("notification.ignored", method=message.method, error=exc.message)
            return
        await self._calls.cancel_request(
            request_cancel_key(session_id, params.request_id),
            within_s=self._catalog.longest_timeout_s,
        )

    async def client_response(
        self,
        message: ClientResponse,
        session_id: str,
        *,
        principal: Principal | None = None,
        connection: str = "",
    ) -> None:
        """Pass on a client's response to a request a handler sent it (handshake era), to
        the worker waiting for it wherever that is (ADR-0009), or to the task that asked
        (2025-11-25, ``tasks/result``; ADR-0011). ``session_id`` is the session it came in
        ("" on stdio): only the asking call's own may answer, and only while the request
        is outstanding; a task's request only its owner (``principal``, anonymous for the
        session by default, and ``connection`` on stdio). Other responses are ignored
        (responses are never answered).

        Raises:
            BackendUnavailableError: Redis did not take the answer.
        """
        if is_client_request_id(message.id):
            passed_on = await self._calls.answer_request(
                str(message.id), session_id, message.outcome()
            )
        elif self._tasks is not None and parse_task_ask_id(message.id) is not None:
            owner = TaskSpec.owner_of(principal or Principal.anonymous(session_id), connection)
            passed_on = await self._tasks.answer_response(message, owner)
        else:
            log.info("response.ignored", response_id=message.id)
            return
        if not passed_on:
            # Answered already, timed out, or another session's: the spec gives a response
            # no answer, so the client is not told.
            log.info("response.unexpected", response_id=message.id)

    async def initialize(self, request: Request) -> tuple[bytes, str, str, int]:
        """Answer ``initialize``: the result, the negotiated version, the client's name
        and what it can answer (``ClientCapability`` flags), for the session the
        transport opens.

        Raises:
            ProtocolError: malformed params (-32602).
        """
        started = time.perf_counter()
        try:
            init = decode_params(request.params, _initialize_params)
            version = negotiate_handshake_version(init.protocol_version)
            client = init.client_info
            name = "" if isinstance(client, msgspec.UnsetType) else client.name
            flags = capability_flags(init.capabilities)
            result = self._initialize_result(version)
        except BaseException as exc:  # only to tell how it ended: re-raised
            self._metrics.request_served(
                INITIALIZE, request_outcome(exc), time.perf_counter() - started
            )
            raise
        self._metrics.request_served(INITIALIZE, RequestOutcome.OK, time.perf_counter() - started)
        return result, version, name, flags

    async def modern(
        self,
        request: Request,
        version: str,
        params: ModernParams,
        *,
        request_id: str,
        notify: NotificationSink | None = None,
        param_headers: Mapping[str, list[str]] | None = None,
        on_long_wait: Callable[[], None] | None = None,
        principal: Principal | None = None,
        connection: str = "",
        client: str = "",
    ) -> bytes | msgspec.Raw:
        """Serve a 2026-07-28 request whose envelope and headers were already checked.

        ``notify`` as for :meth:`handshake`, log entries only at or above the envelope's
        ``io.modelcontextprotocol/logLevel`` (none without it, checklist 31).
        ``principal`` defaults to an anonymous caller. ``on_long_wait`` is called once if a
        ``tools/call`` waits long for its worker (``CallQueue.call``). ``param_headers``:
        the request's ``Mcp-Param-*`` values by lower-cased token, on HTTP (a transport
        without headers passes None); a ``tools/call`` must mirror the tool's annotated
        arguments in them. ``connection`` and ``client`` as for :meth:`handshake`.

        Raises:
            ProtocolError: the request is refused; render it with ``request.id``.
        """
        started = time.perf_counter()
        outcome = RequestOutcome.OK
        self.requests_inflight += 1
        try:
            handler = _MODERN_METHODS.get(request.method)
            if handler is None:
                raise MethodNotFoundError(
                    f"Method not found at protocol version {version}: {request.method}"
                )
            if self._visibility.refreshing:
                await self._visibility.settled()  # read-your-writes (catalog_visibility.py)
            served = ServedRequest(
                request,
                version,
                request_id=request_id,
                notify=notify,
                param_headers=param_headers,
                on_long_wait=on_long_wait,
                log_level=_requested_log_level(params),
                principal=principal or _ANONYMOUS,
                client_capabilities=_declared_capabilities(params),
                connection=connection,
                tasks_declared=declares_tasks_extension(params.meta),
                client=client,
            )
            return await handler(self, served)
        except BaseException as exc:  # only to tell how it ended: re-raised
            outcome = request_outcome(exc)
            raise
        finally:
            self.requests_inflight -= 1
            self._metrics.request_served(request.method, outcome, time.perf_counter() - started)

    def subscribe(self, request: Request) -> Subscription:
        """The subscription a 2026-07-28 ``subscriptions/listen`` opens (envelope and
        headers already checked); the transport serves its stream (mcp-protocol.md 7.6).

        Raises:
            InvalidParamsError: malformed params (-32602).
        """
        started = time.perf_counter()
        try:
            params = decode_params(request.params, _listen_params)
        except BaseException as exc:  # only to tell how it ended: re-raised
            self._metrics.request_served(
                SUBSCRIPTIONS_LISTEN, request_outcome(exc), time.perf_counter() - started
            )
            raise
        # Counted as its stream opens: a stream lasts as long as its client listens.
        self._metrics.request_served(
            SUBSCRIPTIONS_LISTEN, RequestOutcome.OK, time.perf_counter() - started
        )
        return Subscription(
            request.id,
            params.notifications,
            served=self._catalog.served_changes,
            server_info=self._catalog.server_info,
        )

    # --- methods (one per table entry; see _HANDSHAKE_METHODS and _MODERN_METHODS) ------

    async def _handshake_tools_call(self, served: ServedRequest) -> bytes | msgspec.Raw:
        params = decode_params(served.request.params, _call_params_2025)
        return await self._tools_call(params, served)

    async def _modern_tools_call(self, served: ServedRequest) -> bytes | msgspec.Raw:
        params = decode_params(served.request.params, _call_params_2026)
        if served.param_headers is not None:
            self._check_param_headers(params, served.param_headers)
        return await self._tools_call(params, served)

    async def _tools_list(self, served: ServedRequest) -> bytes | msgspec.Raw:
        cursor = decode_params(served.request.params, _list_params).cursor
        return self._catalog.list_result(served.version, cursor, hidden=self._hidden(served))

    async def _resources_list(self, served: ServedRequest) -> bytes | msgspec.Raw:
        self._require(len(self._catalog.resources), served)
        cursor = decode_params(served.request.params, _list_params).cursor
        return self._catalog.resources.list_result(served.version, cursor)

    async def _resource_templates_list(self, served: ServedRequest) -> bytes | msgspec.Raw:
        self._require(len(self._catalog.resources), served)
        cursor = decode_params(served.request.params, _list_params).cursor
        return self._catalog.resources.templates_result(served.version, cursor)

    async def _prompts_list(self, served: ServedRequest) -> bytes | msgspec.Raw:
        self._require(len(self._catalog.prompts), served)
        cursor = decode_params(served.request.params, _list_params).cursor
        return self._catalog.prompts.list_result(served.version, cursor)

    async def _resources_read(self, served: ServedRequest) -> bytes | msgspec.Raw:
        """``resources/read``: matched here, so an unknown URI never reaches a worker
        (-32002 to handshake-era sessions, -32602 with ``data.uri`` at 2026-07-28)."""
        self._require(len(self._catalog.resources), served)
        params = decode_params(served.request.params, _read_params)
        found = self._catalog.resources.match(params.uri)
        if found is None:
            raise resource_not_found(params.uri, served.version)
        resource = found.resource
        problem = resource.variables_problem(found.variables)
        if problem is not None:
            raise InvalidParamsError(problem, {"uri": params.uri})
        return await self._on_worker(
            served,
            kind=CallKind.RESOURCE,
            target=resource.uri,
            arguments=encode_call_arguments(ResourceReadArguments(params.uri, found.variables)),
            timeout_s=resource.timeout_s,
            meta=params.meta,
            asked=(params.uri, b""),
        )

    async def _prompts_get(self, served: ServedRequest) -> bytes | msgspec.Raw:
        """``prompts/get``: an unknown prompt or arguments that do not fit it are -32602,
        decided here."""
        self._require(len(self._catalog.prompts), served)
        params = decode_params(served.request.params, _prompt_params)
        prompt = self._catalog.prompts.get(params.name)
        if prompt is None:
            raise InvalidParamsError(f"Unknown prompt: {params.name}")
        arguments = {} if isinstance(params.arguments, UnsetType) else params.arguments
        problem = prompt.arguments_problem(arguments)
        if problem is not None:
            raise InvalidParamsError(problem)
        encoded = _encoder.encode(arguments)
        return await self._on_worker(
            served,
            kind=CallKind.PROMPT,
            target=prompt.name,
            arguments=encoded,
            timeout_s=prompt.timeout_s,
            meta=params.meta,
            asked=(prompt.name, encoded),
        )

    async def _subscribe(self, served: ServedRequest) -> bytes | msgspec.Raw:
        """``resources/subscribe`` (handshake era): a URI no resource answers is refused as
        a read of it would be; the updates go to the session's GET stream (or the stdio
        connection) when a handler announces them (``ctx.resource_updated``)."""
        self._require(len(self._catalog.resources), served)
        uri = decode_params(served.request.params, _subscribe_params).uri
        if self._catalog.resources.match(uri) is None:
            raise resource_not_found(uri, served.version)
        await _subscriptions_of(served).add(uri)
        log.info("session.subscribed", uri=uri)
        return _EMPTY_RESULT

    async def _unsubscribe(self, served: ServedRequest) -> bytes | msgspec.Raw:
        """``resources/unsubscribe``: idempotent, like the cancellation of anything."""
        self._require(len(self._catalog.resources), served)
        uri = decode_params(served.request.params, _subscribe_params).uri
        await _subscriptions_of(served).remove(uri)
        return _EMPTY_RESULT

    async def _complete(self, served: ServedRequest) -> bytes | msgspec.Raw:
        """``completion/complete``: the reference and its argument must exist (-32602);
        an argument nobody completes gets an empty completion without a worker."""
        self._require(len(self._catalog.completions), served)
        params = decode_params(served.request.params, _complete_params)
        argument = params.argument.name
        key, timeout_s = self._catalog.completion_target(params.ref, argument)
        if key not in self._catalog.completions:
            return self._empty_completion(served.version)
        context = params.context
        chosen = (
            {} if isinstance(context, UnsetType) or isinstance(context.arguments, UnsetType)
            else context.arguments
        )  # fmt: skip
        return await self._on_worker(
            served,
            kind=CallKind.COMPLETE,
            target=key,
            arguments=encode_call_arguments(CompletionArguments(params.argument.value, chosen)),
            timeout_s=timeout_s,
            meta=params.meta,
        )

    def _empty_completion(self, version: str) -> bytes:
        cached = self._no_completions.get(version)
        if cached is None:
            modern = version in MODERN_VERSIONS
            cached = self._no_completions[version] = _encoder.encode(
                CompleteResult(
                    completion=Completion(values=[]),
                    result_type="complete" if modern else UNSET,
                    meta=self._meta if modern else UNSET,
                )
            )
        return cached

    @staticmethod
    def _require(registered: int, served: ServedRequest) -> None:
        """A method of a capability the app does not have is not served (-32601), in line
        with the capabilities declared (checklist 13)."""
        if not registered:
            raise MethodNotFoundError(
                f"Method not found: {served.request.method} (this server has none)"
            )

    async def _reinitialize(self, served: ServedRequest) -> bytes | msgspec.Raw:
        # Transports answer initialize themselves (it opens their session); this keeps the
        # method answered the same way should a path reach the table with it.
        result, *_ = await self.initialize(served.request)
        return result

    async def _ping(self, served: ServedRequest) -> bytes | msgspec.Raw:
        return _EMPTY_RESULT

    async def _server_discover(self, served: ServedRequest) -> bytes | msgspec.Raw:
        return self._discover

    async def _set_log_level(self, served: ServedRequest) -> bytes | msgspec.Raw:
        params = decode_params(served.request.params, _set_level_params)
        level = require_log_level(params.level)
        if served.log_setting is None:
            raise LocalProtocolError("logging/setLevel reached the dispatcher without a session")
        await served.log_setting.set(level)
        log.info("session.log_level_set", level=level)
        return _EMPTY_RESULT

    async def _listen(self, served: ServedRequest) -> bytes | msgspec.Raw:
        # Its response is a long-lived stream: transports serve it (see subscribe).
        raise LocalProtocolError("subscriptions/listen reached the dispatcher")

    async def _tools_call(
        self, params: CallToolParams2025 | CallToolParams2026, served: ServedRequest
    ) -> bytes | msgspec.Raw:
        """``tools/call`` in either era: the Structs differ, the handling does not."""
        version = served.version
        tool = self._catalog.get(params.name)
        if tool is None:
            raise InvalidParamsError(f"Unknown tool: {params.name}")
        if tool.scopes:
            self._authorize(tool.name, tool.scopes, served)
        task_param = params.task if isinstance(params, CallToolParams2025) else UNSET
        as_task = self._tasks is not None and task_mode(
            tool,
            version=version,
            task_param=task_param,
            extension_declared=served.tasks_declared,
            modern=version in MODERN_VERSIONS,
        )
        missing = tool.required_client & ~served.client_capabilities
        if missing:
            return self._lacks_capability(tool.name, missing, version)
        raw_args = _arguments_object(params.arguments)
        # A server limit, not the tool's schema: -32602 in every revision.
        self._argument_limits.check(raw_args)
        problem = tool.argument_problem(raw_args)
        if problem is not None:
            if validation_failure_is_tool_error(version):
                return self._tool_error(problem, version)
            raise InvalidParamsError(problem)
        if as_task:
            return await self._create_task(tool, raw_args, task_param, served)
        return await self._on_worker(
            served,
            kind=CallKind.TOOL,
            target=params.name,
            arguments=raw_args,
            timeout_s=tool.timeout_s,
            meta=params.meta,
            asked=(params.name, raw_args),
            max_runs=IDEMPOTENT_CALL_MAX_RUNS if tool.retryable else 1,
        )

    async def _create_task(
        self, tool: CatalogTool, arguments: bytes, task_param: object, served: ServedRequest
    ) -> bytes:
        """A validated ``tools/call`` becomes a durable task (ADR-0011): created, then
        answered at once in the request's protocol."""
        tasks = self._served_tasks()
        call = TaskCall(
            tool=tool,
            arguments=arguments,
            version=served.version,
            principal=served.principal,
            owner=_owner(served),
            request_id=served.request_id,
            requested_ttl_ms=tasks.requested_ttl_ms(task_param),
            idempotency_key=tasks.idempotency_key(served.request.params),
            client_capabilities=served.client_capabilities,
            client=served.client,
        )
        if served.version not in MODERN_VERSIONS:
            return await tasks.create_legacy(call)
        if tool.input_before_task:
            return await self._task_with_input_rounds(tasks, call, served)
        return await tasks.create_modern(call)

    async def _task_with_input_rounds(
        self, tasks: TaskMethods, call: TaskCall, served: ServedRequest
    ) -> bytes:
        """2026-07-28, an ``input_before_task`` tool (ADR-0011): the task asks for input
        before the client hears of it. The first round creates the task and waits (the
        input grace) for it to ask or end; if it asked, the call answers an
        ``InputRequiredResult`` whose sealed ``requestState`` names the task. A retry with
        that state hands its answers to the task (as ``tasks/update`` would) and waits
        again; a round in which the task did not ask answers the ``CreateTaskResult``."""
        binding = _binding(served, (call.tool.name, call.arguments))
        retry = self._rounds.task_retry(served.request.params, binding)
        if retry is None:
            task_id = (await tasks.create(call)).task_id
        else:
            task_id, answers = retry
            await tasks.answer(task_id, call.owner, answers)
        record = await tasks.settle(task_id, call.owner)
        if record.status is TaskStatus.INPUT_REQUIRED and record.input_requests:
            return self._rounds.task_round(task_id, input_requests_object(record), binding)
        return tasks.created_modern(record)

    def _served_tasks(self) -> TaskMethods:
        """The task methods, when this app serves tasks.

        Raises:
            MethodNotFoundError: it has no tool that runs as a task (-32601).
        """
        if self._tasks is None:
            raise MethodNotFoundError("Method not found: this server runs no tasks")
        return self._tasks

    def _legacy_tasks(self, served: ServedRequest) -> TaskMethods:
        """2025-11-25's task methods exist at that revision only (mcp-protocol.md 10.1).

        Raises:
            MethodNotFoundError: another revision, or no tasks (-32601).
        """
        if not supports_tasks(served.version):
            raise MethodNotFoundError(
                f"Method not found at protocol version {served.version}: {served.request.method}"
            )
        return self._served_tasks()

    def _modern_tasks(self, served: ServedRequest) -> TaskMethods:
        tasks = self._served_tasks()
        tasks.require_extension(served.tasks_declared, served.request.method)
        return tasks

    async def _authorize_task(self, tasks: TaskMethods, served: ServedRequest) -> None:
        """A ``tasks/*`` request about a task of a tool its caller may not call is refused
        like the call would be (403, ADR-0016). Only a bearer caller some tool is hidden
        from pays the lookup (one round trip); another owner's task is left to fail as
        unknown."""
        if not self._hidden(served):
            return
        tool = await tasks.tool_of(served.request.params, _owner(served))
        if tool is not None:
            self._authorize(tool, self._catalog.required_scopes(tool), served)

    def _hidden(self, served: ServedRequest) -> frozenset[str]:
        """The tools the request's caller may not see nor call: none unless a bearer token
        vouches for it (stdio's local user and anonymous callers are not restricted)."""
        principal = served.principal
        if not principal.is_bearer:
            return _NO_TOOLS
        return self._catalog.hidden_for(principal.scopes)

    def _authorize(self, tool: str, required: tuple[str, ...], served: ServedRequest) -> None:
        """A bearer caller must hold every scope ``tool`` requires (ADR-0016).

        Raises:
            ForbiddenError: it lacks one (-31403, HTTP 403 ``insufficient_scope``); audited.
        """
        principal = served.principal
        if not principal.is_bearer:
            return
        missing = tuple(scope for scope in required if scope not in principal.scopes)
        if not missing:
            return
        _requester(served).audit(
            "authz.denied",
            tool=tool,
            required=list(required),
            missing=list(missing),
            method=served.request.method,
            outcome="denied",
        )
        self._metrics.authz_denied(tool)
        raise ForbiddenError(tool, required, missing)

    async def _tasks_get(self, served: ServedRequest) -> bytes | msgspec.Raw:
        tasks = self._legacy_tasks(served)
        await self._authorize_task(tasks, served)
        return await tasks.legacy_get(served.request.params, _owner(served))

    async def _tasks_result(self, served: ServedRequest) -> bytes | msgspec.Raw:
        tasks = self._legacy_tasks(served)
        await self._authorize_task(tasks, served)
        return await tasks.legacy_result(served.request.params, _owner(served), served.notify)

    async def _tasks_list(self, served: ServedRequest) -> bytes | msgspec.Raw:
        return await self._legacy_tasks(served).legacy_list(served.request.params, _owner(served))

    async def _tasks_cancel(self, served: ServedRequest) -> bytes | msgspec.Raw:
        tasks = self._legacy_tasks(served)
        await self._authorize_task(tasks, served)
        return await tasks.legacy_cancel(served.request.params, _owner(served), _requester(served))

    async def _modern_tasks_get(self, served: ServedRequest) -> bytes | msgspec.Raw:
        tasks = self._modern_tasks(served)
        await self._authorize_task(tasks, served)
        return await tasks.modern_get(served.request.params, _owner(served))

    async def _modern_tasks_update(self, served: ServedRequest) -> bytes | msgspec.Raw:
        tasks = self._modern_tasks(served)
        await self._authorize_task(tasks, served)
        return await tasks.modern_update(served.request.params, _owner(served))

    async def _modern_tasks_cancel(self, served: ServedRequest) -> bytes | msgspec.Raw:
        tasks = self._modern_tasks(served)
        await self._authorize_task(tasks, served)
        return await tasks.modern_cancel(served.request.params, _owner(served), _requester(served))

    async def _on_worker(
        self,
        served: ServedRequest,
        *,
        kind: CallKind,
        target: str,
        arguments: bytes,
        timeout_s: float,
        meta: LegacyMeta | ModernMeta | UnsetType,
        asked: tuple[str, bytes] | None = None,
        max_runs: int = 1,
    ) -> bytes | msgspec.Raw:
        """Run a validated call on a worker (every kind alike, ADR-0007) and relay its
        answer: progress when the request carries a token, log entries at the level it
        takes, cancellation by request id through any front for a handshake-era HTTP
        session. A method whose handler may ask the client for input passes ``asked``
        (what the request is about, and its arguments), binding the ``requestState`` of
        its 2026-07-28 rounds (ADR-0009); completions do not ask (MRTR is for tools,
        prompts and resources only). ``max_runs``: how many runs the call may have if
        workers running it are lost (an idempotent tool's, ADR-0014)."""
        token = UNSET if isinstance(meta, UnsetType) else meta.progress_token
        progress = _progress_reporter(token, served.notify)
        on_log = _log_forwarder(served.log_level, served.notify)
        session_id = served.session_id
        modern = served.version in MODERN_VERSIONS
        capabilities = 0 if asked is None else served.client_capabilities
        on_request = None
        rounds: RoundInputs | None = None
        if modern:
            if asked is not None and self._rounds.is_retry(served.request.params):
                rounds = self._rounds.inputs(served.request.params, _binding(served, asked))
        else:
            # Handshake-era requests travel on the call's stream: none, nothing to ask with.
            on_request = _request_forwarder(served.notify)
            if on_request is None:
                capabilities = 0
        reply = await self._calls.call(
            tool=target,
            arguments=arguments,
            protocol_version=served.version,
            request_id=served.request_id,
            timeout_s=timeout_s,
            progress_token=progress[0] if progress else None,
            on_progress=progress[1] if progress else None,
            cancel_key=None
            if session_id is None
            else request_cancel_key(session_id, served.request.id),
            on_long_wait=served.on_long_wait,
            log_level=served.log_level if on_log else None,
            on_log=on_log,
            principal=served.principal,
            kind=kind,
            client_capabilities=capabilities,
            on_request=on_request,
            input_responses=None if rounds is None else rounds.answers,
            input_round=0 if rounds is None else rounds.round,
            max_runs=max_runs,
            client=served.client,
        )
        if isinstance(reply, ResultReply):
            return reply.result
        if isinstance(reply, InputRequiredReply):
            if not modern or asked is None:
                raise LocalProtocolError("a worker asked for input by a 2026-07-28 result")
            return self._rounds.result(reply, _binding(served, asked))
        raise ProtocolError(reply.error.message, reply.error.data, code=reply.error.code)

    def _check_param_headers(self, call: CallToolParams2026, sent: Mapping[str, list[str]]) -> None:
        """``Mcp-Param-*`` against the arguments they mirror (mcp-protocol.md 5.3, 5.4 step
        7); only tools with ``x-mcp-header`` annotations pay for decoding the arguments."""
        tool = self._catalog.get(call.name)
        if tool is None or not tool.param_headers:
            return
        try:
            arguments = msgspec.json.decode(call.arguments) if call.arguments else {}
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            arguments = {}  # the argument check that follows names the real problem
        problem = param_header_mismatch(tool.param_headers, sent, arguments)
        if problem is not None:
            raise HeaderMismatchError(problem)

    def _lacks_capability(self, tool: str, missing: int, version: str) -> bytes:
        """A tool that needs what its client did not declare is not run: ``-32021`` at
        2026-07-28 (HTTP 400); a tool error before, when the code did not exist."""
        needed = required_capabilities(missing)
        message = f"Tool {tool!r} needs the client capabilities it did not declare: " + ", ".join(
            sorted(needed)
        )
        if version in MODERN_VERSIONS:
            raise MissingClientCapabilityError(message, {"requiredCapabilities": needed})
        return self._tool_error(message, version)

    def _tool_error(self, message: str, version: str) -> bytes:
        result = build_call_result(
            [TextContent(text=message)],
            is_error=True,
            structured=None,
            version=version,
            meta=self._meta,
        )
        return _encoder.encode(result)

    def _initialize_result(self, version: str) -> bytes:
        cached = self._initialize.get(version)
        if cached is None:
            capabilities = self._capabilities
            if self._tasks is not None and supports_tasks(version):
                # Only that revision has the experimental core tasks (mcp-protocol.md 10.1).
                capabilities = msgspec.structs.replace(capabilities, tasks=LEGACY_TASKS_CAPABILITY)
            cached = self._initialize[version] = _encoder.encode(
                InitializeResult(
                    protocol_version=version,
                    capabilities=capabilities,
                    server_info=implementation_for_version(self._catalog.server_info, version),
                    instructions=self._catalog.instructions or msgspec.UNSET,
                )
            )
        return cached

    @staticmethod
    def reject_modern_envelope(message: Request | Notification) -> None:
        """A 2026-07-28 body routed to the handshake era (no version header) contradicts
        itself (mcp-protocol.md 5.9): transports call this first, so the client is told
        (-32020) instead of being served as 2025-03-26 or asked for a session.

        Raises:
            HeaderMismatchError: the params carry a 2026-07-28 envelope.
        """
        try:
            params = _modern_params.decode(message.params or b"{}")
        except msgspec.MsgspecError:
            return
        if not isinstance(params.meta, msgspec.UnsetType):
            _reject_envelope_version(params.meta.protocol_version)


def _reject_envelope_version(declared: str | msgspec.UnsetType) -> None:
    if isinstance(declared, str) and declared in MODERN_VERSIONS:
        raise HeaderMismatchError(
            f"The request carries a {declared} _meta envelope but no matching "
            "MCP-Protocol-Version header"
        )


def _capabilities(catalog: ToolCatalog) -> ServerCapabilities:
    """Only what the app registered is advertised (checklist 13); each list's changes are
    announced fleet-wide by its own catalog digest (ADR-0006, ADR-0007)."""
    resources = catalog.resources
    # logging: handshake era through logging/setLevel; at 2026-07-28 (deprecated there,
    # still functional) per request through _meta (mcp-protocol.md 9.4).
    return ServerCapabilities(
        tools=ToolsCapability(list_changed=True),
        logging={},
        # subscribe: resources/subscribe in the handshake era, a listen stream's
        # resourceSubscriptions at 2026-07-28 (mcp-protocol.md 7.6).
        resources=ResourcesCapability(subscribe=True, list_changed=True)
        if len(resources)
        else UNSET,
        prompts=PromptsCapability(list_changed=True) if len(catalog.prompts) else UNSET,
        completions=CompletionsCapability() if catalog.completions else UNSET,
    )


NotificationSink = Callable[[bytes], None]
"""Receives an encoded JSON-RPC notification for the request being served (must not block)."""


class ServedRequest:
    """One request as a method handler sees it: the message, its era's version, and what
    the transport offers for it.

    Attributes:
        request: the decoded request (params still raw).
        version: the negotiated (handshake era) or declared (2026-07-28) version.
        request_id: this front's id for it, carried to the worker for log correlation.
        notify: where its related notifications go, if the transport can stream them.
        session_id: the handshake-era HTTP session, whose requests any front may cancel.
        param_headers: its ``Mcp-Param-*`` values by lower-cased token (HTTP, 2026-07-28).
        on_long_wait: called once if a call waits long for its worker.
        log_level: the least severe level of ``notifications/message`` it may bring (None:
            none): the session's ``logging/setLevel`` level, or the 2026-07-28 envelope's.
        log_setting: where ``logging/setLevel`` stores a level (handshake era).
        subscriptions: where ``resources/subscribe`` stores URIs (handshake era).
        principal: who the request is made for.
        client_capabilities: what its client can answer (``ClientCapability`` flags):
            declared in ``initialize`` (handshake era) or the request's envelope.
        connection: the stdio connection's id ("" on HTTP), scoping its tasks.
        tasks_declared: a 2026-07-28 request declares the tasks extension.
        client: the caller's address on HTTP, for its limits and the audit trail
            (``"stdio"`` on stdio).
    """

    __slots__ = (
        "client",
        "client_capabilities",
        "connection",
        "log_level",
        "log_setting",
        "notify",
        "on_long_wait",
        "param_headers",
        "principal",
        "request",
        "request_id",
        "session_id",
        "subscriptions",
        "tasks_declared",
        "version",
    )

    def __init__(
        self,
        request: Request,
        version: str,
        *,
        request_id: str,
        notify: NotificationSink | None = None,
        session_id: str | None = None,
        param_headers: Mapping[str, list[str]] | None = None,
        on_long_wait: Callable[[], None] | None = None,
        log_level: str | None = None,
        log_setting: LogLevelSetting | None = None,
        subscriptions: ResourceSubscriptions | None = None,
        principal: Principal = _ANONYMOUS,
        client_capabilities: int = 0,
        connection: str = "",
        tasks_declared: bool = False,
        client: str = "",
    ) -> None:
        self.client = client
        self.client_capabilities = client_capabilities
        self.connection = connection
        self.tasks_declared = tasks_declared
        self.request = request
        self.version = version
        self.request_id = request_id
        self.notify = notify
        self.session_id = session_id
        self.param_headers = param_headers
        self.on_long_wait = on_long_wait
        self.log_level = log_level
        self.log_setting = log_setting
        self.subscriptions = subscriptions
        self.principal = principal


_Method = Callable[[Dispatcher, ServedRequest], Awaitable[bytes | msgspec.Raw]]

_HANDSHAKE_METHODS: Final[Mapping[str, _Method]] = {
    TOOLS_CALL: Dispatcher._handshake_tools_call,
    TOOLS_LIST: Dispatcher._tools_list,
    RESOURCES_LIST: Dispatcher._resources_list,
    RESOURCES_TEMPLATES_LIST: Dispatcher._resource_templates_list,
    RESOURCES_READ: Dispatcher._resources_read,
    PROMPTS_LIST: Dispatcher._prompts_list,
    PROMPTS_GET: Dispatcher._prompts_get,
    COMPLETION_COMPLETE: Dispatcher._complete,
    RESOURCES_SUBSCRIBE: Dispatcher._subscribe,
    RESOURCES_UNSUBSCRIBE: Dispatcher._unsubscribe,
    INITIALIZE: Dispatcher._reinitialize,
    PING: Dispatcher._ping,
    LOGGING_SET_LEVEL: Dispatcher._set_log_level,
    # 2025-11-25 sessions only; the handlers refuse other revisions (-32601).
    TASKS_GET: Dispatcher._tasks_get,
    TASKS_RESULT: Dispatcher._tasks_result,
    TASKS_LIST: Dispatcher._tasks_list,
    TASKS_CANCEL: Dispatcher._tasks_cancel,
}
"""What each handshake-era version serves; anything else is -32601."""

_MODERN_METHODS: Final[Mapping[str, _Method]] = {
    TOOLS_CALL: Dispatcher._modern_tools_call,
    TOOLS_LIST: Dispatcher._tools_list,
    RESOURCES_LIST: Dispatcher._resources_list,
    RESOURCES_TEMPLATES_LIST: Dispatcher._resource_templates_list,
    RESOURCES_READ: Dispatcher._resources_read,
    PROMPTS_LIST: Dispatcher._prompts_list,
    PROMPTS_GET: Dispatcher._prompts_get,
    COMPLETION_COMPLETE: Dispatcher._complete,
    SERVER_DISCOVER: Dispatcher._server_discover,
    SUBSCRIPTIONS_LISTEN: Dispatcher._listen,
    TASKS_GET: Dispatcher._modern_tasks_get,
    TASKS_UPDATE: Dispatcher._modern_tasks_update,
    TASKS_CANCEL: Dispatcher._modern_tasks_cancel,
}
"""What 2026-07-28 serves; anything else (initialize, ping, resources/subscribe,
tasks/result, tasks/list, ...) is -32601 (checklist 4, mcp-protocol.md 10.2)."""

SERVED_METHODS: Final = frozenset(
    {*_HANDSHAKE_METHODS, *_MODERN_METHODS, INITIALIZE, SUBSCRIPTIONS_LISTEN}
)
"""Every method some era serves: the ``method`` label values of the request metrics
(anything else is counted as ``other``, so the label stays bounded)."""


def _arguments_object(raw: msgspec.Raw) -> bytes:
    """A call's ``arguments`` as JSON object bytes: absent or ``null`` is ``{}``; anything
    but an object breaks the ``CallToolRequest`` schema itself, a protocol error in every
    revision (mcp-protocol.md 8.3), unlike an object the tool's schema refuses (a tool
    error from 2025-11-25 on).

    Raises:
        InvalidParamsError: the arguments are an array, a string, a number or a boolean.
    """
    data = bytes(raw) if raw else _EMPTY_ARGUMENTS
    first = _FIRST_TOKEN.match(data)
    if first is None or first.group(1) == b"{":
        return data
    if data.strip() == b"null":
        return _EMPTY_ARGUMENTS
    raise InvalidParamsError("Invalid params: tools/call arguments must be a JSON object")


def _owner(served: ServedRequest) -> str:
    """Who the request's tasks belong to: its principal (a handshake-era HTTP caller with
    its session) and its stdio connection (ADR-0011)."""
    return TaskSpec.owner_of(served.principal, served.connection)


def _requester(served: ServedRequest) -> Requester:
    """Who made the request, as the audit trail names them."""
    return Requester(principal=served.principal, request_id=served.request_id, client=served.client)


def _subscriptions_of(served: ServedRequest) -> ResourceSubscriptions:
    if served.subscriptions is None:
        raise LocalProtocolError("resources/subscribe reached the dispatcher without a session")
    return served.subscriptions


def _requested_log_level(params: ModernParams) -> str | None:
    """The 2026-07-28 request's opt-in to log entries (mcp-protocol.md 9.4): its envelope's
    level; an unknown one was already refused with -32602 when the envelope was decoded."""
    meta = params.meta
    if isinstance(meta, UnsetType) or isinstance(meta.log_level, UnsetType):
        return None
    return meta.log_level


def _declared_capabilities(params: ModernParams) -> int:
    """What a 2026-07-28 request's envelope says its client can answer (checked present)."""
    meta = params.meta
    if isinstance(meta, UnsetType) or isinstance(meta.client_capabilities, UnsetType):
        return 0
    caps = meta.client_capabilities
    return capability_flags(caps) if caps else 0


def _binding(served: ServedRequest, asked: tuple[str, bytes]) -> RequestBinding:
    """What a ``requestState`` is bound to: the request, and its caller's identity (a
    bearer caller's issuer and subject, ADR-0016)."""
    target, arguments = asked
    return RequestBinding.of(served.request.method, target, arguments, served.principal.identity)


def _request_forwarder(notify: NotificationSink | None) -> ClientRequestSink | None:
    """A handshake-era handler's requests for its client go on the call's stream, as
    JSON-RPC requests with the ids the worker chose (it waits for their answers)."""
    if notify is None:
        return None

    def on_request(message: ClientRequestMessage) -> None:
        notify(encode_request(message.request_id, message.method, message.params))

    return on_request


def _log_forwarder(minimum: str | None, notify: NotificationSink | None) -> LogSink | None:
    """Log entries go out as ``notifications/message`` only when the client asked for some
    and the transport can stream them; the worker filtered by ``minimum`` already, and a
    worker of another version is checked again here."""
    if notify is None or minimum is None:
        return None

    def on_log(message: LogMessage) -> None:
        notification = log_notification(message, minimum)
        if notification is not None:
            notify(notification)

    return on_log


def _progress_reporter(
    token: int | str | UnsetType, notify: NotificationSink | None
) -> tuple[int | str, ProgressSink] | None:
    """Progress is reported only when the request carries a token and the transport can
    stream notifications, and only while it increases (mcp-protocol.md 9.1, checklist 31):
    a worker sends increasing values, but a call redelivered after its worker was lost
    (ADR-0014) starts counting again."""
    if notify is None or isinstance(token, UnsetType):
        return None
    last = -math.inf

    def on_progress(message: ProgressMessage) -> None:
        nonlocal last
        if message.progress <= last:
            return
        last = message.progress
        params = ProgressParams(
            progress_token=token,
            progress=message.progress,
            total=UNSET if message.total is None else message.total,
            message=UNSET if message.message is None else message.message,
        )
        notify(encode_notification(NOTIFICATION_PROGRESS, _encoder.encode(params)))

    return token, on_progress
