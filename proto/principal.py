"""Who a call is made for: the ``Principal`` a front attaches to every call and a handler
reads as ``ctx.principal``.

Until authentication exists (issue 7) a principal says only what a front honestly knows:

- **stdio**: the client launched the stdio front as a local OS user, so calls are that
  user's: ``Principal(kind="local", subject="<username>")``.
- **handshake-era HTTP**: nobody is authenticated; the caller is anonymous, bound to its
  ``Mcp-Session-Id``: ``Principal(kind="anonymous", session_id="<id>")``.
- **2026-07-28 HTTP**: anonymous, with no session (the era has none).

- **HTTP with a verified bearer token** (issue 7): ``Principal(kind="bearer")`` with
  ``subject``, ``issuer`` and ``scopes`` from the JWT; handlers read the same fields.

On the wire the principal is the last element of a ``CallMessage`` (an array, so fields are
only appended, with defaults). ``kind`` is a plain string, not an enum: a worker of an older
version must still decode a call whose principal has a kind it has never heard of.
"""

from __future__ import annotations

import enum

import msgspec

__all__ = ["Principal", "PrincipalKind"]


class PrincipalKind(enum.StrEnum):
    """The kinds a front sets today (``Principal.kind`` holds the plain string)."""

    LOCAL = "local"
    """A local OS user: the stdio transport."""

    ANONYMOUS = "anonymous"
    """An unauthenticated HTTP caller."""

    BEARER = "bearer"
    """An HTTP caller whose bearer token was verified (issue 7): ``subject`` and
    ``issuer`` from the token's ``sub`` and ``iss``, ``scopes`` from ``scope``/``scp``."""


class Principal(msgspec.Struct, frozen=True, array_like=True):
    """The caller a call is made for (see the module docstring for what each transport sets).

    Attributes:
        kind: ``"local"`` or ``"anonymous"`` today (:class:`PrincipalKind`); other values
            may come from newer fronts.
        subject: who: the OS user name for ``local``; empty for ``anonymous``.
        issuer: who vouches for ``subject`` (a token's issuer); empty until issue 7.
        session_id: the handshake-era HTTP session the call belongs to; empty otherwise.
        scopes: the scopes granted to the caller; empty until issue 7.
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
