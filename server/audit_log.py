"""The audit trail: one structured line per security event (authentication failure,
authorization denial, rate-limit rejection, task cancellation, ...), apart from the
application's logs (enterprise-requirements 2.8, docs/security.md "Audit trail and
redaction").

A line is a log line like any other (JSON on stderr, with ``timestamp``, ``level``,
``role``, ``pid``, and the ``request_id`` bound to the context when there is one) plus
``"audit": true``, so a shipper can route them to their own store. Audit lines are written
at ``info`` whatever ``log_level`` says: an operator can quiet the application's logs, not
the audit trail.

Fields are the event's facts. Every event about a request is written through
:meth:`Requester.audit`, so each names its requester the same way: ``principal`` (its
display name), ``issuer`` (a bearer principal's: two issuers may both have an ``alice``),
``session_id``, ``request_id``, ``client`` (the peer's address); then what it is about
(``tool``, ``task_id``, …) and ``outcome``. A fact that is unknown is left out, never
written empty. Never a token, a secret or an argument's value; the log redaction
(``supervisor/log_redaction.py``) is the safety net, not the plan.
"""

from __future__ import annotations

import logging

import msgspec
import structlog

from proto import Principal

__all__ = ["Requester", "audit"]

_log = structlog.wrap_logger(
    None,
    # Every level passes: the process's log_level filters its other loggers only.
    wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
    logger_factory_args=("audit",),
)


def audit(event: str, **fields: object) -> None:
    """Write one audit line for ``event`` with ``fields`` as given; those left out are
    absent. The fleet's events (``auth.failed``, ``authz.denied``, ``limit.rejected``,
    ``task.cancel_requested``) go through :meth:`Requester.audit`, which names the
    requester alike on each."""
    _log.info(event, audit=True, **fields)


class Requester(msgspec.Struct, frozen=True, kw_only=True):
    """Who made a request, as its audit lines name them.

    Attributes:
        principal: the caller; None when nobody could be named (a refused token).
        request_id: the front's id for the request (its log lines carry the same).
        client: the peer's address (``"stdio"`` on the stdio transport).
    """

    principal: Principal | None = None
    request_id: str = ""
    client: str = ""

    def audit(self, event: str, **fields: object) -> None:
        """:func:`audit` for ``event``, naming the requester first (``principal``,
        ``issuer``, ``session_id``, ``request_id``, ``client``), then ``fields``; a fact
        that is empty (``""`` or None) is left out."""
        known: dict[str, object] = {}
        principal = self.principal
        if principal is not None:
            known["principal"] = principal.name
            if principal.issuer:
                known["issuer"] = principal.issuer
            if principal.session_id:
                known["session_id"] = principal.session_id
        if self.request_id:
            known["request_id"] = self.request_id
        if self.client:
            known["client"] = self.client
        for name, value in fields.items():
            if value is not None and value != "":
                known[name] = value
        audit(event, **known)
