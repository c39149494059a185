"""Who a call is made for: the ``Principal`` a front attaches to every call and a handler
reads as ``ctx.principal``.

A principal says only what a front honestly knows:

- **stdio**: the client launched the stdio front as a local OS user, so calls are that
  user's: ``Principal(kind="local", subject="<username>")``.
- **HTTP with authentication off** (no ``[auth]``): nobody is authenticated. A
  handshake-era caller is anonymous, bound to its ``Mcp-Session-Id``:
  ``Principal(kind="anonymous", session_id="<id>")``; a 2026-07-28 one is anonymous with no
  session (the era has none).
- **HTTP with authentication on** (ADR-0016): every request carries a verified bearer
  token: ``Principal(kind="bearer")`` with ``subject``, ``issuer`` and ``scopes`` from the
  JWT (and the session id in the handshake era); handlers read the same fields.

On the wire the principal is the last element of a ``CallMessage`` (an array, so fields are
only appended, with defaults). ``kind`` is a plain string, not an enum: a worker of an older
version must still decode a call whose principal has a kind it has never heard of.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

__all__ = ["Principal", "PrincipalKind"]


_identity_encoder: Final = msgspec.json.Encoder()


class PrincipalKind(enum.StrEnum):
    """The kinds a front sets today, and the operator's (``Principal.kind`` holds the plain
    string)."""

    LOCAL = "local"
    """A local OS user: the stdio transport."""

    ANONYMOUS = "anonymous"
    """An unauthenticated HTTP caller."""

    BEARER = "bearer"
    """An HTTP caller whose bearer token was verified (issue 7): ``subject`` and
    ``issuer`` from the token's ``sub`` and ``iss``, ``scopes`` from ``scope``/``scp``."""

    OPERATOR = "operator"
    """An operator's ``mcpfleet`` command, as the audit trail names it (never on a call):
    ``subject`` is the OS user running it."""


class Principal(msgspec.Struct, frozen=True, array_like=True):
    """The caller a call is made for (see the module docstring for what each transport sets).

    Attributes:
        kind: ``"local"``, ``"anonymous"`` or ``"bearer"`` (:class:`PrincipalKind`); other
            values may come from newer fronts.
        subject: who: the OS user name for ``local``; empty for ``anonymous``.
        issuer: who vouches for ``subject`` (a bearer token's ``iss``); empty otherwise.
        session_id: the handshake-era HTTP session the call belongs to; empty otherwise.
        scopes: the scopes a bearer token grants (``scope``/``scp``); empty otherwise.
    """

    kind: str
    subject: str = ""
    issuer: str = ""
    session_id: str = ""
    scopes: tuple[str, ...] = ()

    @classmethod
    def local(cls, username: str) -> Principal:
        """The local OS user ``username`` (stdio)."""
        return cls(kind=PrincipalKind.LOCAL.value, subject=username)

    @classmethod
    def anonymous(cls, session_id: str = "") -> Principal:
        """An unauthenticated HTTP caller, bound to its session if it has one."""
        return cls(kind=PrincipalKind.ANONYMOUS.value, session_id=session_id)

    @classmethod
    def bearer(cls, subject: str, issuer: str, scopes: tuple[str, ...]) -> Principal:
        """A caller with a verified bearer token: ``subject`` vouched for by ``issuer``."""
        return cls(kind=PrincipalKind.BEARER.value, subject=subject, issuer=issuer, scopes=scopes)

    @property
    def is_anonymous(self) -> bool:
        """True when nobody vouches for the caller."""
        return self.kind == PrincipalKind.ANONYMOUS

    @property
    def name(self) -> str:
        """A short display name for logs: ``local:alice``, ``anonymous``."""
        return f"{self.kind}:{self.subject}" if self.subject else self.kind

    @property
    def is_bearer(self) -> bool:
        """True when a verified bearer token vouches for the caller (issue 7)."""
        return self.kind == PrincipalKind.BEARER

    @property
    def identity(self) -> str:
        """Who the caller is, unambiguously: what sessions, tasks and ``requestState`` are
        bound to (ADR-0016). A bearer principal is its issuer and subject together (two
        issuers may both have an ``alice``), the same in every session and era; other kinds
        are their :attr:`name`."""
        if self.kind != PrincipalKind.BEARER:
            return self.name
        return "bearer:" + _identity_encoder.encode([self.issuer, self.subject]).decode()
