"""Metrics and their bootstrap intervals, checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gitops_ml.metric_names import HIGHER_IS_BETTER, METRIC_NAMES
from gitops_ml.scoring import (
    WeightedScorer,
    bootstrap_metrics,
    compute_metrics,
    confidence_intervals,
)

Y = np.array([0, 0, 0, 1, 1, 0, 1, 0])
S = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.3, 0.6])


def test_metrics_by_hand() -> None:
    m = compute_metrics(Y, S, threshold=0.5)
    # predicted positive: 0.8, 0.7, 0.6 -> TP 2, FP 1, FN 1 (the 0.3 fraud), TN 4
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(6 / 8)
    # 15 (positive, negative) pairs; the 0.3 fraud outranks 2 of 5 negatives, the others all 5
    assert m["roc_auc"] == pytest.approx((5 + 5 + 2) / 15)
    assert set(m) == set(METRIC_NAMES) == set(HIGHER_IS_BETTER)
    assert HIGHER_IS_BETTER["log_loss"] is False


def test_one_class_gives_nan_not_an_error() -> None:
    m = compute_metrics(np.zeros(5, dtype=int), np.linspace(0.1, 0.4, 5), threshold=0.5)
    assert math.isnan(m["roc_auc"]) and math.isnan(m["average_precision"])
    assert m["accuracy"] == 1.0


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(int)
    s = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    first = bootstrap_metrics(y, s, 0.5, n_resamples=50, seed=1)
    assert first == bootstrap_metrics(y, s, 0.5, n_resamples=50, seed=1)
    bounds = confidence_intervals(first, 0.9)
    point = compute_metrics(y, s, 0.5)
    for name in METRIC_NAMES:
        assert bounds[name]["low"] <= point[name] <= bounds[name]["high"], name
    assert bounds["roc_auc"]["high"] - bounds["roc_auc"]["low"] > 0


def test_paired_difference_of_a_model_with_itself_is_zero() -> None:
    samples = bootstrap_metrics(Y, S, 0.5, n_resamples=20, seed=0, other_scores=S)
    assert all(sample[name] == 0 or math.isnan(sample[name]) for sample in samples for name in METRIC_NAMES)


def test_weighted_scorer_agrees_with_sklearn_with_unit_and_integer_weights() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(3000) < 0.05).astype(int)
    s = np.round(np.clip(y * 0.25 + rng.random(3000) * 0.75, 0, 1), 2)  # rounded: plenty of ties
    scorer = WeightedScorer(y, s, 0.5)
    reference = compute_metrics(y, s, 0.5)
    for name, value in scorer.metrics(np.ones(len(y))).items():
        assert value == pytest.approx(reference[name], rel=1e-9, abs=1e-12), name
    rows = rng.integers(0, len(y), size=len(y))
    weighted = scorer.metrics(np.bincount(rows, minlength=len(y)))
    for name, value in compute_metrics(y[rows], s[rows], 0.5).items():
        assert weighted[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
