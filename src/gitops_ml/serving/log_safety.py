"""The server's log cannot be forged or flooded by a caller: every logged value escaped, client errors in one line.

- :class:`OneLineRecords` goes on every handler of the server's log: each record's message is written as one line,
  its control characters escaped (``\\n`` as ``\\x0a``, NUL as ``\\x00``, escape sequences as ``\\x1b``) by the same
  helper as the CLI's output (:func:`gitops_ml.terminal.plain_text`) and cut at :data:`MAX_MESSAGE_CHARS`; a
  traceback (only unexpected errors have one now) is indented, so none of its lines can pass for a record.
- :class:`ClientErrorRecords` goes on the logger BentoML writes failed requests to
  (:func:`gitops_ml.adapters.bentoml_server.request_error_logger`): a request refused with a 4xx (a body that is
  not valid JSON, a record that breaks the schema) becomes one WARNING line naming the status and the first
  fields at fault, each cut short, instead of an ERROR with a 20-line traceback that quoted the input.

:func:`install` puts both in place; the service calls it at import, after BentoML has configured the worker's log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from gitops_ml.terminal import plain_text

MAX_MESSAGE_CHARS = 2_000
MAX_FIELD_CHARS = 40  # of a field's name in a client error (a key the caller sent can be any length)
MAX_PROBLEM_CHARS = 120
MAX_PROBLEMS = 3
NO_CONTROLS: frozenset[str] = frozenset()
TRACEBACK_INDENT = "    | "


def log_text(value: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``value`` as one safe log line: every control character escaped, cut at ``limit`` characters."""
    return plain_text(value, limit, keep=NO_CONTROLS)


class OneLineRecords(logging.Filter):
    """A handler filter: every record's message on one line, control characters escaped, length bounded."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it, as it would without this filter
            return True
        safe = log_text(message)
        if safe != message:
            record.msg, record.args = safe, None
        if record.exc_info and not record.exc_text:
            trace = logging.Formatter().formatException(record.exc_info)
            lines = plain_text(trace, MAX_MESSAGE_CHARS * 4).splitlines()
            record.exc_text = "\n".join(TRACEBACK_INDENT + line for line in lines)
        return True


def client_error(error: BaseException | None) -> tuple[int, str] | None:
    """The status and a short summary of a request refused for the caller's fault; None for anything else."""
    from bentoml.exceptions import BentoMLException
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        problems = [
            f"{'.'.join(log_text(part, MAX_FIELD_CHARS) for part in problem['loc']) or '(body)'}: "
            f"{log_text(problem['msg'], MAX_PROBLEM_CHARS)}"
            for problem in error.errors(include_input=False, include_context=False)[:MAX_PROBLEMS]
        ]
        more = error.error_count() - len(problems)
        summary = "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
        return 400, f"{error.error_count()} validation error(s): {summary}"
    if isinstance(error, BentoMLException):
        status = int(getattr(error, "error_code", 500))
        if status < 500:
            return status, log_text(error, MAX_PROBLEM_CHARS)
    return None


class ClientErrorRecords(logging.Filter):
    """A logger filter: a request refused with a 4xx is logged as one WARNING line without traceback or input."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = client_error(record.exc_info[1] if record.exc_info else None)
        if found is None:
            return True
        status, summary = found
        try:
            where = record.getMessage().removeprefix("Exception on ")  # BentoML's "Exception on /predict [POST]"
        except Exception:
            where = "a request"
        record.msg, record.args = "refused %s with %d: %s", (where, status, summary)
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text = None, None
        return True


SERVER_LOGGERS = ("", "bentoml", "bentoml.access", "uvicorn", "uvicorn.error", "uvicorn.access", "circus")
"""The loggers whose handlers write the server's log (BentoML configures the root's and ``bentoml``'s)."""


def install(handlers: Iterable[logging.Handler] | None = None, request_errors: logging.Logger | None = None) -> None:
    """Add :class:`OneLineRecords` to ``handlers`` (default: those of :data:`SERVER_LOGGERS`) and
    :class:`ClientErrorRecords` to ``request_errors`` (default: BentoML's request-error logger), each once."""
    from gitops_ml.adapters.bentoml_server import request_error_logger

    if handlers is None:
        handlers = {handler for name in SERVER_LOGGERS for handler in logging.getLogger(name).handlers}
    _add_once(request_errors or request_error_logger(), ClientErrorRecords())
    for handler in handlers:
        _add_once(handler, OneLineRecords())


def _add_once(target: Any, new: logging.Filter) -> None:
    if not any(type(existing) is type(new) for existing in target.filters):
        target.addFilter(new)
