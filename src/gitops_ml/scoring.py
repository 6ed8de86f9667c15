"""Metrics of a binary classifier, and their bootstrap confidence intervals.

Shared by the ``evaluate`` stage, the pull-request report and the release gate, so that "better" means the
same thing everywhere. :data:`HIGHER_IS_BETTER` says which way each metric points.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from gitops_ml.metric_names import METRIC_NAMES


def compute_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """All metrics of :data:`METRIC_NAMES` for positive-class probabilities ``scores`` at ``threshold``.

    A metric undefined on this sample (e.g. ROC AUC with one class only) is NaN, never an exception.
    """
    # Imported here, not at the top: every `gitops-ml` command imports this module (through the gate), and
    # sklearn.metrics pulls in scipy and most of scikit-learn, about 2 s per process (docs/performance.md).
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

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


class WeightedScorer:
    """Metrics of fixed (labels, scores) under per-row weights, in O(rows) numpy per call.

    A bootstrap resample is the same rows with integer weights (how often each was drawn), so sorting and
    tie-grouping the scores once makes hundreds of resamples cheap even on large test sets. With unit
    weights it agrees with :func:`compute_metrics` (tested).
    """

    def __init__(self, y_true: np.ndarray, scores: np.ndarray, threshold: float) -> None:
        y = np.asarray(y_true, dtype=np.int64)
        s = np.clip(np.asarray(scores, dtype=np.float64), 1e-15, 1 - 1e-15)
        self._y = y.astype(bool)
        self._predicted = s >= threshold
        self._row_loss = -(y * np.log(s) + (1 - y) * np.log(1 - s))
        # Tie groups of scores, in ascending order of score.
        _, self._group = np.unique(s, return_inverse=True)
        self._n_groups = int(self._group.max()) + 1 if len(s) else 0

    def metrics(self, weights: np.ndarray) -> dict[str, float]:
        """All metrics of :data:`METRIC_NAMES` with row ``weights`` (NaN where undefined)."""
        w = np.asarray(weights, dtype=np.float64)
        y, pred = self._y, self._predicted
        tp, fp = w[y & pred].sum(), w[~y & pred].sum()
        fn, tn = w[y & ~pred].sum(), w[~y & ~pred].sum()
        total = tp + fp + fn + tn
        positives, negatives = tp + fn, fp + tn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / positives if positives else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        pos_g = np.bincount(self._group, weights=w * y, minlength=self._n_groups)
        neg_g = np.bincount(self._group, weights=w * ~y, minlength=self._n_groups)
        if positives and negatives:
            neg_below = np.cumsum(neg_g) - neg_g
            roc_auc = float((pos_g * (neg_below + 0.5 * neg_g)).sum() / (positives * negatives))
            tp_desc, fp_desc = np.cumsum(pos_g[::-1]), np.cumsum(neg_g[::-1])
            with np.errstate(invalid="ignore", divide="ignore"):
                precision_at = np.where(tp_desc + fp_desc > 0, tp_desc / (tp_desc + fp_desc), 0.0)
            average_precision = float((pos_g[::-1] / positives * precision_at).sum())
        else:
            roc_auc = average_precision = math.nan
        return {
            "roc_auc": roc_auc,
            "average_precision": average_precision,
            "f1": float(f1),
            "precision": float(precision),
            "recall": float(recall),
            "accuracy": float((tp + tn) / total) if total else math.nan,
            "log_loss": float((w * self._row_loss).sum() / total) if total else math.nan,
        }


def bootstrap_weights(n_rows: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield ``n_resamples`` arrays of row weights (draw counts); the same arguments give the same draws."""
    rng = np.random.default_rng(seed)
    for _ in range(n_resamples):
        yield np.bincount(rng.integers(0, n_rows, size=n_rows), minlength=n_rows)


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
    head = WeightedScorer(y_true, scores, threshold)
    base = WeightedScorer(y_true, other_scores, threshold) if other_scores is not None else None
    out = []
    for weights in bootstrap_weights(len(y_true), n_resamples, seed):
        sample = head.metrics(weights)
        if base is not None:
            other = base.metrics(weights)
            sample = {name: sample[name] - other[name] for name in sample}
        out.append(sample)
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
