"""The service's own Prometheus metrics, served next to BentoML's on ``/metrics``.

BentoML starts each worker with ``PROMETHEUS_MULTIPROC_DIR`` in its environment, so ``prometheus_client`` runs in
multiprocess mode there and ``/metrics`` sums every worker's values. ``bentoml.metrics`` is only a deprecated
alias of ``prometheus_client`` in BentoML 1.4 (each use warns), so the metrics are made with ``prometheus_client``
directly, as BentoML's documentation now says. Series with labels are created up front (at 0), so a dashboard
shows 0 rather than "no data" for a counter that has not moved yet.

The names are the ones the Grafana dashboard (deploy/grafana/gitops-ml-dashboard.json) queries, and a test
checks that the live service serves every one of them. docs/prediction-log.md lists them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from gitops_ml.adapters.prometheus_histogram import observe_many
from gitops_ml.serving.log_writer import DROP_REASONS

SCORE_BUCKETS = tuple(round(0.05 * step, 2) for step in range(1, 21))
RECORD_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def class_name(value: Any) -> str:
    """A class value of the schema as a label value (``1``, ``yes``; booleans as ``true``/``false``)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


class ServiceMetrics:
    """Score distribution, predictions per label, model-call size and time, queue wait, the prediction log's counts."""

    def __init__(
        self,
        model_version: str,
        negative_class: Any,
        positive_class: Any,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        """Create the metrics in ``registry`` (a fresh one in unit tests) with their series at 0."""
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
        scores = Histogram(
            "gitops_ml_prediction_score",
            "Predicted probability of the positive class, one observation per scored record.",
            ["model_version"],
            buckets=SCORE_BUCKETS,
            registry=registry,
        )
        self.scores = scores.labels(model_version)
        predictions = Counter(
            "gitops_ml_predictions",
            "Scored records per predicted label.",
            ["label", "model_version"],
            registry=registry,
        )
        self.negatives = predictions.labels(class_name(negative_class), model_version)
        self.positives = predictions.labels(class_name(positive_class), model_version)
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

    def observe_model_call(self, scores: np.ndarray, threshold: float) -> None:
        """Record one model call: its size, each score, and how many records got each label."""
        self.model_calls.observe(len(scores))
        observe_many(self.scores, scores)
        positives = int(np.count_nonzero(scores >= threshold))
        if positives:
            self.positives.inc(positives)
        if len(scores) - positives:
            self.negatives.inc(len(scores) - positives)

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
