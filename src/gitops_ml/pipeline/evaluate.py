"""Stage ``evaluate``: score the model on the hold-out set; write metrics, predictions and plot data.

Outputs (all declared in ``dvc.yaml``):
- ``reports/metrics.json``: the DVC metrics (``dvc metrics show/diff``);
- ``reports/metrics_ci.json``: bootstrap confidence intervals of each metric;
- ``reports/predictions.parquet``: target and prediction per test row, for paired comparisons in reports;
- ``reports/plots/*.csv``: the task's plot tables (``dvc plots show``), listed in :mod:`gitops_ml.pipeline.plots`:
  binary ROC, precision-recall, confusion and calibration; multiclass confusion and F1 per class; regression
  predicted vs actual and residuals; permutation feature importance for every task. A binary confusion table
  names the classes with ``project.negative_label`` and ``project.positive_label`` (params of the stage in
  ``dvc.yaml``), a multiclass one with ``schema.classes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support, roc_curve
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from gitops_ml.config import EvaluateParams, SchemaParams
from gitops_ml.io import atomic_write, write_json
from gitops_ml.model_io import load_model
from gitops_ml.model_metrics import Outcome, bootstrap_metrics, compute_metrics, confidence_intervals
from gitops_ml.pipeline.features import model_frame
from gitops_ml.pipeline.interface import score_frame
from gitops_ml.predictions import write_predictions
from gitops_ml.tasks import Task
from gitops_ml.values import finite_or_none

MAX_CURVE_POINTS = 200
MAX_SCATTER_POINTS = 500
IMPORTANCE_SAMPLE_ROWS = 2000
DEFAULT_LABELS = ("negative", "positive")

# The scikit-learn scorer permutation importance measures the drop of, per task (pipeline/plots.py titles the
# plot with it).
IMPORTANCE_SCORING = {Task.BINARY: "average_precision", Task.MULTICLASS: "f1_macro", Task.REGRESSION: "r2"}


def predict_scores(model: Pipeline, frame: pd.DataFrame, schema: SchemaParams) -> np.ndarray:
    """The model's prediction of each row of ``frame`` (the same call the gate and the service make)."""
    return score_frame(model, frame, schema)


def outcome_of(model: Pipeline, test: pd.DataFrame, schema: SchemaParams, threshold: float) -> Outcome:
    """The test rows' targets and the model's predictions of them, ready for the metrics."""
    return Outcome.of(schema.task, test[schema.target].to_numpy(), predict_scores(model, test, schema), threshold)


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= MAX_CURVE_POINTS:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, MAX_CURVE_POINTS).round().astype(int))
    return frame.iloc[keep]


def curve_tables(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, bins: int, labels: tuple[str, str] = DEFAULT_LABELS
) -> dict[str, pd.DataFrame]:
    """Plot data: ROC, precision-recall, confusion (one row per test row) and calibration.

    ``labels`` (negative, positive) name the classes in the confusion table's ``actual`` and ``predicted``.
    """
    fpr, tpr, roc_thresholds = roc_curve(y_true, scores)
    precision, recall, pr_thresholds = precision_recall_curve(y_true, scores)
    fraction_positive, mean_predicted = calibration_curve(y_true, scores, n_bins=bins, strategy="quantile")
    names = np.array(labels, dtype=object)
    return {
        "roc": _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(roc_thresholds, 1.0)})),
        "precision_recall": _thin(
            pd.DataFrame({"recall": recall[:-1], "precision": precision[:-1], "threshold": pr_thresholds})
        ),
        "confusion": pd.DataFrame({"actual": names[y_true], "predicted": names[(scores >= threshold).astype(int)]}),
        "calibration": pd.DataFrame({"mean_predicted": mean_predicted, "fraction_positive": fraction_positive}),
    }


def feature_importance(model: Pipeline, test: pd.DataFrame, schema: SchemaParams, seed: int) -> pd.DataFrame:
    """Permutation importance of each column the model sees (drop in the task's :data:`IMPORTANCE_SCORING`), on a
    sample of the test set: the raw features, a ``datetime`` column as each of its calendar parts."""
    sample = test.sample(n=min(len(test), IMPORTANCE_SAMPLE_ROWS), random_state=seed)
    features = model_frame(sample, schema)
    # Many small predictions: one thread each beats OpenMP's start-up and contention on a busy CI runner.
    with threadpool_limits(1):
        result = permutation_importance(
            model,
            features,
            sample[schema.target].to_numpy(),
            scoring=IMPORTANCE_SCORING[schema.task],
            n_repeats=3,
            random_state=seed,
        )
    table = pd.DataFrame({"feature": list(features.columns), "importance": result.importances_mean.round(6)})
    return table.sort_values(["importance", "feature"], ascending=[False, True]).reset_index(drop=True)


def evaluate_model(
    model: Pipeline, test: pd.DataFrame, schema: SchemaParams, params: EvaluateParams
) -> tuple[dict[str, Any], dict[str, Any], Outcome]:
    """Return (metrics, confidence intervals, outcome) of ``model`` on ``test``.

    The metrics are the task's (:mod:`gitops_ml.model_metrics`) plus ``test_rows``; a binary model's also name
    the ``threshold`` and the ``test_positives``.
    """
    outcome = outcome_of(model, test, schema, params.threshold)
    return (*metrics_of(outcome, schema, params), outcome)


def metrics_of(outcome: Outcome, schema: SchemaParams, params: EvaluateParams) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, confidence intervals) of an outcome (:func:`evaluate_model`'s, also on a Dask cluster's)."""
    metrics: dict[str, Any] = {name: finite_or_none(value) for name, value in compute_metrics(outcome).items()}
    metrics["test_rows"] = len(outcome.y)
    if schema.task is Task.BINARY:
        metrics |= {"threshold": params.threshold, "test_positives": int(outcome.y.sum())}
    boot = params.bootstrap
    samples = bootstrap_metrics(outcome, boot.n_resamples, boot.seed)
    intervals = {
        name: {side: finite_or_none(v) for side, v in bounds.items()}
        for name, bounds in confidence_intervals(samples, boot.confidence).items()
    }
    return metrics, {"confidence": boot.confidence, "n_resamples": boot.n_resamples, "metrics": intervals}


def class_tables(outcome: Outcome, labels: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Multiclass plot data: the confusion table (one row per test row, classes named by ``labels``, in class
    index order) and precision, recall and F1 of each class (0 where undefined, as the metrics count it)."""
    names = np.array(labels, dtype=object)
    classes = np.arange(len(names))
    precision, recall, f1, support = precision_recall_fscore_support(
        outcome.y, outcome.predicted_class, labels=classes, zero_division=0
    )
    return {
        "confusion": pd.DataFrame({"actual": names[outcome.y], "predicted": names[outcome.predicted_class]}),
        "per_class_f1": pd.DataFrame(
            {"class": names, "f1": f1, "precision": precision, "recall": recall, "support": support}
        ),
    }


def regression_tables(outcome: Outcome) -> dict[str, pd.DataFrame]:
    """Regression plot data: actual and predicted values, and residual (actual - predicted) against predicted.

    Both tables hold the same rows: at most :data:`MAX_SCATTER_POINTS` test rows spread evenly over the order of
    the actual values (so every part of the range shows), in that order; the same test set gives the same rows.
    """
    order = np.argsort(outcome.y, kind="stable")
    keep = order[np.unique(np.linspace(0, len(order) - 1, min(len(order), MAX_SCATTER_POINTS)).round().astype(int))]
    actual, predicted = outcome.y[keep], outcome.predicted[keep]
    return {
        "predicted_actual": pd.DataFrame({"actual": actual, "predicted": predicted}),
        "residuals": pd.DataFrame({"predicted": predicted, "residual": actual - predicted}),
    }


def plot_tables(outcome: Outcome, params: EvaluateParams, labels: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The task's plot data but feature importance, by table name (:data:`gitops_ml.pipeline.plots.PLOTS`).

    ``labels`` name the classes in class index order: binary (negative, positive), multiclass ``schema.classes``.
    """
    if outcome.task is Task.BINARY:
        negative, positive = labels
        return curve_tables(
            outcome.y, outcome.predicted, params.threshold, params.calibration_bins, (negative, positive)
        )
    if outcome.task is Task.MULTICLASS:
        return class_tables(outcome, labels)
    return regression_tables(outcome)


def run_evaluate(
    model: Pipeline | Path,
    test_path: Path,
    schema: SchemaParams,
    params: EvaluateParams,
    seed: int,
    out_dir: Path,
    labels: tuple[str, str] = DEFAULT_LABELS,
) -> dict[str, Any]:
    """Score the model (or the model file) and write every evaluate output under ``out_dir``; return the metrics.

    ``labels`` (negative, positive) name a binary model's classes in the confusion table (``project.*_label``);
    a multiclass model's are ``schema.classes``.
    """
    model = load_model(model) if isinstance(model, Path) else model
    test = pd.read_parquet(test_path)
    outcome = outcome_of(model, test, schema, params.threshold)
    return write_evaluation(model, outcome, test, schema, params, seed, out_dir, labels)


def write_evaluation(
    model: Pipeline,
    outcome: Outcome,
    test: pd.DataFrame,
    schema: SchemaParams,
    params: EvaluateParams,
    seed: int,
    out_dir: Path,
    labels: tuple[str, str] = DEFAULT_LABELS,
) -> dict[str, Any]:
    """Write every evaluate output of ``outcome`` under ``out_dir``; return the metrics. ``test`` holds the test rows
    (or, on a Dask cluster, a sample of them) that feature importance samples from."""
    metrics, intervals = metrics_of(outcome, schema, params)
    names = labels if schema.task is Task.BINARY else [str(c) for c in schema.class_labels]
    tables = plot_tables(outcome, params, names)
    tables["feature_importance"] = feature_importance(model, test, schema, seed)
    for name, table in tables.items():
        with atomic_write(out_dir / "plots" / f"{name}.csv") as tmp:
            table.to_csv(tmp, index=False, lineterminator="\n", float_format="%.6g")
    write_predictions(out_dir / "predictions.parquet", outcome)
    write_json(out_dir / "metrics_ci.json", intervals)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
