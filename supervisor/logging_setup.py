"""structlog configuration, done once per process by its entry point: JSON lines on stderr
(stdout belongs to the protocol on stdio), stdlib loggers bridged into the same stream,
secrets redacted from both (``supervisor/log_redaction.py``) just before rendering."""

from __future__ import annotations

import logging
import os
import sys

import structlog

from supervisor.log_redaction import SecretRedactor

__all__ = ["configure_logging"]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _ProcessFields:
    """Tags each line with the process's role and pid: a processor, not a context variable,
    so lines from threads (sync handlers, rq task threads) carry them too."""

    def __init__(self, role: str) -> None:
        self._role = role

    def __call__(
        self, _logger: object, _method: str, event_dict: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        event_dict["role"] = self._role
        event_dict["pid"] = os.getpid()
        return event_dict


def configure_logging(level: str, *, role: str) -> None:
    """Send every log line of this process to stderr as JSON, tagged with its ``role`` and
    pid, secrets redacted."""
    threshold = _LEVELS.get(level, logging.INFO)
    redact = SecretRedactor()
    shared: list[structlog.types.Processor] = [
        _ProcessFields(role),
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            # Never render frame locals: they hold tool arguments and tokens.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            redact,  # last: a rendered exception's text is searched too
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(threshold, logging.WARNING))
