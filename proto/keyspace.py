"""Every Redis key and channel name mcpfleet uses; nothing else may spell ``mcpf:``.

Names are shaped ``mcpf:<fleet>:<kind>[:{<id>}]`` so a per-entity id is a Cluster hash tag.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CALL_GROUP", "CALL_PAYLOAD_FIELD", "CANCEL_STREAM_MAXLEN", "Keyspace"]

CALL_GROUP: Final = "workers"
"""Consumer group on the call stream; each worker process is one consumer in it."""

CALL_PAYLOAD_FIELD: Final = b"m"
"""The one field of a call stream entry: the encoded ``CallMessage``."""


CANCEL_STREAM_MAXLEN: Final = 10_000
"""Approximate length the cancel stream is trimmed to (``XADD MAXLEN ~``): cancels are
rare, and a worker only needs those newer than the longest call deadline."""


class Keyspace:
    """Key and channel names of one fleet (one namespace on a shared Redis).

    Args:
        fleet: namespace; tests use a unique one each so they never collide.
    """

    __slots__ = ("_prefix", "fleet")

    def __init__(self, fleet: str) -> None:
        if not fleet or any(c in fleet for c in ":{} \t\r\n"):
            raise ValueError(f"fleet name {fleet!r} must be non-empty, without ':{{}}' or spaces")
        self.fleet = fleet
        self._prefix = f"mcpf:{fleet}:"

    def call_stream(self) -> str:
        """Stream of foreground calls (the call lane).

        Writer: fronts (XADD). Readers: workers via consumer group :data:`CALL_GROUP`; a
        worker acknowledges and deletes an entry once its reply is published, so the stream
        holds only waiting and in-flight calls. The supervisor settles a dead worker's
        pending entries. No TTL.
        """
        return self._prefix + "calls"

    def cancel_stream(self) -> str:
        """Stream of cancellations (``CancelCall`` / ``CancelRequest`` in field
        :data:`CALL_PAYLOAD_FIELD`). Writers: fronts (XADD, trimmed to
        :data:`CANCEL_STREAM_MAXLEN`). Readers: every worker, with plain XREAD (a broadcast,
        no group), resuming from its last id after a reconnect so no cancel is missed.
        """
        return self._prefix + "cancels"

    def reply_channel(self, front_id: str) -> str:
        """Pub/sub channel of one front process: replies and progress for its calls."""
        return f"{self._prefix}replies:{{{front_id}}}"

    def catalog_digest(self, kind: str = "tools") -> str:
        """String key: the digest (hex SHA-256 of the encoded entries) of one list the
        front that started last serves: ``tools``, ``resources`` or ``prompts``. Written by
        every front at start-up with ``ANNOUNCE_CATALOG``, which announces a change of that
        kind on :meth:`change_channel` when the digest differs from the one recorded
        before. No TTL."""
        suffix = "" if kind == "tools" else f":{kind}"
        return f"{self._prefix}catalog-digest{suffix}"

    def change_channel(self) -> str:
        """Pub/sub channel of fleet-wide change announcements (``ChangeAnnouncement``: a
        list changed, a resource was updated; later kinds add tasks). Published by
        ``ANNOUNCE_CATALOG`` (a front starting with another catalog), ``SET_VISIBILITY``
        (an item turned on or off) and workers (``ctx.resource_updated``); every front
        watches it for its whole life and passes each change to its listen streams, GET
        streams and stdio connection."""
        return self._prefix + "changes"

    def visibility(self, kind: str) -> str:
        """Hash: the fleet's visibility overrides of one list (ADR-0010): ``tools``,
        ``prompts`` or ``resources``. Field = a registered tool's or prompt's name, or a
        resource's URI (template) as registered; value = ``enabled`` or ``disabled``,
        present only where it departs from what the deployment that set it declared.
        Written by ``SET_VISIBILITY`` (workers, for ``ctx.enable`` / ``disable`` /
        ``toggle``; the ``mcpfleet tools|prompts|resources`` commands), which announces
        the change on :meth:`change_channel`; read whole (HGETALL) by every front at
        start-up, after a gap in its subscription and when a change of that kind is
        announced. No TTL: it outlives restarts and redeploys."""
        return f"{self._prefix}visibility:{kind}"

    def session(self, session_id: str) -> str:
        """String key: a handshake-era session's ``SessionRecord``. Written by the front
        that answered ``initialize``; read (sliding the TTL, ``front.session_idle_ttl_s``)
        by any front serving the session; deleted by DELETE."""
        return f"{self._prefix}session:{{{session_id}}}"

    def session_subscriptions(self, session_id: str) -> str:
        """Set: the resource URIs a handshake-era session subscribed to with
        ``resources/subscribe`` (ADR-0007). Written by any front serving the session
        (SADD / SREM); read by the front holding the session's GET stream (SISMEMBER per
        resource update, SMEMBERS after a gap in the change channel). TTL
        ``front.session_idle_ttl_s``, renewed by every (un)subscribe and while the GET
        stream (where the updates go) is open; deleted with the session."""
        return f"{self._prefix}session:{{{session_id}}}:resources"

    def session_events(self, session_id: str, stream: str) -> str:
        """Stream of one SSE stream's events in a handshake-era session (resumability):
        field ``d`` = the JSON-RPC message, ``f`` = ``1`` on the response ending a POST
        stream. Written by the front serving that stream (any front or worker for the
        standalone stream, ``g``); read by a front resuming it after ``Last-Event-ID``.
        Trimmed to ``front.event_store_max_events``, TTL ``front.event_store_ttl_s`` from
        the last write."""
        return f"{self._prefix}events:{{{session_id}}}:{stream}"

    def session_event_channel(self, session_id: str) -> str:
        """Pub/sub channel announcing each event stored for the session (a ``StoredEvent``),
        so the front holding a resumed or standalone stream delivers it live."""
        return f"{self._prefix}events:{{{session_id}}}"

    def get_stream_lock(self, session_id: str) -> str:
        """String key: the token of the front request holding the session's standalone GET
        stream (one per session). Set with NX and a short TTL, refreshed while the stream
        lives, deleted (only by its holder) when it ends."""
        return f"{self._prefix}get-stream:{{{session_id}}}"

    def outstanding_ask(self, request_id: str) -> str:
        """String: the session ("" on stdio) a handshake-era request for the client belongs
        to, while its handler waits (TTL: the call's remaining time). Set by the asking
        worker; a front passes a response on only if its session matches, and deletes the
        key (ADR-0009)."""
        return f"{self._prefix}ask:{{{request_id}}}"

    def task(self, task_id: str) -> str:
        """Hash of one durable task (``proto.TaskField`` fields), ADR-0011. Created by a front
        in the same transaction as its rq job (same id); status changes only through
        ``TASK_TRANSITION`` (fronts, workers, the supervisor). TTL: the task's retention,
        slid on reads."""
        return f"{self._prefix}task:{{{task_id}}}"

    def owner_tasks(self, owner: str) -> str:
        """Sorted set of one owner's task ids scored by creation (ms), for 2025-11-25
        ``tasks/list``; members whose task expired are dropped when listed. TTL: the
        longest retention of its tasks, renewed on creation."""
        return f"{self._prefix}tasks-of:{{{owner}}}"

    def task_events(self) -> str:
        """Pub/sub channel of task status changes (``<task id> <status>``), published by
        ``TASK_TRANSITION``: a wake-up for fronts waiting on a task; the hash is the truth."""
        return f"{self._prefix}task-events"

    def task_queue(self) -> str:
        """The rq queue name of the fleet's tasks (rq keeps it under ``rq:queue:<name>``,
        its jobs under ``rq:job:<task id>``: rq's own key schema, ADR-0011)."""
        return f"mcpf-{self.fleet}-tasks"

    # rq's key schema for that queue (ADR-0011, ADR-0020): spelled here so the front, the
    # workers' task threads and the supervisor agree; tests/unit/proto pins them to rq's.

    def task_queue_list(self) -> str:
        """rq's list of queued task ids (the front's ``enqueue_call`` pushes to its tail)."""
        return f"rq:queue:{self.task_queue()}"

    def task_queue_taken(self) -> str:
        """rq's intermediate list: ids a task thread took off the queue (``BLMOVE``) and has
        not yet registered as started; the supervisor puts back one that stays (ADR-0020)."""
        return f"rq:queue:{self.task_queue()}:intermediate"

    def task_started(self) -> str:
        """rq's ``StartedJobRegistry``: sorted set of ``<task id>:<task thread>`` members,
        scored ``+inf`` (the supervisor settles a lost worker's, ADR-0020)."""
        return f"rq:wip:{self.task_queue()}"

    def task_job(self, task_id: str) -> str:
        """rq's hash of a task's job (same id as the task)."""
        return f"rq:job:{task_id}"

    def task_idempotency(self, owner: str, key: str) -> str:
        """String: the task an owner's idempotency key created (``SET NX``), TTL the task's
        retention."""
        return f"{self._prefix}task-key:{{{owner}}}:{key}"

    def request_state_key(self) -> str:
        """String: the fleet's key sealing 2026-07-28 ``requestState`` (32 random bytes),
        created by the first front with ``SET NX``; no TTL (ADR-0009)."""
        return f"{self._prefix}request-state-key"

    def kept_replies(self, front_id: str) -> str:
        """Hash of replies published while no one listened on the front's channel: field =
        call id, value = encoded reply. Written by ``PUBLISH_OR_KEEP`` (workers, supervisor),
        read and emptied by that front after it resubscribes; TTL ``KEPT_REPLY_TTL_S``."""
        return f"{self._prefix}kept:{{{front_id}}}"

    def live_workers(self) -> str:
        """Sorted set: worker id → expiry of its latest heartbeat (epoch ms). Written by
        workers with each beat (which also drop expired members); fronts count members
        not yet expired for readiness. No TTL (members expire by score)."""
        return self._prefix + "workers"

    def worker_heartbeat(self, worker_id: str) -> str:
        """String key: a live worker's ``WorkerHeartbeat``, rewritten by the worker every
        ``heartbeat_interval_s`` with a TTL of five intervals and deleted on a clean exit;
        read by supervisors to find consumers whose worker is gone."""
        return f"{self._prefix}worker:{{{worker_id}}}"

    def front_load(self, front_id: str) -> str:
        """String key: a running front's ``FrontLoad`` (JSON: requests served and in
        flight, streams open), rewritten by the front every ``supervisor.status_interval_s``
        with a TTL of three intervals and deleted when it stops; read by its supervisor for
        the status document."""
        return f"{self._prefix}front:{{{front_id}}}"

    def supervisors(self) -> str:
        """Sorted set: supervisor id → expiry of its latest status document (epoch ms).
        Written by each supervisor of the fleet with every :meth:`supervisor_status` write
        (which also drops expired members) and cleared of it when it stops; read by
        ``mcpfleet status`` to find the fleet's live supervisors. No TTL (members expire
        by score)."""
        return self._prefix + "supervisors"

    def supervisor_status(self, supervisor_id: str) -> str:
        """String key: a running supervisor's ``SupervisorStatus`` (JSON): its processes,
        their state and load. Rewritten every ``supervisor.status_interval_s`` with a TTL
        of three intervals, so a dead supervisor's document disappears; deleted when it
        stops. Read by ``mcpfleet status``."""
        return f"{self._prefix}supervisor:{{{supervisor_id}}}"

    def scale_events(self) -> str:
        """List of the fleet's recent ``ScaleEvent`` records (JSON), newest first: LPUSH
        then LTRIM to ``SCALE_EVENTS_KEPT`` by each supervisor's autoscaler (ADR-0013);
        read by ``mcpfleet status``. No TTL (bounded by the trim)."""
        return self._prefix + "scale-events"

    def rate_bucket(self, identity: str, tool: str = "") -> str:
        """Hash: one caller's token bucket (``tokens``: what it held at ``ts``, Redis's
        clock in microseconds), or with ``tool`` its bucket for that tool
        (``limits.tool_rates``). ``identity``: the caller's ``proto.limit_identity``.
        Written and read only by ``ADMIT`` (every front), which sets it to expire when it
        would be full again, so an idle caller's bucket goes (ADR-0017)."""
        suffix = f":tool:{tool}" if tool else ""
        return f"{self._prefix}rate:{{{identity}}}{suffix}"

    def task_slots(self, identity: str) -> str:
        """Sorted set: the ids of one caller's tasks (``proto.limit_identity``), scored by
        when ``ADMIT`` admitted each (Redis's clock, ms), for
        ``limits.max_tasks_per_principal``. Members are added only by ``ADMIT`` (every
        front), at most the bound; a front refused there reads their tasks and removes
        the ended, expired and never-created ones (ZREM), as does a front whose creation
        failed. TTL ``front.task_max_ttl_ms``, renewed with each member (ADR-0017)."""
        return f"{self._prefix}task-slots:{{{identity}}}"

    def global_rate_bucket(self) -> str:
        """Hash: the fleet's own token bucket, shared by every caller
        (``limits.global_rate``); as :meth:`rate_bucket`."""
        return self._prefix + "rate-global"
