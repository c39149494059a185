"""Where a handshake-era client's ``resources/subscribe`` URIs live (ADR-0007): in Redis next
to the HTTP session (``SessionStore``), so the front holding the session's GET stream, which
may not be the one that took the subscription, delivers the updates; or on the stdio
connection, which is the session.

At 2026-07-28 there are no such methods: a listen stream names its URIs in its filter
(``resourceSubscriptions``) and they live as long as the stream (``proto.Subscription``).
"""

from __future__ import annotations

from typing import Protocol

from proto import InvalidParamsError
from server.session_store import MAX_SUBSCRIPTIONS, SessionStore

__all__ = ["ConnectionSubscriptions", "ResourceSubscriptions", "SessionSubscriptions"]

_TOO_MANY = (
    f"Too many subscriptions: a session subscribes to at most {MAX_SUBSCRIPTIONS} resources; "
    "unsubscribe from some first"
)


class ResourceSubscriptions(Protocol):
    """A client's resource subscriptions, as a request handler changes them."""

    async def add(self, uri: str) -> None:
        """Subscribe to ``uri`` (again: no change).

        Raises:
            InvalidParamsError: the client subscribes to too many resources already.
            BackendUnavailableError: it could not be stored.
        """
        ...

    async def remove(self, uri: str) -> None:
        """Unsubscribe from ``uri`` (not subscribed: no change).

        Raises:
            BackendUnavailableError: it could not be stored.
        """
        ...


class ConnectionSubscriptions:
    """The subscriptions of one stdio connection (handshake era): they live as long as the
    connection, like the session it stands for."""

    __slots__ = ("_uris",)

    def __init__(self) -> None:
        self._uris: dict[str, None] = {}  # an ordered set: updates after a gap keep order

    async def add(self, uri: str) -> None:
        """Subscribe to ``uri``.

        Raises:
            InvalidParamsError: :data:`~server.session_store.MAX_SUBSCRIPTIONS` already.
        """
        if uri not in self._uris and len(self._uris) >= MAX_SUBSCRIPTIONS:
            raise InvalidParamsError(_TOO_MANY)
        self._uris[uri] = None

    async def remove(self, uri: str) -> None:
        """Unsubscribe from ``uri``."""
        self._uris.pop(uri, None)

    def __contains__(self, uri: str) -> bool:
        return uri in self._uris

    @property
    def uris(self) -> list[str]:
        """Every subscribed URI, in the order of subscription."""
        return list(self._uris)


class SessionSubscriptions:
    """The subscriptions of a handshake-era HTTP session, in Redis.

    Args:
        sessions: the session store.
        session_id: the session.
    """

    __slots__ = ("_session_id", "_sessions")

    def __init__(self, sessions: SessionStore, session_id: str) -> None:
        self._sessions = sessions
        self._session_id = session_id

    async def add(self, uri: str) -> None:
        """Subscribe the session to ``uri``.

        Raises:
            InvalidParamsError: :data:`~server.session_store.MAX_SUBSCRIPTIONS` already.
            BackendUnavailableError: Redis is unreachable.
        """
        if not await self._sessions.subscribe(self._session_id, uri):
            raise InvalidParamsError(_TOO_MANY)

    async def remove(self, uri: str) -> None:
        """Unsubscribe the session from ``uri``.

        Raises:
            BackendUnavailableError: Redis is unreachable.
        """
        await self._sessions.unsubscribe(self._session_id, uri)
