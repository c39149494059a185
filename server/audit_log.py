"""The audit trail: one structured line per security event (authentication failure,
authorization denial, rate-limit rejection, task cancellation, ...), apart from the
application's logs: logger ``audit`` and ``"audit": true`` on the line, so a shipper can
route them to their own store (enterprise-requirements 2.8).

Fields are the event's facts: ``principal`` (its display name), ``tool``, ``outcome``,
``request_id``, ``client`` (address), ``reason``. Never a token, a secret or an argument's
value.
"""

from __future__ import annotations

import structlog

__all__ = ["audit"]

_log = structlog.get_logger("audit")


def audit(event: str, **fields: object) -> None:
    """Write one audit line for ``event`` (``auth.failed``, ``authz.denied``, …)."""
    _log.warning(event, audit=True, **fields)
