"""``POST /predict`` answered in front of BentoML's per-request machinery: the same contract for under half the CPU.

**Why.** Profiled under load (docs/performance-latency.md), a one-record request cost the service's worker about
2.7 ms of CPU against 0.7 ms for a bare uvicorn + Starlette app calling the same scorer: BentoML's layers
(OpenTelemetry span, traffic metrics, access log, timeout, Starlette routing, its endpoint wrapper and serde) took
more than the model, HTTP parsing and JSON together, and the service's knee sat at a third of the bare app's.
BentoML has no hook to run an endpoint without those layers, so :class:`PredictEndpoint` is the outermost ASGI
layer (:func:`gitops_ml.adapters.bentoml_server.wrap_app`): it answers ``POST /predict`` itself and hands every
other request to BentoML's app unchanged.

**What stays the same for a caller**: the request model (:func:`~gitops_ml.serving.schema.request_model`,
validated from the raw JSON by pydantic as BentoML did, so every 400 lists the same ``loc``/``type``/``msg``), the
response model, 415 for a body that is not JSON, 401/403 with authentication on
(:class:`~gitops_ml.serving.auth.BearerAuth`, same policy), 503 until the model is loaded, a generic 500 (logged
with its traceback) for a fault of the service, the ``X-BentoML-Request-ID`` header (the id written with each
record in the prediction log), one access-log line in BentoML's format on the ``bentoml.access`` logger, and one
WARNING line per refused body.

**What differs**: ``/predict``'s request counts and latencies are the service's own metrics
(``gitops_ml_predict_requests_total``, ``gitops_ml_predict_request_duration_seconds``,
``gitops_ml_predict_requests_in_progress``: :class:`~gitops_ml.serving.metrics.RequestMetrics`) rather than
BentoML's ``bentoml_service_request_*``, which keep counting the other endpoints; ``/predict`` gets no
OpenTelemetry span, and BentoML's ``traffic.timeout`` does not apply to it (a model call is bounded by
``serving.max_records``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from gitops_ml.adapters.bentoml_request_id import HEADER_FORMAT
from gitops_ml.serving.log_safety import client_error
from gitops_ml.serving.metrics import RequestMetrics
from gitops_ml.serving.middleware import ASGIApp, JsonBodyOnly, Message, Receive, Scope, Send, send_json

PATH = "/predict"
REQUEST_ID_HEADER = b"x-bentoml-request-id"
REQUEST_ID = "gitops_ml.request_id"
"""Where the request's id travels in the ASGI scope, from the outer layer to the handler."""
NOT_READY = "the model is not loaded yet; retry when /readyz answers 200"
SERVER_ERROR = "An unexpected error has occurred, please check the server log."

logger = logging.getLogger("gitops_ml.serving")
access_logger = logging.getLogger("bentoml.access")


class Answerer(Protocol):
    """What the endpoint needs of the service instance: whether it can answer, and the answer to valid records."""

    def is_ready(self) -> bool:
        """True once the model is loaded."""

    def answer(self, records: Sequence[Any], request_id: str) -> Awaitable[BaseModel]:
        """The response to the validated ``records`` of one request."""


class PredictEndpoint:
    """The outermost ASGI layer: ``POST /predict`` answered here, every other request passed to BentoML's app.

    Made when the service module is imported; BentoML's worker then builds its app, which :meth:`in_front_of`
    puts behind this layer, and creates the service instance, which :meth:`bind` hands to it. ``request_model``
    validates the body (``{"records": [...]}``); ``authenticate`` wraps the handler in the service's
    authentication layer (:class:`~gitops_ml.serving.auth.BearerAuth`) when authentication is on. Until the
    instance is bound and its model loaded, ``/predict`` answers 503.
    """

    def __init__(
        self,
        request_model: type[BaseModel],
        metrics: RequestMetrics,
        authenticate: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        """The endpoint; nothing is served until :meth:`in_front_of` gives it BentoML's app."""
        self.app: ASGIApp | None = None
        self.request_model = request_model
        self.metrics = metrics
        self.service: Answerer | None = None
        handler: ASGIApp = JsonBodyOnly(self._handle, paths=(PATH,))
        self._handler = authenticate(handler) if authenticate is not None else handler
        self._random = random.Random()

    def in_front_of(self, app: ASGIApp) -> PredictEndpoint:
        """This layer, now in front of ``app`` (BentoML's application, already wrapped as the service wants)."""
        self.app = app
        return self

    def bind(self, service: Answerer) -> None:
        """Answer ``/predict`` with ``service`` from now on."""
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``POST /predict``; pass anything else to BentoML's app."""
        if scope["type"] == "http" and scope["path"] == PATH and scope.get("method") == "POST":
            await self._observed(scope, receive, send)
        else:
            assert self.app is not None, "in_front_of() gives the endpoint BentoML's app before it serves"
            await self.app(scope, receive, send)

    async def _observed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request counted, timed and written to the access log, whoever answers it (auth, 415 or handler)."""
        start = time.perf_counter()
        request_id = format(self._random.getrandbits(64), HEADER_FORMAT)  # as BentoML writes its ids
        scope[REQUEST_ID] = request_id
        status = 500
        response_type = response_length = b""

        async def observed_send(message: Message) -> None:
            nonlocal status, response_type, response_length
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                for name, value in headers:
                    if name == b"content-type":
                        response_type = value
                    elif name == b"content-length":
                        response_length = value
                message["headers"] = [*headers, (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self._handler(scope, receive, observed_send)
        finally:
            self.metrics.in_progress.dec()
            seconds = time.perf_counter() - start
            self.metrics.observe(status, seconds)
            if access_logger.isEnabledFor(logging.INFO):
                _log_access(scope, status, response_type, response_length, seconds)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        service = self.service
        if service is None or not service.is_ready():
            await send_json(send, 503, {"error": NOT_READY})
            return
        try:
            request = self.request_model.model_validate_json(body or b"{}")
        except ValidationError as exc:
            await send_json(send, 400, _validation_answer(exc))
            return
        try:
            response = await service.answer(request.records, scope[REQUEST_ID])  # type: ignore[attr-defined]
            payload = response.model_dump_json().encode()  # as BentoML serialized it (aliases: column names)
        except Exception:  # a fault of the service, not the caller's: logged in full, answered without detail
            logger.exception("cannot answer %s [POST]", PATH)
            await send_json(send, 500, {"error": SERVER_ERROR})
            return
        await send_json(send, 200, None, body=payload)


def _validation_answer(exc: ValidationError) -> dict[str, Any]:
    """BentoML's 400 body for a body the request model refused, and its one WARNING line (no input quoted)."""
    found = client_error(exc)
    if found is not None:
        logger.warning("refused %s [POST] with %d: %s", PATH, *found)
    return {
        "error": f"{exc.error_count()} validation error for {exc.title}",
        "detail": exc.errors(include_context=False, include_input=False),
    }


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _log_access(scope: Scope, status: int, response_type: bytes, response_length: bytes, seconds: float) -> None:
    """One line in the format of BentoML's access log, so ``/predict`` reads as every other endpoint does."""
    request_type = request_length = b""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            request_type = value
        elif name == b"content-length":
            request_length = value
    client = scope.get("client")
    access_logger.info(
        "%s (scheme=%s,method=POST,path=%s,type=%s,length=%s) (status=%d,type=%s,length=%s) %.3fms",
        f"{client[0]}:{client[1]}" if client else "_",
        scope.get("scheme", "http"),
        PATH,
        request_type.decode("latin-1"),
        request_length.decode("latin-1"),
        status,
        response_type.decode("latin-1"),
        response_length.decode("latin-1"),
        seconds * 1000,
    )
