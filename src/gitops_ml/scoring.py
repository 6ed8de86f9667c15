"""Metrics of a binary classifier, and their bootstrap confidence intervals.

Shared by the ``evaluate`` stage, the pull-request report and the release gate, so that "better" means the
same thing everywhere. :data:`HIGHER_IS_BETTER` says which way each metric points.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

HIGHER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "average_precision": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "accuracy": True,
    "log_loss": False,
}
METRIC_NAMES = tuple(HIGHER_IS_BETTER)


def compute_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """All metrics of :data:`METRIC_NAMES` for fraud probabilities ``scores`` at ``threshold``.

    A metric undefined on this sample (e.g. ROC AUC with one class only) is NaN, never an exception.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    scores = np.clip(np.asarray(scores, dtype=np.float64), 1e-15, 1 - 1e-15)
    predicted = (scores >= threshold).astype(np.int64)
    both_classes = len(np.unique(y_true)) == 2
    return {
        "roc_auc": float(roc_auc_score(y_true, scores)) if both_classes else math.nan,
        "average_precision": float(average_precision_score(y_true, scores)) if both_classes else math.nan,
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "accuracy": float(accuracy_score(y_true, predicted)),
        "log_loss": float(log_loss(y_true, scores, labels=[0, 1])),
    }


def bootstrap_indices(n_rows: int, n_resamples: int, seed: int) -> np.ndarray:
    """``n_resamples`` rows of resampled indices; the same arguments give the same draws."""
    return np.random.default_rng(seed).integers(0, n_rows, size=(n_resamples, n_rows))


def bootstrap_metrics(
    y_true: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    n_resamples: int,
    seed: int,
    other_scores: np.ndarray | None = None,
) -> list[dict[str, float]]:
    """Metrics on each bootstrap resample; with ``other_scores``, the paired difference (scores - other).

    Pairing (the same resampled rows for both models) is what makes a small real improvement stand out
    from the noise of the test set.
    """
    y_true = np.asarray(y_true)
    out = []
    for rows in bootstrap_indices(len(y_true), n_resamples, seed):
        head = compute_metrics(y_true[rows], scores[rows], threshold)
        if other_scores is not None:
            base = compute_metrics(y_true[rows], other_scores[rows], threshold)
            head = {name: head[name] - base[name] for name in head}
        out.append(head)
    return out


def confidence_intervals(samples: list[dict[str, float]], confidence: float) -> dict[str, dict[str, float]]:
    """Percentile interval ``{"low", "high"}`` of each metric over bootstrap ``samples`` (NaNs ignored)."""
    tail = (1 - confidence) / 2 * 100
    out: dict[str, dict[str, float]] = {}
    for name in METRIC_NAMES:
        values = np.array([s[name] for s in samples], dtype=np.float64)
        values = values[~np.isnan(values)]
        if len(values) == 0:
            out[name] = {"low": math.nan, "high": math.nan}
        else:
            out[name] = {
                "low": float(np.percentile(values, tail)),
                "high": float(np.percentile(values, 100 - tail)),
            }
    return out


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not finite (JSON has no NaN)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
