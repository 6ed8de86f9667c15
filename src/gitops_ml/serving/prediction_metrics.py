"""The metrics of what the model predicts, per task: the series a dashboard watches the model's output with.

- binary: ``gitops_ml_prediction_score`` (histogram of the positive class's probability, 0.05 buckets) and
  ``gitops_ml_predictions_total`` (records per predicted ``label``: the two class values);
- multiclass: ``gitops_ml_predictions_total`` (records per predicted ``label``: one series per class of
  ``schema.classes``, so the number of series is bounded by the contract);
- regression: ``gitops_ml_prediction_value`` (histogram of the predicted values; 20 equal buckets over the contract's
  ``schema.target_min`` to ``target_max``, or a 1-2-5 series of buckets when the contract leaves a bound open).

Every series is labelled ``model_version`` and exists from the start (at 0). Only the task's own metrics are
created, so ``/metrics`` never shows a series that cannot move; the dashboard's panels of another task show
"no data". :data:`TASK_METRICS` lists the names per task (the dashboard's tests read it).
"""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram

from gitops_ml.adapters.prometheus_histogram import observe_many
from gitops_ml.config import SchemaParams
from gitops_ml.serving.outputs import TaskOutput
from gitops_ml.tasks import Task

SCORE_BUCKETS = tuple(round(0.05 * step, 2) for step in range(1, 21))
VALUE_BUCKETS = 20
"""Equal-width buckets of a predicted value over the contract's target range."""
SCORE = "gitops_ml_prediction_score"
PREDICTIONS = "gitops_ml_predictions"
VALUE = "gitops_ml_prediction_value"
TASK_METRICS: dict[Task, tuple[str, ...]] = {
    Task.BINARY: (SCORE, PREDICTIONS),
    Task.MULTICLASS: (PREDICTIONS,),
    Task.REGRESSION: (VALUE,),
}
"""The prediction metrics each task's service serves (names as created, without ``_total``/``_bucket``)."""


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def value_buckets(low: float | None, high: float | None) -> tuple[float, ...]:
    """Upper bounds of the predicted-value histogram: ``VALUE_BUCKETS`` equal steps from ``low`` to ``high``.

    When a bound is open (None), a 1-2-5 series from 0.01 to 5,000,000, mirrored below 0, cut at the bound that is
    set: wide enough for any unit, fine enough for a heatmap, and few enough series for Prometheus.
    """
    if low is not None and high is not None and high > low:
        step = (high - low) / VALUE_BUCKETS
        return tuple(sorted({_round(low + step * i) for i in range(VALUE_BUCKETS + 1)}))
    series = [mantissa * 10.0**exponent for exponent in range(-2, 7) for mantissa in (1, 2, 5)]
    bounds = {_round(v) for v in series} | {_round(-v) for v in series} | {0.0}
    kept = [b for b in bounds if (low is None or b >= low) and (high is None or b <= high)]
    return tuple(sorted(kept or [low if low is not None else high or 0.0]))


class PredictionMetrics:
    """The task's prediction series (see the module's docstring), fed one model call at a time."""

    def __init__(self, schema: SchemaParams, threshold: float, model_version: str, registry: CollectorRegistry) -> None:
        """Create the series of ``schema.task`` in ``registry``, at 0 (``threshold``: ``evaluate.threshold``)."""
        self.output = TaskOutput.of(schema, threshold)
        self.scores: Histogram | None = None
        self.values: Histogram | None = None
        self.per_class: list[Counter] = []
        task = schema.task
        if task is Task.BINARY:
            scores = Histogram(
                SCORE,
                "Predicted probability of the positive class, one observation per scored record.",
                ["model_version"],
                buckets=SCORE_BUCKETS,
                registry=registry,
            )
            self.scores = scores.labels(model_version)
        if task.is_classification:
            counter = Counter(PREDICTIONS, "Scored records per predicted label.", ["label", "model_version"],
                              registry=registry)  # fmt: skip
            self.per_class = [counter.labels(name, model_version) for name in self.output.class_names]
        else:
            values = Histogram(
                VALUE,
                "Predicted value, one observation per scored record.",
                ["model_version"],
                buckets=value_buckets(schema.target_min, schema.target_max),
                registry=registry,
            )
            self.values = values.labels(model_version)

    def observe(self, predicted: np.ndarray) -> None:
        """Record one model call's task-shaped prediction (see :mod:`~gitops_ml.serving.outputs`)."""
        if self.scores is not None:
            observe_many(self.scores, np.asarray(predicted, dtype=np.float64))
        if self.values is not None:
            values = np.asarray(predicted, dtype=np.float64)
            observe_many(self.values, values[np.isfinite(values)])
        if self.per_class:
            counts = np.bincount(self.output.class_indices(predicted), minlength=len(self.per_class))
            for counter, count in zip(self.per_class, counts.tolist(), strict=True):
                if count:
                    counter.inc(count)
