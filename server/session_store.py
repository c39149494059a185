"""Handshake-era sessions in Redis, so every front serves every session (issue 3).

A session id is 128 random bits in hex, minted at ``initialize``; each use slides its idle
TTL in the same command that reads it (GETEX, Redis 6.2+). Ids that cannot be ours are
refused without a Redis round trip.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Final

import msgspec

from proto import Keyspace, SessionRecord
from server.redis_client import RedisClient

__all__ = ["SessionStore"]

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

    async def create(self, protocol_version: str, client_name: str) -> str:
        """Store a new session and return its id.

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        session_id = secrets.token_hex(16)
        record = SessionRecord(
            protocol_version=protocol_version,
            created_ms=int(time.time() * 1000),
            client_name=client_name,
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
        """End a session; ``False`` if it did not exist."""
        if not _SESSION_ID.match(session_id):
            return False
        return await self._redis.execute("DEL", self._keys.session(session_id)) == 1
