"""Bounds on untrusted JSON (ADR-0018): the nesting depth of a whole message, and the sizes
inside a ``tools/call``'s arguments: the arguments' bytes, the longest string, the most
items of one array or members of one object.

Depth: msgspec decodes recursively and stops at Python's recursion limit, never crashing
and failing fast, but where it stops depends on how deep the caller's stack already is
(997 levels at the top of a 3.11 process, 496 from 500 frames down): the front and the
workers would accept different depths. One explicit bound makes it the same everywhere.
It costs two ``bytes.count`` calls per message: a message with at most ``max_depth``
brackets cannot nest deeper. Only one with more pays for the exact scan, which works on
bytes at C speed (escapes and strings dropped, then one regular expression), about
10 ns per byte even for a body of nothing but brackets.

Arguments: each limit is checked only when the arguments are big enough to break it (a
string of more than N characters takes more than N bytes, an array of more than N items
more than N commas), so a typical call pays two comparisons; only large arguments are
decoded once more and walked.
"""

from __future__ import annotations

import functools
import re
from typing import Final, NoReturn

import msgspec

from proto.errors import InvalidParamsError

__all__ = ["DEFAULT_MAX_JSON_DEPTH", "ArgumentLimits", "nesting_exceeds"]

DEFAULT_MAX_JSON_DEPTH: Final = 64
"""Deepest nesting of arrays and objects a message may have (``front.max_json_depth``)."""

_STRUCTURAL: Final = b'"[]{}'
_NOT_STRUCTURAL: Final = bytes(c for c in range(256) if c not in _STRUCTURAL)
_ONE_BRACKET_KIND: Final = bytes.maketrans(b"{}", b"[]")
_STRING: Final = re.compile(rb'"[^"]*+"')
_EMPTY_STRINGS: Final = b'""'


def nesting_exceeds(data: bytes, max_depth: int) -> bool:
    """Whether the JSON text ``data`` nests arrays and objects deeper than ``max_depth``
    (``[]`` and ``{}`` are one level each; a scalar is level 0).

    Exact for well-formed JSON; on malformed JSON the answer may be either, and the
    decoder names the real problem. Cost: two byte counts when ``data`` holds at most
    ``max_depth`` brackets, else linear in its size (module docstring).
    """
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    return _depth_pattern(max_depth).fullmatch(_brackets(data)) is None


def _brackets(data: bytes) -> bytes:
    """The brackets of ``data`` outside its strings, every kind as ``[`` and ``]``: escaped
    backslashes and quotes go first (left to right, as a JSON reader pairs them), then
    everything but quotes and brackets, then the strings (only brackets remain in them)."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = data.translate(_ONE_BRACKET_KIND, _NOT_STRUCTURAL)
    if b'"' in data:
        data = data.replace(_EMPTY_STRINGS, b"")  # strings without brackets: the most
        if b'"' in data:
            data = _STRING.sub(b"", data)
    return data


@functools.cache
def _depth_pattern(max_depth: int) -> re.Pattern[bytes]:
    """Balanced brackets nested at most ``max_depth`` deep: level k is
    ``(?:\\[<level k-1>\\])*+``. Possessive, so a failed match never backtracks: linear."""
    pattern = b""
    for _ in range(max_depth):
        pattern = rb"(?:\[" + pattern + rb"\])*+"
    return re.compile(pattern)


_any_decoder: Final = msgspec.json.Decoder()


class ArgumentLimits:
    """The bounds a ``tools/call``'s arguments must keep, checked in the front before
    anything is queued (refused with -32602 naming the argument, HTTP 400 at 2026-07-28).

    Args:
        max_bytes: the arguments object's size as sent (JSON bytes).
        max_string_chars: the longest string anywhere in them (a value or a key), in
            characters.
        max_items: the most items of one array, or members of one object.
    """

    __slots__ = ("max_bytes", "max_items", "max_string_chars")

    def __init__(self, *, max_bytes: int, max_string_chars: int, max_items: int) -> None:
        self.max_bytes = max_bytes
        self.max_string_chars = max_string_chars
        self.max_items = max_items

    def check(self, arguments: bytes) -> None:
        """Refuse ``arguments`` (a JSON object, as sent) if they break a bound.

        Raises:
            InvalidParamsError: the first argument found over a bound, named by its path
                (``$.filters.tags[3]``), with ``data`` holding ``argument``, ``limit`` and
                ``size``.
        """
        size = len(arguments)
        if size > self.max_bytes:
            raise _refusal("$", f"{size} bytes of arguments", size, self.max_bytes, "bytes")
        # A string of more than N characters is more than N bytes long; an array or object
        # of more than N entries holds at least N commas, in at least 2N bytes.
        may_have_long_string = size > self.max_string_chars
        may_have_many_items = size > 2 * self.max_items and arguments.count(b",") >= self.max_items
        if may_have_long_string or may_have_many_items:
            self._walk(arguments)

    def _walk(self, arguments: bytes) -> None:
        try:
            root = _any_decoder.decode(arguments)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return  # not well-formed: the argument check that follows says why
        # Iterative, and a path is built only for a container or an offender.
        pending: list[tuple[object, str]] = [(root, "$")]
        while pending:
            container, path = pending.pop()
            if isinstance(container, list):
                self._check_count(path, "an array", len(container), "items")
                for index, entry in enumerate(container):
                    if self._needs_look(entry):
                        self._look_at(entry, f"{path}[{index}]", pending)
            elif isinstance(container, dict):
                self._check_count(path, "an object", len(container), "members")
                for key, entry in container.items():
                    if len(key) > self.max_string_chars:
                        self._refuse_string(f"{path} (a member's name)", key)
                    if self._needs_look(entry):
                        self._look_at(entry, _member_path(path, key), pending)

    def _needs_look(self, entry: object) -> bool:
        """A container, or a string over the bound (most entries are neither)."""
        if isinstance(entry, str):
            return len(entry) > self.max_string_chars
        return isinstance(entry, list | dict)

    def _look_at(self, entry: object, path: str, pending: list[tuple[object, str]]) -> None:
        if isinstance(entry, str):
            self._refuse_string(path, entry)
        pending.append((entry, path))

    def _refuse_string(self, path: str, text: str) -> NoReturn:
        chars = len(text)
        raise _refusal(
            path, f"a string of {chars} characters", chars, self.max_string_chars, "characters"
        )

    def _check_count(self, path: str, what: str, count: int, unit: str) -> None:
        if count > self.max_items:
            raise _refusal(path, f"{what} of {count} {unit}", count, self.max_items, unit)


_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATH_NAME_CHARS: Final = 64


def _member_path(path: str, key: str) -> str:
    """``$.name``, or ``$["odd name"]`` (a long name cut to its first 64 characters)."""
    if len(key) <= _PATH_NAME_CHARS and _IDENTIFIER.fullmatch(key):
        return f"{path}.{key}"
    shown = msgspec.json.encode(key[:_PATH_NAME_CHARS]).decode()
    return f"{path}[{shown}{'…' if len(key) > _PATH_NAME_CHARS else ''}]"


def _refusal(path: str, what: str, size: int, limit: int, unit: str) -> InvalidParamsError:
    return InvalidParamsError(
        f"Invalid params: argument {path} is {what}, over the limit of {limit} {unit}",
        {"argument": path, "limit": limit, "size": size},
    )
