"""The Lua scripts mcpfleet runs in Redis, as source text shipped in ``proto/lua/``.

Scripts take keys in KEYS and values in ARGV (never interpolated); callers load them once
and call them by SHA. Reading the package's own files at import is the same kind of act as
importing a module: no environment, clock or network is touched.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Final

__all__ = [
    "ADMIT",
    "ANNOUNCE_CATALOG",
    "APPEND_EVENT",
    "HOLD_IF_OWNER",
    "KEPT_REPLY_TTL_S",
    "PUBLISH_OR_KEEP",
    "PUBLISH_REPLIES_OR_KEEP",
    "REDELIVER_CALL",
    "REQUEUE_TAKEN",
    "SET_VISIBILITY",
    "TASK_ANSWER",
    "TASK_SLIDE",
    "TASK_TRANSITION",
    "LuaScript",
]


class LuaScript:
    """A script's source and its SHA1 (what EVALSHA names)."""

    __slots__ = ("name", "sha", "source")

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = (resources.files("proto") / "lua" / f"{name}.lua").read_text("utf-8")
        self.sha = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()


PUBLISH_OR_KEEP: Final = LuaScript("publish_or_keep")
"""KEYS: kept-replies hash. ARGV: channel, reply, call id, TTL seconds. Returns 1 if a
subscriber got it, 0 if it was kept."""

PUBLISH_REPLIES_OR_KEEP: Final = LuaScript("publish_replies_or_keep")
"""KEYS: kept-replies hash. ARGV: channel, TTL seconds, then pairs of a call id and its
reply. Publishes the replies as one JSON array (ADR-0022), or keeps each under its call id
if no subscriber got it. Returns 1 if published, 0 if kept."""

KEPT_REPLY_TTL_S: Final = 300
"""How long a reply nobody received waits for its front to fetch it."""

REDELIVER_CALL: Final = LuaScript("redeliver_call")
"""KEYS: the call stream. ARGV: the consumer group, the lost run's entry id, the payload
field, the next run's encoded call. Acknowledges and deletes the entry and, only if it was
still pending, appends the next run (ADR-0014). Returns the new entry id, or nil."""

REQUEUE_TAKEN: Final = LuaScript("requeue_taken")
"""KEYS: rq's intermediate list, rq's queue list. ARGV: a task id. Moves the id from the
first to the head of the second, only if it is still in the first (ADR-0020). Returns 1 if
it moved, else 0."""

HOLD_IF_OWNER: Final = LuaScript("hold_if_owner")
"""KEYS: a lock. ARGV: token, ``refresh`` or ``release``, TTL ms. Returns 1 if the token
held the lock (and it was refreshed or released), else 0."""

APPEND_EVENT: Final = LuaScript("append_event")
"""KEYS: a session stream's entries. ARGV: event channel, stream name, message (empty for
the priming marker), ``1`` if final, max entries, TTL ms. Returns the entry id."""

ANNOUNCE_CATALOG: Final = LuaScript("announce_catalog")
"""KEYS: the fleet's catalog digest. ARGV: this front's digest, the change channel, the
announcement. Records the digest; publishes the announcement unless the digest recorded
before was the same. Returns 1 if it announced, else 0."""

SET_VISIBILITY: Final = LuaScript("set_visibility")
"""KEYS: one list's visibility hash. ARGV: the change channel, the announcement, the request
(``enabled``, ``disabled``, ``toggle``, ``declared``), then pairs of an item and its declared
state (``proto.visibility_script_argv`` builds them). Stores an override only where it
departs from the declaration; announces once if any item changed state. Returns how many
did."""

TASK_TRANSITION: Final = LuaScript("task_transition")
"""KEYS: a task's hash. ARGV: the task events channel, the task id, the new status (empty:
keep it), now (ms), ``1`` to count a run, then pairs of fields to set (empty value:
delete). Ended tasks never move. Returns 1 if it moved, 0 if the task had ended, -1 if
there is none (ADR-0011)."""

TASK_SLIDE: Final = LuaScript("task_slide")
"""KEYS: a task's hash, its owner's index. ARGV: the task's retention (ms), now (ms), the
index's retention (ms). Slides both and records when (``slid``), only if the task still
exists: a plain ``HSET`` after an expiry would recreate a record with one field. Returns 1
if it slid, 0 if the task is gone (ADR-0020)."""

TASK_ANSWER: Final = LuaScript("task_answer")
"""KEYS: a task's hash. ARGV: the task events channel, the task id, now (ms), then pairs of
an input request's key and the client's answer. Takes each answer whose request is
outstanding (``request:<key>`` goes, ``answer:<key>`` is set), ignores the others, and moves
an ``input_required`` task back to ``working`` once no request is left. Returns how many
answers it took, -1 if there is no such task (ADR-0011)."""

ADMIT: Final = LuaScript("admit")
"""KEYS: the token buckets that apply, the lane (the call stream, or the task queue's list)
and, for a task under a bound, the caller's task slots. ARGV: the bucket count, the mode
(``call``: append the call; ``task``: the caller creates it next), the lane's bound, the
consumer group or the most tasks, the entry's field or the slots' TTL, each bucket's rate
and burst, and last the encoded call or the task's id (``proto.admit_call_script`` and
``admit_task_script`` build them). Admits only if every bucket holds a token, the lane has
room and a slot is free; then charges the buckets and appends the call (or takes the
slot). Returns ``{"ok", entry id}``, ``{"ok"}``, ``{"bucket", i, retry ms, tokens left, ms
until full}``, ``{"queue_full", waiting}``, ``{"tasks", held, now ms, id, admitted ms,
...}`` or ``{"no_lane"}`` (ADR-0017)."""
