"""Secrets kept out of every log line of every process (ADR-0018, docs/security.md "Audit
trail and redaction"): a structlog processor that :mod:`supervisor.logging_setup` runs
last, just before a line is rendered, for structlog's own lines and for stdlib ones alike.

Two rules:

- **By key name**: a field whose name contains ``token``, ``secret``, ``password``,
  ``passwd``, ``authorization``, ``api_key``/``api-key``/``apikey``, ``cookie``,
  ``credential`` or ``private_key`` (any case) becomes ``"[redacted]"``, wherever it is:
  a top-level field or a key of a dict nested in one (a handler's ``ctx.log`` data, a
  headers dict), inside lists too.
- **By value shape**: in any string, a JSON Web Token (``eyJ<header>.<payload>.<sig>``)
  and the credential after ``Bearer`` (the scheme in any case, as the front accepts it:
  ``bearer``, ``BEARER``) become ``[redacted]``, so a token logged in free text does not
  survive either.

Cost (``bench/hardening_overhead.py``): a line pays a dict lookup per field (verdicts on
field names are cached) and two substring checks per string value (a space, ``eyJ``): a
bearer credential follows a space, a JWT starts with ``eyJ``. A string with a space is
lowercased and searched for ``bearer `` (about 0.1 µs) before any regular expression
runs, so only a line that holds a secret, prose, or nested data pays for more.
"""

from __future__ import annotations

import re
from typing import Final

import structlog

__all__ = ["REDACTED", "SecretRedactor"]

REDACTED: Final = "[redacted]"

_SENSITIVE_NAME: Final = re.compile(
    r"token|secret|passw(?:or)?d|authorization|api[-_]?key|cookie|credential|private[-_]?key",
    re.IGNORECASE,
)
_SECRET_IN_TEXT: Final = re.compile(
    # A JWT (its header always starts {" = eyJ; JWE has five parts), or a bearer credential
    # (RFC 6750 b64token) of 8 characters or more: "a bearer of news" is prose.
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?"
    # The scheme is case-insensitive (RFC 7235 2.1).
    r"|(?i:(?<=bearer ))[A-Za-z0-9._~+/-]{8,}=*"
)
_MAX_CACHED_NAMES: Final = 4096
"""Field names whose verdict is kept; names from handlers' data are unbounded."""
_SCALARS: Final = frozenset({int, float, bool, type(None)})
_MAX_NESTING: Final = 16
"""Nested data below this depth is replaced whole rather than searched."""


class SecretRedactor:
    """The structlog processor (module docstring). Thread-safe: its only state is a cache
    of verdicts, where a lost race recomputes one."""

    def __init__(self) -> None:
        self._verdicts: dict[str, bool] = {}

    def __call__(
        self, _logger: object, _method: str, event_dict: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        # The hot path, inlined: a cached verdict per name, then scalars skipped by type
        # and strings by two substring checks (most values hold no space: ids, names,
        # timestamps); only text, secrets and containers go further.
        verdicts = self._verdicts
        changed: dict[str, object] | None = None
        for key, value in event_dict.items():
            sensitive = verdicts.get(key)
            if sensitive is None:
                sensitive = self._is_sensitive(key)
            kind = type(value)
            if sensitive:
                redacted: object = REDACTED
            elif kind is str:
                if " " not in value and "eyJ" not in value:
                    continue
                redacted = _scrub(value)
            elif kind in _SCALARS:
                continue
            else:
                redacted = self._redact(value, 0)
            if redacted is not value:
                if changed is None:
                    changed = {}
                changed[key] = redacted
        if changed is not None:
            event_dict.update(changed)
        return event_dict

    def _is_sensitive(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        verdict = self._verdicts.get(name)
        if verdict is None:
            verdict = _SENSITIVE_NAME.search(name) is not None
            if len(self._verdicts) < _MAX_CACHED_NAMES:
                self._verdicts[name] = verdict
        return verdict

    def _redact(self, value: object, depth: int) -> object:
        """``value`` itself when it holds no secret, else a redacted copy (the caller's
        data is never changed in place)."""
        if isinstance(value, str):
            return _scrub(value)
        if isinstance(value, dict):
            return self._redact_dict(value, depth + 1)
        if isinstance(value, list | tuple):
            return self._redact_items(value, depth + 1)
        return value

    def _redact_dict(self, value: dict[object, object], depth: int) -> object:
        if depth > _MAX_NESTING:
            return REDACTED
        copy: dict[object, object] | None = None
        for key, item in value.items():
            redacted = REDACTED if self._is_sensitive(key) else self._redact(item, depth)
            if redacted is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = redacted
        return value if copy is None else copy

    def _redact_items(self, value: list[object] | tuple[object, ...], depth: int) -> object:
        if depth > _MAX_NESTING:
            return REDACTED
        items = [self._redact(item, depth) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)


def _scrub(text: str) -> str:
    """``text`` with its JWTs and bearer credentials cut out; ``text`` itself when it has
    none. The regular expression runs only on a string that may hold one."""
    if "eyJ" in text or (" " in text and "bearer " in text.lower()):
        return _SECRET_IN_TEXT.sub(REDACTED, text)
    return text
