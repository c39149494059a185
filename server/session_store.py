"""Handshake-era sessions in Redis, so every front serves every session (issue 3).

A session id is 128 random bits in hex, minted at ``initialize``; each use slides its idle
TTL in the same command that reads it (GETEX, Redis 6.2+). Ids that cannot be ours are
refused without a Redis round trip.

A session belongs to the caller that opened it (``SessionRecord.owner``, ADR-0016): the
transport compares it with each request's caller and answers another caller's use of the
id as it answers an unknown id.

A session's resource subscriptions (``resources/subscribe``) are a set next to its record
(``Keyspace.session_subscriptions``), with the same idle TTL. It is renewed when the session
subscribes or unsubscribes and while its GET stream is open (updates go nowhere else), not
on every request: sliding a second key would cost every request of every session an extra
command for the few that subscribe. A session that neither holds its GET stream nor touches
its subscriptions for ``front.session_idle_ttl_s`` loses them.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Final

import msgspec

from proto import Keyspace, SessionRecord
from server.redis_client import RedisClient

__all__ = ["MAX_SUBSCRIPTIONS", "SessionStore"]

MAX_SUBSCRIPTIONS: Final = 1_000
"""Resources one session may subscribe to at once: the set is read whole after a gap in the
change channel, so it stays small."""

_SESSION_ID: Final = re.compile(r"^[0-9a-f]{32}$")
_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(SessionRecord)


class SessionStore:
    """Creates, reads and ends sessions.

    Args:
        redis: the front's Redis client.
        keys: the fleet's key schema.
        idle_ttl_s: how long an unused session lives.
    """

    def __init__(self, redis: RedisClient, keys: Keyspace, *, idle_ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._idle_ttl_s = idle_ttl_s

    async def create(
        self,
        protocol_version: str,
        client_name: str,
        client_capabilities: int = 0,
        *,
        owner: str = "",
    ) -> str:
        """Store a new session and return its id; ``client_capabilities`` are what the
        client declared it can answer (``ClientCapability`` flags), ``owner`` who opened
        it (``SessionRecord.owner``).

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        session_id = secrets.token_hex(16)
        record = SessionRecord(
            protocol_version=protocol_version,
            created_ms=int(time.time() * 1000),
            client_name=client_name,
            client_capabilities=client_capabilities,
            owner=owner,
        )
        await self._redis.execute(
            "SET", self._keys.session(session_id), _encoder.encode(record), "EX", self._idle_ttl_s
        )
        return session_id

    async def touch(self, session_id: str) -> SessionRecord | None:
        """The session's record, its idle TTL renewed; ``None`` if unknown or expired."""
        if not _SESSION_ID.match(session_id):
            return None
        raw = await self._redis.execute(
            "GETEX", self._keys.session(session_id), "EX", self._idle_ttl_s
        )
        if not isinstance(raw, bytes):
            return None
        try:
            return _decoder.decode(raw)
        except msgspec.MsgspecError:
            return None

    async def set_log_level(self, session_id: str, level: str) -> bool:
        """Record the level the session set with ``logging/setLevel``, so every front
        honours it from its next request on; ``False`` if the session is unknown or expired.

        Read, replace, write back only if the key still exists (``SET … XX``): a session
        deleted meanwhile stays deleted. The other fields never change after ``create``,
        so two concurrent writes can only race on the level itself (the last one wins).

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        record = await self.touch(session_id)
        if record is None:
            return False
        updated = msgspec.structs.replace(record, log_level=level)
        reply = await self._redis.execute(
            "SET", self._keys.session(session_id), _encoder.encode(updated),
            "XX", "EX", self._idle_ttl_s,
        )  # fmt: skip
        return reply is not None

    async def delete(self, session_id: str) -> bool:
        """End a session (and its subscriptions); ``False`` if it did not exist."""
        if not _SESSION_ID.match(session_id):
            return False
        ended, _ = await self._redis.execute_many(
            [
                ("DEL", self._keys.session(session_id)),
                ("DEL", self._keys.session_subscriptions(session_id)),
            ]
        )
        return ended == 1

    async def subscribe(self, session_id: str, uri: str) -> bool:
        """Add ``uri`` to the session's subscriptions and renew their TTL; ``False`` when
        the session already subscribes to :data:`MAX_SUBSCRIPTIONS` other URIs.

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        key = self._keys.session_subscriptions(session_id)
        added, size, _ = await self._redis.execute_many(
            [("SADD", key, uri), ("SCARD", key), ("EXPIRE", key, self._idle_ttl_s)]
        )
        if added == 1 and isinstance(size, int) and size > MAX_SUBSCRIPTIONS:
            await self._redis.execute("SREM", key, uri)
            return False
        return True

    async def unsubscribe(self, session_id: str, uri: str) -> None:
        """Remove ``uri`` from the session's subscriptions (if there) and renew their TTL.

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        key = self._keys.session_subscriptions(session_id)
        await self._redis.execute_many([("SREM", key, uri), ("EXPIRE", key, self._idle_ttl_s)])

    async def is_subscribed(self, session_id: str, uri: str) -> bool:
        """Whether the session subscribes to ``uri``.

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        key = self._keys.session_subscriptions(session_id)
        return await self._redis.execute("SISMEMBER", key, uri) == 1

    async def subscriptions(self, session_id: str) -> list[str]:
        """Every URI the session subscribes to, in no particular order.

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        members = await self._redis.execute(
            "SMEMBERS", self._keys.session_subscriptions(session_id)
        )
        if not isinstance(members, list):
            return []
        return [m.decode() for m in members if isinstance(m, bytes)]

    async def keep_subscriptions(self, session_id: str) -> None:
        """Renew the TTL of the session's subscriptions (its GET stream is open).

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        await self._redis.execute(
            "EXPIRE", self._keys.session_subscriptions(session_id), self._idle_ttl_s
        )
