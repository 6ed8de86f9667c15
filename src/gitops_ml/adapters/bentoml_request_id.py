"""The id BentoML gives the request being served: the one its ``X-BentoML-Request-ID`` response header carries.

BentoML sets it per request from the request's OpenTelemetry span and keeps it in
``bentoml._internal.context.trace_context.request_id``, with no public accessor. The prediction log writes it
with each record, so a logged record can be matched with the response its caller got. This adapter is the only
place that reads it, and :func:`check` fails naming the installed BentoML version if it moves (tests/adapters).
"""

from __future__ import annotations

import functools
from typing import Any

from gitops_ml.adapters import broken, private_attribute

DISTRIBUTION = "bentoml"
MODULE, NAME = "bentoml._internal.context", "trace_context"
ADAPTER = "src/gitops_ml/adapters/bentoml_request_id.py"
HEADER_FORMAT = "016x"
"""How BentoML writes the id in the header (its default ``logging.formatting.span_id``)."""


@functools.cache
def _trace_context() -> Any:
    context = private_attribute(MODULE, NAME, DISTRIBUTION, ADAPTER)
    if not isinstance(getattr(type(context), "request_id", None), property):
        raise broken(DISTRIBUTION, f"{MODULE}.{NAME}.request_id", ADAPTER, "it is no longer a property")
    return context


def check() -> None:
    """Raise :class:`~gitops_ml.errors.PrivateApiError` unless the request id is where this adapter reads it."""
    _trace_context()


def request_id() -> str | None:
    """The id of the request being served, as the ``X-BentoML-Request-ID`` header shows it; None outside one."""
    value = _trace_context().request_id
    return None if value is None else format(value, HEADER_FORMAT)
