"""Two places in BentoML's HTTP server that have no public hook: the outermost ASGI layer, and the logger that
writes every refused request with a traceback.

- **The outermost layer.** BentoML puts its own middleware (request metrics, tracing, access log) outside every
  middleware a service adds with ``add_asgi_middleware``, and each of them reads the raw request path before a
  service's middleware runs. :func:`wrap_app` wraps the application :meth:`bentoml.Service.to_asgi` builds (the
  call BentoML's worker makes) so a layer of the service's own runs first. It does so by giving the one service
  object a subclass whose ``to_asgi`` wraps the result: BentoML's class is slotted, so nothing else about the
  object changes, and no other service is touched.
- **The request-error logger.** ``bentoml._internal.server.http_app.log_exception`` logs every request that
  failed, 400s included, at ERROR with the exception's traceback, on that module's ``logger``.
  :func:`request_error_logger` returns that logger, so the service can add a filter to it.

:func:`check` (run by tests/adapters) fails naming the installed BentoML version if either moves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gitops_ml.adapters import broken, private_attribute, require_parameters

DISTRIBUTION = "bentoml"
ADAPTER = "src/gitops_ml/adapters/bentoml_server.py"
LOG_MODULE = "bentoml._internal.server.http_app"


def _to_asgi(service_class: type) -> Any:
    to_asgi = getattr(service_class, "to_asgi", None)
    if not callable(to_asgi):
        raise broken(DISTRIBUTION, f"{service_class.__name__}.to_asgi", ADAPTER, "no such method")
    require_parameters(to_asgi, ("is_main",), DISTRIBUTION, f"{service_class.__name__}.to_asgi", ADAPTER)
    return to_asgi


def wrap_app(service: Any, wrap: Callable[[Any], Any]) -> None:
    """Make ``service.to_asgi()`` return ``wrap(app)`` around the ASGI app BentoML builds for ``service``."""
    _to_asgi(type(service))

    class Wrapped(type(service)):  # type: ignore[misc]  # a subclass of the service's own (slotted) class
        __slots__ = ()

        def to_asgi(self, is_main: bool = True) -> Any:
            return wrap(super().to_asgi(is_main=is_main))

    Wrapped.__name__ = Wrapped.__qualname__ = type(service).__name__
    service.__class__ = Wrapped


def request_error_logger() -> logging.Logger:
    """The logger BentoML's ``log_exception`` writes failed requests to (with their traceback, at ERROR)."""
    private_attribute(LOG_MODULE, "log_exception", DISTRIBUTION, ADAPTER)
    logger = private_attribute(LOG_MODULE, "logger", DISTRIBUTION, ADAPTER)
    if not isinstance(logger, logging.Logger):
        raise broken(DISTRIBUTION, f"{LOG_MODULE}.logger", ADAPTER, f"it is a {type(logger).__name__}, not a Logger")
    return logger


def check() -> None:
    """Raise :class:`~gitops_ml.errors.PrivateApiError` unless both hooks are where this adapter expects them."""
    import bentoml

    _to_asgi(bentoml.Service)
    request_error_logger()
