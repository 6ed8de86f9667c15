"""The prediction log: every scored record, in a JSON line per request, for the drift check and for audits.

One line per request, its records as columns (the format the drift check reads; docs/prediction-log.md)::

    {"timestamp": "2025-06-01T12:00:00.123+00:00", "request_id": "3f2a...", "model_version": "model-v3",
     "score": [0.0312, 0.91], "label": [0, 1], "ids": {"transaction_id": ["t-1", "t-2"]},
     "features": {"amount": [12.5, 980.0], ...}}

Only the schema's id and feature columns are written (the request model refuses any other field anyway),
with ``null`` for a missing value or an id the request left out. The prediction's fields follow the task
(:mod:`~gitops_ml.serving.log_lines`): binary ``score`` and ``label`` (the predicted class as the schema names it:
``schema.positive_class`` when the score reaches ``evaluate.threshold``, else ``negative_class``), multiclass
``label`` and ``probabilities`` (per class), regression ``value``. ``request_id`` is the one BentoML returns in
the ``X-BentoML-Request-ID`` header.

The request path only samples and queues (:meth:`PredictionLog.record`); building the lines
(:mod:`~gitops_ml.serving.log_lines`) and writing happen on a writer thread (:mod:`~gitops_ml.serving.log_writer`)
into rotating files or object storage (:mod:`~gitops_ml.serving.log_sinks`). Settings come from
``serving.prediction_log`` in the params stored with the model; ``GITOPS_ML_PREDICTION_LOG`` overrides them where
the service runs: a directory or an fsspec URL to log there, ``on`` to log to the configured location even when
``enabled`` is false, ``off`` to log nothing.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitops_ml.adapters import bentoml_request_id
from gitops_ml.config import Params, PredictionLogParams
from gitops_ml.errors import PrivateApiError
from gitops_ml.serving.log_lines import Columns, LineRenderer, ScoredBatch, Scores
from gitops_ml.serving.log_sinks import FsspecSink, RotatingFileSink, Sink, is_url
from gitops_ml.serving.log_writer import BackgroundWriter
from gitops_ml.serving.outputs import TaskOutput

if TYPE_CHECKING:
    from gitops_ml.serving.metrics import ServiceMetrics

logger = logging.getLogger("gitops_ml.serving.prediction_log")

ENV_VAR = "GITOPS_ML_PREDICTION_LOG"
OFF = frozenset({"off", "false", "0", "no"})
ON = frozenset({"on", "true", "1", "yes"})


@dataclass(frozen=True)
class LogSettings:
    """Where the prediction log goes and how: ``serving.prediction_log`` with the environment's override."""

    location: str
    sample_rate: float = 1.0
    max_bytes: int = 64 * 2**20
    max_seconds: float = 3600.0
    compress: bool = False
    queue_records: int = 10_000


def log_settings(params: PredictionLogParams, environ: Mapping[str, str] = os.environ) -> LogSettings | None:
    """The settings in force, or ``None`` when the log is off (``enabled: false``, or the variable says ``off``)."""
    override = environ.get(ENV_VAR, "").strip()
    if override.lower() in OFF or (not override and not params.enabled):
        return None
    location = params.location if not override or override.lower() in ON else override
    return LogSettings(
        location=resolve_location(location, environ),
        sample_rate=params.sample_rate,
        max_bytes=max(1, int(params.max_file_mb * 2**20)),
        max_seconds=params.max_file_minutes * 60,
        compress=params.compress,
        queue_records=params.queue_records,
    )


def resolve_location(location: str, environ: Mapping[str, str] = os.environ) -> str:
    """``location`` as an fsspec URL or an absolute directory.

    A relative directory is taken from where the server was started, the shell's ``PWD`` (as ``make serve``
    passes it), not from the process's working directory: BentoML runs its workers inside the bento's own
    directory, so ``logs/predictions`` would otherwise land in the bento store (or the image's bento directory).
    Without an absolute ``PWD`` that is a directory, the working directory it is.
    """
    if is_url(location):
        return location
    path = Path(location).expanduser()
    if path.is_absolute():
        return str(path)
    started_in = environ.get("PWD", "")
    base = Path(started_in) if started_in and Path(started_in).is_absolute() and Path(started_in).is_dir() else None
    return str((base or Path.cwd()) / path)


def open_sink(settings: LogSettings) -> Sink:
    """Rotating files in the directory ``settings.location``, or uploads to it when it is a URL."""
    if is_url(settings.location):
        return FsspecSink(settings.location, settings.max_bytes, settings.max_seconds, settings.compress)
    return RotatingFileSink(settings.location, settings.max_bytes, settings.max_seconds, settings.compress)


def current_request_id() -> str:
    """The id BentoML gives the request being served (as in ``X-BentoML-Request-ID``), else a new random one."""
    try:
        found = bentoml_request_id.request_id()
    except PrivateApiError as exc:
        _warn_once(str(exc))
        found = None
    return found or uuid.uuid4().hex


@functools.cache
def _warn_once(message: str) -> None:
    logger.warning("prediction log: request ids are random, not BentoML's: %s", message)


class PredictionLog:
    """Samples scored records and queues them for the writer thread; never blocks, never raises."""

    def __init__(
        self, writer: BackgroundWriter[ScoredBatch], sample_rate: float = 1.0, rng: random.Random | None = None
    ) -> None:
        """``rng`` draws the sample (seed it in tests)."""
        self.writer = writer
        self.sample_rate = sample_rate
        self._random = (rng or random.Random()).random
        self._failed = False

    def record(self, features: Columns, ids: Columns, scores: Scores, request_id: str | None = None) -> None:
        """Queue one request's records: its ``features`` and ``ids`` columns and ``scores``, the model's task-shaped
        prediction (a sample of the records when ``sample_rate`` < 1). The columns are kept, not copied: do not
        change them afterwards."""
        try:
            if self.sample_rate < 1:
                keep = [i for i in range(len(scores)) if self._random() < self.sample_rate]
                if not keep:
                    return
                features, ids = _rows(features, keep), _rows(ids, keep)
                scores = [scores[i] for i in keep]
            self.writer.submit(ScoredBatch(time.time(), request_id or current_request_id(), scores, features, ids))
        except Exception:  # logging must never fail a request
            if not self._failed:
                self._failed = True
                logger.exception("prediction log: cannot queue records; the request is answered anyway")

    def close(self) -> None:
        """Write what is queued and close the current file."""
        self.writer.close()


def _rows(columns: Columns, keep: list[int]) -> Columns:
    return {name: [values[i] for i in keep] for name, values in columns.items()}


def start_prediction_log(
    params: Params,
    model_version: str,
    metrics: ServiceMetrics | None = None,
    environ: Mapping[str, str] = os.environ,
) -> PredictionLog | None:
    """The prediction log of one worker process as ``params`` and ``environ`` configure it (``None`` when off).

    ``metrics`` counts what is written and dropped. Nothing here raises: a log that cannot start is reported and
    left off.
    """
    settings = log_settings(params.serving.prediction_log, environ)
    if settings is None:
        logger.info("prediction log: off")
        return None
    schema = params.schema
    output = TaskOutput.of(schema, params.evaluate.threshold)
    render = LineRenderer(model_version, schema.feature_names, list(schema.ids), output=output)
    try:
        sink = open_sink(settings)
    except Exception as exc:
        logger.error("prediction log: cannot start (%s: %s); predictions are not logged", type(exc).__name__, exc)
        return None
    writer = BackgroundWriter(
        sink,
        render,
        settings.queue_records,
        on_dropped=metrics.count_dropped if metrics else lambda reason, records: None,
        on_written=metrics.count_logged if metrics else lambda records: None,
    )
    logger.info("prediction log: writing %.0f%% of scored records to %s", 100 * settings.sample_rate, settings.location)
    return PredictionLog(writer, settings.sample_rate)
