"""The front's second Redis client: redis-py (sync), for rq alone (ADR-0011).

rq speaks redis-py, so creating a task (its rq job and record in one transaction) runs
redis-py in a worker thread through ``trio.to_thread``. Everything else the front sends
goes through its own trio client (:mod:`server.redis_client`, ADR-0001). The pool blocks
when all its connections are taken, and the limiter that guards the thread hops holds as
many tokens as the pool has connections, so a thread never waits for a connection; every
socket operation has a finite timeout.
"""

from __future__ import annotations

from typing import Final

import redis
import trio

from proto import RedisAddress

__all__ = ["SyncRedis", "open_sync_redis"]

_POOL_WAIT_S: Final = 5.0


class SyncRedis:
    """A redis-py client on a blocking pool, and the limiter its thread hops share.

    Attributes:
        client: the redis-py client (use it only in threads holding ``limiter``).
        limiter: as many tokens as the pool has connections.
    """

    def __init__(self, client: redis.Redis, limiter: trio.CapacityLimiter) -> None:
        self.client = client
        self.limiter = limiter

    def close(self) -> None:
        """Close the pool's connections (after the last thread using them finished)."""
        self.client.close()


def open_sync_redis(address: RedisAddress, *, connections: int, timeout_s: float) -> SyncRedis:
    """A :class:`SyncRedis` for ``address``; connections open on first use.

    Args:
        address: where Redis is (the front's parsed URL).
        connections: the pool's size, and the limiter's tokens.
        timeout_s: connect and socket timeout of every command.
    """
    kwargs: dict[str, object] = {
        "max_connections": connections,
        "timeout": _POOL_WAIT_S,
        "db": address.db,
        "username": address.username,
        "password": address.password,
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
    }
    if address.unix_path is not None:
        kwargs["connection_class"] = redis.UnixDomainSocketConnection
        kwargs["path"] = address.unix_path
        del kwargs["socket_connect_timeout"]  # not a unix-socket connection argument
    else:
        kwargs["host"] = address.host
        kwargs["port"] = address.port
        if address.tls:
            kwargs["connection_class"] = redis.SSLConnection
    # redis-py types its pool loosely: the connection arguments are passed through.
    pool = redis.BlockingConnectionPool(**kwargs)  # type: ignore[no-untyped-call]
    return SyncRedis(redis.Redis(connection_pool=pool), trio.CapacityLimiter(connections))
