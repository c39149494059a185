"""What every front process runs, whatever its transport: its Redis client, the reply
subscription, the fetcher of replies kept during subscription gaps, the call queue, the
dispatcher, the task events (``server/task_events.py``) and the fleet's change feed (which
also applies the fleet's visibility overrides, ADR-0010). Services start before readiness:
the block runs once the subscriptions are up, this front's catalog was announced and the
overrides are applied. The transport starts the front's load record
(:meth:`FrontServices.publish_load`) once it knows how to count its streams."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from proto import FrontLoad, Keyspace, ResultMeta
from server.admission import AdmissionControl
from server.call_queue import CallQueue
from server.catalog_visibility import CatalogVisibility
from server.change_feed import ChangeFeed
from server.config import FrontConfig
from server.dispatch import SERVED_METHODS, Dispatcher
from server.front_load import FrontLoadPublisher
from server.input_rounds import InputRounds, load_request_state_key
from server.limits_config import LimitsConfig
from server.metrics import FrontMetrics
from server.queue_depths import QueueDepths
from server.redis_client import RedisClient, open_redis, parse_redis_url
from server.redis_subscriber import RedisSubscriber
from server.reply_router import KeptReplyFetcher, ReplyRouter
from server.sync_redis import open_sync_redis
from server.task_events import TaskEvents
from server.task_methods import TaskMethods
from server.task_status_relay import TaskStatusRelay
from server.task_store import TaskRetention, TaskStore
from server.tool_catalog import ToolCatalog

__all__ = ["FrontServices", "open_front_services", "watch_stop_signals"]


class FrontServices:
    """The running services a transport serves with.

    Attributes:
        redis: the front's Redis client.
        keys: the fleet's key schema.
        subscriber: the reply subscription (``connected`` feeds readiness).
        dispatcher: serves decoded requests.
        changes: the fleet's change announcements, for listen and GET streams and stdio.
        task_status: 2025-11-25 task status notifications, for GET streams and stdio.
        metrics: what this front records (ADR-0012).
        queues: reads the lanes' depths, for ``/metrics``.
        calls: the call lane (:meth:`end_waits`).
        task_events: the task events (:meth:`end_waits`).
        front_id: this front's id.
        load_interval_s: how often :meth:`publish_load` writes.
    """

    def __init__(
        self,
        *,
        redis: RedisClient,
        keys: Keyspace,
        subscriber: RedisSubscriber,
        dispatcher: Dispatcher,
        changes: ChangeFeed,
        task_status: TaskStatusRelay,
        metrics: FrontMetrics,
        queues: QueueDepths,
        calls: CallQueue,
        task_events: TaskEvents,
        front_id: str,
        load_interval_s: float,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.subscriber = subscriber
        self.dispatcher = dispatcher
        self.changes = changes
        self.task_status = task_status
        self.metrics = metrics
        self.queues = queues
        self.calls = calls
        self.task_events = task_events
        self._front_id = front_id
        self._load_interval_s = load_interval_s

    async def end_waits(self) -> int:
        """The grace period of a shutdown is over: every request waiting for a worker's
        reply or a task's end raises ``ShuttingDownError`` at once, and so does every
        later one (``server/drain.py``). Returns how many were waiting."""
        return self.task_events.end_waits() + await self.calls.end_waits()

    async def publish_load(self, open_streams: Callable[[], int]) -> None:
        """Write this front's load record (``server/front_load.py``) every interval until
        cancelled, then delete it. ``open_streams``: the transport's streams open now."""
        pid = os.getpid()
        metrics, dispatcher = self.metrics, self.dispatcher

        def load() -> FrontLoad:
            return FrontLoad(
                pid=pid,
                requests_served=metrics.requests_served,
                requests_inflight=dispatcher.requests_inflight,
                streams_open=open_streams(),
            )

        publisher = FrontLoadPublisher(
            self.redis, self.keys, self._front_id, interval_s=self._load_interval_s, load=load
        )
        await publisher.run()


@asynccontextmanager
async def open_front_services(
    config: FrontConfig,
    *,
    limits: LimitsConfig,
    catalog: ToolCatalog,
    redis_url: str,
    fleet: str,
    front_id: str,
    load_interval_s: float,
) -> AsyncIterator[FrontServices]:
    """Start the services, run the block, stop them.

    Args:
        config: the front's settings.
        limits: the rate limits and admission control it enforces (ADR-0017).
        catalog: the tools served.
        redis_url: the fleet's Redis.
        fleet: the fleet's key namespace.
        front_id: unique id of this front process (names its reply channel and its load
            record).
        load_interval_s: how often the front's load record is written
            (``supervisor.status_interval_s``).

    Raises:
        BackendUnavailableError: Redis cannot be reached at start.

    Resources: the Redis connections and the subscription are closed when the block ends.
    """
    keys = Keyspace(fleet)
    address = parse_redis_url(redis_url)
    async with (
        open_redis(address, command_timeout_s=config.redis_command_timeout_s) as redis,
        trio.open_nursery() as nursery,
    ):
        router = ReplyRouter()
        subscriber = RedisSubscriber(
            address,
            keys.reply_channel(front_id),
            on_message=router.on_message,
            on_gap=router.on_gap,
        )
        await nursery.start(subscriber.run)
        await nursery.start(KeptReplyFetcher(redis, router, keys.kept_replies(front_id)).run)
        metrics = FrontMetrics(SERVED_METHODS)
        admission = AdmissionControl(
            limits, keys, metrics, task_slots_ttl_ms=config.task_max_ttl_ms
        )
        calls = CallQueue(
            redis,
            router,
            keys,
            front_id=front_id,
            reply_grace_s=config.reply_grace_s,
            admission=admission,
        )
        rounds = InputRounds(
            await load_request_state_key(redis, keys),
            ttl_s=config.request_state_ttl_s,
            meta=ResultMeta(server_info=catalog.server_info),
        )
        visibility = CatalogVisibility(catalog, redis, keys)
        # Connections open on first use: a front whose app runs no tasks never opens one.
        sync_redis = open_sync_redis(
            address,
            connections=config.task_redis_connections,
            timeout_s=config.redis_command_timeout_s,
        )
        task_events = TaskEvents(redis=redis, keys=keys, subscriber=subscriber)
        await nursery.start(task_events.run)
        task_store = TaskStore(
            redis,
            sync_redis,
            keys,
            retention=_retention(config),
            metrics=metrics,
            admission=admission,
        )
        tasks = TaskMethods(
            task_store,
            meta=ResultMeta(server_info=catalog.server_info),
            events=task_events,
            result_wait_s=catalog.longest_timeout_s + config.reply_grace_s,
            page_size=config.list_page_size,
            input_grace_s=config.task_input_grace_ms / 1000,
        )
        dispatcher = Dispatcher(
            catalog,
            calls,
            list_ttl_ms=config.list_ttl_ms,
            input_rounds=rounds,
            visibility=visibility,
            metrics=metrics,
            argument_limits=config.argument_limits(),
            tasks=tasks,
        )
        changes = ChangeFeed(
            redis=redis,
            keys=keys,
            subscriber=subscriber,
            catalog_digests=catalog.digests,
            served=catalog.served_changes,
            visibility=visibility,
        )
        await nursery.start(changes.run)
        try:
            yield FrontServices(
                redis=redis,
                keys=keys,
                subscriber=subscriber,
                dispatcher=dispatcher,
                changes=changes,
                task_status=TaskStatusRelay(task_events, task_store),
                metrics=metrics,
                queues=QueueDepths(redis, keys),
                calls=calls,
                task_events=task_events,
                front_id=front_id,
                load_interval_s=load_interval_s,
            )
        finally:
            nursery.cancel_scope.cancel()
            sync_redis.close()


def _retention(config: FrontConfig) -> TaskRetention:
    return TaskRetention(
        default_ttl_ms=config.task_ttl_ms,
        max_ttl_ms=config.task_max_ttl_ms,
        poll_ms=config.task_poll_interval_ms,
    )


async def watch_stop_signals(shutdown: trio.Event) -> None:
    """Set ``shutdown`` on the first SIGTERM or SIGINT (a graceful stop begins)."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            shutdown.set()
            return
