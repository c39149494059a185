"""The Redis side of the wire, sans-IO: command encoding (RESP2) and connection addresses.

Both edges (the trio front, the asyncio workers) run their own small clients on the hiredis
parser (ADR-0001, ADR-0003); what they share without any I/O lives here.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence

import msgspec

__all__ = [
    "RedisAddress",
    "RedisArg",
    "encode_command",
    "parse_redis_url",
    "setup_commands",
    "stream_entries",
]

RedisArg = bytes | str | int | float
"""An argument of a Redis command; numbers are sent in their decimal form."""


class RedisAddress(msgspec.Struct, frozen=True, kw_only=True):
    """Where and how to connect: TCP (optionally TLS) or a unix socket."""

    host: str = "127.0.0.1"
    port: int = 6379
    unix_path: str | None = None
    username: str | None = None
    password: str | None = None
    db: int = 0
    tls: bool = False


def parse_redis_url(url: str) -> RedisAddress:
    """Parse ``redis://``, ``rediss://`` (TLS) and ``unix://`` URLs as redis-py does.

    Raises:
        ValueError: an unsupported scheme or a malformed database number.
    """
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    username = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    if parts.scheme == "unix":
        db = int(query.get("db", ["0"])[0])
        return RedisAddress(unix_path=parts.path, username=username, password=password, db=db)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r} (redis, rediss, unix)")
    path_db = parts.path.lstrip("/")
    db = int(path_db or query.get("db", ["0"])[0])
    return RedisAddress(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        username=username or None,
        password=password,
        db=db,
        tls=parts.scheme == "rediss",
    )


def encode_command(args: Sequence[RedisArg]) -> bytes:
    """Encode one command as a RESP2 array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        else:
            data = repr(arg).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def setup_commands(address: RedisAddress) -> list[list[RedisArg]]:
    """The commands a new connection runs first: AUTH (with ACL user) and SELECT."""
    setup: list[list[RedisArg]] = []
    if address.password is not None:
        auth: list[RedisArg] = ["AUTH"]
        if address.username is not None:
            auth.append(address.username)
        setup.append([*auth, address.password])
    if address.db:
        setup.append(["SELECT", address.db])
    return setup


def stream_entries(reply: object, field: bytes) -> list[tuple[bytes, bytes]]:
    """``(entry id, value of field)`` pairs from an XREAD/XREADGROUP reply (RESP2: streams,
    each a list of ``[id, [field, value, …]]``; None when the block timed out). Malformed
    parts are skipped; an entry without the field has an empty value."""
    entries: list[tuple[bytes, bytes]] = []
    for stream in reply if isinstance(reply, list) else []:
        if not (isinstance(stream, list) and len(stream) == 2 and isinstance(stream[1], list)):
            continue
        for entry in stream[1]:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], bytes)):
                continue
            fields = entry[1] if isinstance(entry[1], list) else []
            payload = b""
            for key, value in zip(fields[::2], fields[1::2], strict=False):
                if key == field and isinstance(value, bytes):
                    payload = value
            entries.append((entry[0], payload))
    return entries
