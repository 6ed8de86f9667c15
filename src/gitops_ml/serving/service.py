"""The prediction service: ``POST /predict`` in front of the released model (BentoML class API).

At import the module resolves the model in the BentoML model store (``MODEL_NAME:latest``, or the tag given
with ``bentoml build --arg model_tag=...``) and reads the ``params.yaml`` stored with it, so the request schema
is the data contract the model was trained on, and a built bento (or its container) needs nothing from the
working directory. Bad input is refused by the generated pydantic model with HTTP 400 naming the field.

Endpoints: ``/predict`` (its response follows ``schema.task``: ``schema.py``; answered ahead of BentoML's
per-request machinery by ``predict_endpoint.py``, the same contract for a third of the CPU), and BentoML's ``/livez``,
``/readyz`` (503 until the model is loaded), ``/metrics`` (Prometheus: request counts and latencies, plus the
service's own in ``metrics.py``) and ``/docs.json`` (OpenAPI).
Each scored record also goes to the prediction log (``prediction_log.py``), off the request path.
With ``GITOPS_ML_AUTH=on`` every endpoint but the probes needs a bearer token with a role (docs/auth.md).
"""

from __future__ import annotations

import os

# One OpenMP thread per model call, set before scikit-learn loads its OpenMP runtime: requests already run in
# parallel across workers and batches, and tree models spinning up every core per call were ten times slower
# on a busy 2-core machine. Export OMP_NUM_THREADS before `bentoml serve` to change it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gc
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
from bentoml.exceptions import ServiceUnavailable
from pydantic import BaseModel

from gitops_ml.adapters.bentoml_server import wrap_app
from gitops_ml.config import Params, load_params
from gitops_ml.model_call.scorer import ColumnScorer, column_scorer
from gitops_ml.serving import log_safety
from gitops_ml.serving.auth import SERVICE_POLICY, BearerAuth
from gitops_ml.serving.auth_config import AUTH_OFF_WARNING, AuthConfigError, AuthSettings, load_auth_settings
from gitops_ml.serving.batching import Batcher, Columns
from gitops_ml.serving.metrics import ServiceMetrics
from gitops_ml.serving.middleware import ASGIApp, JsonBodyOnly, RestorePath, RouteLabels
from gitops_ml.serving.openapi_security import DocumentBearerScheme
from gitops_ml.serving.predict_endpoint import NOT_READY, PredictEndpoint
from gitops_ml.serving.prediction_log import start_prediction_log
from gitops_ml.serving.schema import Responder, columns_of, field_columns, request_model
from gitops_ml.serving.store import MODEL_NAME, PARAMS_FILE, missing_model_message, stored_files

logger = logging.getLogger("gitops_ml.serving")
logging.getLogger("gitops_ml").setLevel(logging.INFO)  # BentoML leaves the root at WARNING: show our INFO lines
log_safety.install()  # one line per record, control characters escaped; a refused request is one WARNING
SERVICE_NAME = "gitops-ml-service"


def _auth_settings() -> AuthSettings:
    """The authentication settings from the environment; a bad one stops the server with one message.

    ``SystemExit`` rather than the error itself: BentoML's loader would print a page of its own frames above the
    message. The first server process (worker 1) says once whether auth is on; the CLI process and the other
    workers import this module too, and ``bentoml build`` imports it without serving anything.
    """
    try:
        settings = load_auth_settings(os.environ)
    except AuthConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    if bentoml.server_context.worker_index == 1:
        if settings.tokens is None:
            logger.warning(AUTH_OFF_WARNING)
        else:
            logger.info("authentication on: %d token(s) from %s", len(settings.tokens), settings.source)
    return settings


AUTH = _auth_settings()


def _model_tag() -> str:
    """The model to serve: the ``model_tag`` bento argument, else the newest entry of :data:`MODEL_NAME`."""
    return str(getattr(bentoml.use_arguments(), "model_tag", None) or f"{MODEL_NAME}:latest")


MODEL = bentoml.models.BentoModel(_model_tag())
_stored = MODEL.stored
if _stored is None:  # SystemExit, not an error: BentoML's loader would print its frames above the message
    raise SystemExit(f"error: {missing_model_message(MODEL.tag.name, MODEL.tag.version, Path.cwd())}")
MODEL_DIR = Path(_stored.path)
MODEL_VERSION = str(_stored.info.labels.get("model_version", _stored.tag.version))
PARAMS: Params = load_params(MODEL_DIR / PARAMS_FILE)
Record, PredictRequest = request_model(PARAMS)
FEATURES, IDS = field_columns(Record, PARAMS.schema)  # attribute -> column
RESPONDER = Responder.of(PARAMS.schema, PARAMS.evaluate.threshold, IDS)  # the response of schema.task
PredictResponse = RESPONDER.response

METRICS = ServiceMetrics(MODEL_VERSION, PARAMS.schema, PARAMS.evaluate.threshold)


def _authenticated(app: ASGIApp) -> ASGIApp:
    assert AUTH.tokens is not None
    return BearerAuth(app, tokens=AUTH.tokens, policy=SERVICE_POLICY)


PREDICT_ENDPOINT = PredictEndpoint(
    PredictRequest, METRICS.requests, _authenticated if AUTH.tokens is not None else None
)


@bentoml.service(
    name=SERVICE_NAME,
    workers=PARAMS.serving.workers,
    traffic={"timeout": 30},
    labels={"model_version": MODEL_VERSION},
)
class PredictionService:
    """Scores records with the model imported by ``gitops-ml import-model``."""

    model = MODEL

    def __init__(self) -> None:
        """Start loading the model in the background; ``/readyz`` answers 503 until it is loaded."""
        self._model: Any = None
        self._score: ColumnScorer | None = None
        self._error: BaseException | None = None
        self._loaded = threading.Event()
        self._batcher = Batcher(
            self._scores, PARAMS.serving.max_batch_size, METRICS.observe_queue_wait, METRICS.observe_call_time
        )
        self._log = start_prediction_log(PARAMS, MODEL_VERSION, METRICS)
        threading.Thread(target=self._load, name="load-model", daemon=True).start()
        PREDICT_ENDPOINT.bind(self)

    def _load(self) -> None:
        try:
            _, self._model = stored_files(MODEL_DIR)  # skops with the explicit trusted-types list
            self._score = column_scorer(self._model, PARAMS.schema)  # logs which scoring path serves
            self._batcher.inline_max_rows = self._score.quick_call_max_rows  # no thread hand-over for tiny calls
            # The ~235k objects of the imports and the model live as long as the process: leave them out of the
            # garbage collector's full collections, which otherwise pause every request for ~95 ms now and then
            # (the p99 of the latency benchmark, docs/performance-latency.md).
            gc.freeze()
            logger.info("loaded model %s (version %s)", MODEL.tag, MODEL_VERSION)
        except BaseException as exc:  # reported by /livez and /readyz, and in the log
            self._error = exc
            logger.error("cannot load model %s: %s", MODEL.tag, exc)
        finally:
            self._loaded.set()

    @bentoml.on_shutdown  # type: ignore[untyped-decorator]  # bentoml types its decorators loosely
    def close_prediction_log(self) -> None:
        """Write what the prediction log still holds and close its file (uploading it, for a URL)."""
        if self._log is not None:
            self._log.close()

    def __is_ready__(self) -> bool:
        """Ready once the model is loaded."""
        return self._loaded.is_set() and self._error is None

    is_ready = __is_ready__

    def __is_alive__(self) -> bool:
        """Alive unless loading the model failed (so an orchestrator restarts or replaces the instance)."""
        return self._error is None

    def _scores(self, columns: Columns) -> np.ndarray:
        """The task-shaped prediction of the rows of ``columns`` (called by the batcher: in a thread, or inline)."""
        assert self._score is not None  # the batcher is only called once the model is loaded
        predicted = self._score(columns)
        METRICS.observe_model_call(predicted)
        return predicted

    # untyped-decorator: bentoml.api types input_spec/output_spec as its IODescriptor, yet takes any pydantic model.
    @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=PredictResponse)  # type: ignore[untyped-decorator]
    async def predict(self, records: list[Any]) -> BaseModel:
        """Score 1 to ``serving.max_records`` records; predictions come back in the same order.

        Over HTTP, :data:`PREDICT_ENDPOINT` answers ``POST /predict`` before BentoML's route is reached; this
        method declares the endpoint (its OpenAPI document, BentoML's clients) and answers in-process calls.
        """
        if not self.__is_ready__():
            raise ServiceUnavailable(NOT_READY)
        return await self.answer(records)

    async def answer(self, records: Sequence[Any], request_id: str | None = None) -> BaseModel:
        """The response to one request's validated ``records`` (the model is loaded); ``request_id`` goes to the
        prediction log with them."""
        columns = columns_of(records, FEATURES)
        predicted = await self._batcher(columns)
        ids = columns_of(records, IDS)  # echoed in the predictions and logged
        if self._log is not None:  # the columns go to the log as they are: nothing changes them
            self._log.record(columns, ids, predicted, request_id)
        return RESPONDER.respond(predicted, ids, MODEL_VERSION)


# Outermost, PREDICT_ENDPOINT answers POST /predict; every other request goes on to RouteLabels, BentoML's layers,
# then the service's middleware. The first middleware added is the outermost: the real path is back (RouteLabels
# showed BentoML's own middleware the route's template), then authentication runs before anything reads the request.
# attr-defined: bentoml types @service(...) with a Protocol mypy cannot apply; at run time this is a bentoml Service.
wrap_app(PredictionService, lambda app: PREDICT_ENDPOINT.in_front_of(RouteLabels(app)))
PredictionService.add_asgi_middleware(RestorePath)  # type: ignore[attr-defined]
if AUTH.tokens is not None:
    PredictionService.add_asgi_middleware(BearerAuth, tokens=AUTH.tokens, policy=SERVICE_POLICY)  # type: ignore[attr-defined]
    PredictionService.add_asgi_middleware(DocumentBearerScheme, policy=SERVICE_POLICY)  # type: ignore[attr-defined]
PredictionService.add_asgi_middleware(JsonBodyOnly, paths=("/predict",))  # type: ignore[attr-defined]
