"""Where a handshake-era client's ``logging/setLevel`` level lives: in the session record in
Redis (HTTP, so every front honours it) or on the stdio connection.

Until the client sets a level it gets no ``notifications/message``: the spec leaves the
default to the server (mcp-protocol.md 9.4), and the official SDK sends every level. We
send none, as 2026-07-28 does for a request that does not opt in, because each entry costs
a Redis message and, in a resumable POST stream, a stored event, and commits a response
to SSE that would otherwise be plain JSON. A call honours the level in force when it
started.
"""

from __future__ import annotations

from typing import Protocol

from proto import InvalidRequestError, LogLevel
from server.session_store import SessionStore

__all__ = ["ConnectionLogLevel", "LogLevelSetting", "SessionLogLevel"]


class LogLevelSetting(Protocol):
    """A client's ``logging/setLevel`` level, as a request handler sees it."""

    @property
    def level(self) -> str | None:
        """The level in force (``None``: none set, nothing is sent)."""
        ...

    async def set(self, level: LogLevel) -> None:
        """Store a new level.

        Raises:
            InvalidRequestError: the session ended meanwhile.
            BackendUnavailableError: it could not be stored.
        """
        ...


class ConnectionLogLevel:
    """The level of one stdio connection (handshake era): it lives as long as the
    connection, like the session it stands for."""

    __slots__ = ("_level",)

    def __init__(self) -> None:
        self._level: str | None = None

    @property
    def level(self) -> str | None:
        """The level in force."""
        return self._level

    async def set(self, level: LogLevel) -> None:
        """Store a new level."""
        self._level = level


class SessionLogLevel:
    """The level of a handshake-era HTTP session, as read with the session's record for
    this request; a new one is written to the record.

    Args:
        sessions: the session store.
        session_id: the session.
        level: the level in its record.
    """

    __slots__ = ("_level", "_session_id", "_sessions")

    def __init__(self, sessions: SessionStore, session_id: str, level: str | None) -> None:
        self._sessions = sessions
        self._session_id = session_id
        self._level = level

    @property
    def level(self) -> str | None:
        """The level in force."""
        return self._level

    async def set(self, level: LogLevel) -> None:
        """Write a new level to the session's record.

        Raises:
            InvalidRequestError: the session ended meanwhile.
            BackendUnavailableError: Redis is unreachable.
        """
        if not await self._sessions.set_log_level(self._session_id, level):
            raise InvalidRequestError("Session not found")
        self._level = level
