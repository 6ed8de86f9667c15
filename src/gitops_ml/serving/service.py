"""The prediction service: ``POST /predict`` in front of the released model (BentoML class API).

At import the module resolves the model in the BentoML model store (``MODEL_NAME:latest``, or the tag given
with ``bentoml build --arg model_tag=...``) and reads the ``params.yaml`` stored with it, so the request schema
is the data contract the model was trained on, and a built bento (or its container) needs nothing from the
working directory. Bad input is refused by the generated pydantic model with HTTP 400 naming the field.

Endpoints: ``/predict``, and BentoML's ``/livez``, ``/readyz`` (503 until the model is loaded), ``/metrics``
(Prometheus: request counts and latencies, plus the model-call histogram below) and ``/docs.json`` (OpenAPI).
"""

from __future__ import annotations

import os

# One OpenMP thread per model call, set before scikit-learn loads its OpenMP runtime: requests already run in
# parallel across workers and batches, and tree models spinning up every core per call were ten times slower
# on a busy 2-core machine. Export OMP_NUM_THREADS before `bentoml serve` to change it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import logging
import threading
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
from bentoml.exceptions import ServiceUnavailable

from gitops_ml.config import Params, load_params
from gitops_ml.pipeline.interface import ColumnScorer, column_scorer
from gitops_ml.serving.batching import Batcher, Columns
from gitops_ml.serving.latency_metrics import record_call
from gitops_ml.serving.middleware import JsonBodyOnly
from gitops_ml.serving.schema import request_model, response_model
from gitops_ml.serving.store import MODEL_NAME, PARAMS_FILE, ModelStoreError, stored_files

logger = logging.getLogger("gitops_ml.serving")
logging.getLogger("gitops_ml").setLevel(logging.INFO)  # BentoML leaves the root at WARNING: show our INFO lines
SERVICE_NAME = "gitops-ml-service"


def _model_tag() -> str:
    """The model to serve: the ``model_tag`` bento argument, else the newest entry of :data:`MODEL_NAME`."""
    return str(getattr(bentoml.use_arguments(), "model_tag", None) or f"{MODEL_NAME}:latest")


MODEL = bentoml.models.BentoModel(_model_tag())
_stored = MODEL.stored
if _stored is None:
    raise ModelStoreError(
        f"model {MODEL.tag} is not in the BentoML model store ($BENTOML_HOME/models); "
        "run `make import-model` (gitops-ml import-model) first"
    )
MODEL_DIR = Path(_stored.path)
MODEL_VERSION = str(_stored.info.labels.get("model_version", _stored.tag.version))
PARAMS: Params = load_params(MODEL_DIR / PARAMS_FILE)
Record, PredictRequest = request_model(PARAMS)
Prediction, PredictResponse = response_model(PARAMS.schema)
_COLUMNS: dict[str, str] = {name: field.alias or name for name, field in Record.model_fields.items()}
FEATURES = {name: column for name, column in _COLUMNS.items() if column in PARAMS.schema.columns}
IDS = {name: column for name, column in _COLUMNS.items() if column in PARAMS.schema.ids}  # attribute -> column

BATCH_ROWS = bentoml.metrics.Histogram(
    name="gitops_ml_model_call_records",
    documentation="Records per model call (more than one request's records when requests were batched).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
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
        self._threshold = PARAMS.evaluate.threshold
        self._batcher = Batcher(self._scores, PARAMS.serving.max_batch_size, on_call=record_call)
        threading.Thread(target=self._load, name="load-model", daemon=True).start()

    def _load(self) -> None:
        try:
            _, self._model = stored_files(MODEL_DIR)  # skops with the explicit trusted-types list
            self._score = column_scorer(self._model, PARAMS.schema)  # logs which scoring path serves
            self._batcher.inline_max_rows = self._score.quick_call_max_rows  # no thread hand-over for tiny calls
            logger.info("loaded model %s (version %s)", MODEL.tag, MODEL_VERSION)
        except BaseException as exc:  # reported by /livez and /readyz, and in the log
            self._error = exc
            logger.error("cannot load model %s: %s", MODEL.tag, exc)
        finally:
            self._loaded.set()

    def __is_ready__(self) -> bool:
        """Ready once the model is loaded."""
        return self._loaded.is_set() and self._error is None

    def __is_alive__(self) -> bool:
        """Alive unless loading the model failed (so an orchestrator restarts or replaces the instance)."""
        return self._error is None

    def _scores(self, columns: Columns) -> np.ndarray:
        """Positive-class probabilities for the rows of ``columns`` (called by the batcher in a thread)."""
        assert self._score is not None  # the batcher is only called once the model is loaded
        BATCH_ROWS.observe(len(next(iter(columns.values()), ())))
        return self._score(columns)

    @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=PredictResponse)
    async def predict(self, records: list[Any]) -> PredictResponse:
        """Score 1 to ``serving.max_records`` records; predictions come back in the same order."""
        if not self.__is_ready__():
            raise ServiceUnavailable("the model is not loaded yet; retry when /readyz answers 200")
        columns = {column: [getattr(record, name) for record in records] for name, column in FEATURES.items()}
        scores = await self._batcher(columns)
        threshold = self._threshold
        predictions = [
            Prediction(
                label=int(score >= threshold),
                probability=float(score),
                **{name: getattr(record, name) for name in IDS},
            )
            for record, score in zip(records, scores, strict=True)
        ]
        return PredictResponse(predictions=predictions, model_version=MODEL_VERSION)


PredictionService.add_asgi_middleware(JsonBodyOnly, paths=("/predict",))
