"""The service's own Prometheus metrics, served next to BentoML's on ``/metrics``.

BentoML starts each worker with ``PROMETHEUS_MULTIPROC_DIR`` in its environment, so ``prometheus_client`` runs in
multiprocess mode there and ``/metrics`` sums every worker's values. ``bentoml.metrics`` is only a deprecated
alias of ``prometheus_client`` in BentoML 1.4 (each use warns), so the metrics are made with ``prometheus_client``
directly, as BentoML's documentation now says. Series with labels are created up front (at 0), so a dashboard
shows 0 rather than "no data" for a counter that has not moved yet.

The names are the ones the Grafana dashboard (deploy/grafana/gitops-ml-dashboard.json) queries, and a test
checks that the live service serves every one of them but the other tasks' prediction series
(:mod:`~gitops_ml.serving.prediction_metrics`). docs/prediction-log.md lists them.
"""

from __future__ import annotations

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from gitops_ml.adapters.prometheus_histogram import observe_many
from gitops_ml.config import SchemaParams
from gitops_ml.serving.log_writer import DROP_REASONS
from gitops_ml.serving.prediction_metrics import PredictionMetrics

RECORD_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ANSWERED = (200, 400)
"""The statuses whose request counts exist from the start (at 0); any other appears when first answered."""


class RequestMetrics:
    """``POST /predict``'s requests: answered per status, time to answer, in progress.

    The service answers ``/predict`` ahead of BentoML's middleware (:mod:`~gitops_ml.serving.predict_endpoint`),
    so these replace BentoML's ``bentoml_service_request_*`` series for that endpoint, with the same meaning.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        """Create the metrics in ``registry`` (a fresh one in unit tests)."""
        self.answered = Counter(
            "gitops_ml_predict_requests",
            "POST /predict requests answered, by HTTP status.",
            ["http_response_code"],
            registry=registry,
        )
        self.seconds = Histogram(
            "gitops_ml_predict_request_duration_seconds",
            "Seconds from a POST /predict request's arrival to the end of its answer, by HTTP status.",
            ["http_response_code"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "gitops_ml_predict_requests_in_progress",
            "POST /predict requests being answered.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._by_status: dict[int, tuple[Counter, Histogram]] = {}
        for status in ANSWERED:
            self._series(status)

    def _series(self, status: int) -> tuple[Counter, Histogram]:
        series = self._by_status.get(status)
        if series is None:  # HTTP statuses are few: this map stays small
            code = str(status)
            series = self._by_status[status] = (self.answered.labels(code), self.seconds.labels(code))
        return series

    def observe(self, status: int, seconds: float) -> None:
        """Count one answered request with its ``status`` and the ``seconds`` it took."""
        answered, duration = self._series(status)
        answered.inc()
        duration.observe(seconds)


class ServiceMetrics:
    """The prediction's series for the task, model-call size and time, queue wait, the prediction log's counts, and
    ``/predict``'s requests (:class:`RequestMetrics`)."""

    def __init__(
        self,
        model_version: str,
        schema: SchemaParams,
        threshold: float = 0.5,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        """Create the metrics in ``registry`` (a fresh one in unit tests) with their series at 0: the prediction's
        series of ``schema.task`` (:mod:`~gitops_ml.serving.prediction_metrics`; ``threshold``:
        ``evaluate.threshold``) and the rest."""
        self.model_calls = Histogram(
            "gitops_ml_model_call_records",
            "Records per model call (more than one request's records when requests were batched).",
            buckets=RECORD_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "gitops_ml_batch_queue_wait_seconds",
            "Seconds a request waited for a busy model before its model call started.",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.call_time = Histogram(
            "gitops_ml_model_call_seconds",
            "Seconds of the model call that scored a request, one observation per request it served.",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.predictions = PredictionMetrics(schema, threshold, model_version, registry)
        self.log_written = Counter(
            "gitops_ml_prediction_log_written_records",
            "Records written to the prediction log.",
            registry=registry,
        )
        dropped = Counter(
            "gitops_ml_prediction_log_dropped_records",
            "Records the prediction log dropped: queue_full (the writer fell behind) or write_error.",
            ["reason"],
            registry=registry,
        )
        self.log_dropped = {reason: dropped.labels(reason) for reason in DROP_REASONS}
        self.requests = RequestMetrics(registry)

    def observe_model_call(self, predicted: np.ndarray) -> None:
        """Record one model call: its size and its task-shaped prediction of each record."""
        self.model_calls.observe(len(predicted))
        self.predictions.observe(predicted)

    def observe_queue_wait(self, seconds: float) -> None:
        """Record how long one request waited for the model."""
        self.queue_wait.observe(seconds)

    def observe_call_time(self, seconds: float, requests: int) -> None:
        """Record one model call's duration for each of the ``requests`` it served (so the mean is per request)."""
        observe_many(self.call_time, np.full(requests, seconds, dtype=np.float64))

    def count_logged(self, records: int) -> None:
        """Count records written to the prediction log."""
        self.log_written.inc(records)

    def count_dropped(self, reason: str, records: int) -> None:
        """Count records the prediction log dropped, by reason (see :data:`~log_writer.DROP_REASONS`)."""
        self.log_dropped[reason].inc(records)
