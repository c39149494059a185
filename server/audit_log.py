"""The audit trail: one structured line per security event (authentication failure,
authorization denial, rate-limit rejection, task cancellation, ...), apart from the
application's logs (enterprise-requirements 2.8, docs/security.md "Audit trail and
redaction").

A line is a log line like any other (JSON on stderr, with ``timestamp``, ``level``,
``role``, ``pid``, and the ``request_id`` bound to the context when there is one) plus
``"audit": true``, so a shipper can route them to their own store. Audit lines are written
at ``info`` whatever ``log_level`` says: an operator can quiet the application's logs, not
the audit trail.

Fields are the event's facts: ``principal`` (its display name), ``outcome``, ``tool``,
``request_id``, ``client`` (the peer's address), ``task_id``, ``reason``. Never a token, a
secret or an argument's value; the log redaction (``supervisor/log_redaction.py``) is the
safety net, not the plan.
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
    """Write one audit line for ``event`` (``auth.failed``, ``authz.denied``,
    ``task.cancel_requested``, …) with ``fields``; those left out are absent, not empty."""
    _log.info(event, audit=True, **fields)


class Requester(msgspec.Struct, frozen=True, kw_only=True):
    """Who made a request, as its audit lines name them.

    Attributes:
        principal: the caller.
        request_id: the front's id for the request (its log lines carry the same).
        client: the peer's address (``"stdio"`` on the stdio transport).
    """

    principal: Principal
    request_id: str = ""
    client: str = ""

    def audit(self, event: str, **fields: object) -> None:
        """:func:`audit` for ``event``, naming the requester; empty facts are left out."""
        known: dict[str, object] = {"principal": self.principal.name}
        if self.principal.session_id:
            known["session_id"] = self.principal.session_id
        if self.request_id:
            known["request_id"] = self.request_id
        if self.client:
            known["client"] = self.client
        audit(event, **known, **fields)
