"""The metric registry: every metric of every task equals scikit-learn's, weighted or not, and the bootstrap."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from gitops_ml.model_metrics import (
    METRICS,
    Outcome,
    applicable,
    bootstrap_metrics,
    bootstrap_weights,
    compute_metrics,
    confidence_intervals,
    data_guards,
    higher_is_better,
    metric,
    metric_names,
    no_skill_floors,
)
from gitops_ml.tasks import Task

rng = np.random.default_rng(7)
N = 1500
Y_BIN = (rng.random(N) < 0.1).astype(int)
S_BIN = np.round(np.clip(Y_BIN * 0.3 + rng.random(N) * 0.7, 0, 1), 2)  # rounded: plenty of ties
Y_MULTI = rng.choice(4, size=N, p=[0.5, 0.3, 0.17, 0.03])
_raw = rng.integers(1, 5, (N, 4)) + np.eye(4)[Y_MULTI] * 3  # small integers: many tied probabilities
P_MULTI = _raw / _raw.sum(axis=1, keepdims=True)
Y_REG = rng.normal(50, 10, N)
P_REG = Y_REG + rng.normal(0, 4, N)

OUTCOMES = {
    Task.BINARY: Outcome.of(Task.BINARY, Y_BIN, S_BIN, threshold=0.5),
    Task.MULTICLASS: Outcome.of(Task.MULTICLASS, Y_MULTI, P_MULTI),
    Task.REGRESSION: Outcome.of(Task.REGRESSION, Y_REG, P_REG),
}

Reference = Callable[[Any, Any, Any], float]
# scikit-learn's value of each registered metric: (y_true, prediction, sample_weight) -> value.
SKLEARN: dict[tuple[Task, str], Reference] = {
    (Task.BINARY, "roc_auc"): lambda y, s, w: sk.roc_auc_score(y, s, sample_weight=w),
    (Task.BINARY, "average_precision"): lambda y, s, w: sk.average_precision_score(y, s, sample_weight=w),
    (Task.BINARY, "f1"): lambda y, s, w: sk.f1_score(y, s >= 0.5, sample_weight=w, zero_division=0),
    (Task.BINARY, "precision"): lambda y, s, w: sk.precision_score(y, s >= 0.5, sample_weight=w, zero_division=0),
    (Task.BINARY, "recall"): lambda y, s, w: sk.recall_score(y, s >= 0.5, sample_weight=w, zero_division=0),
    (Task.BINARY, "accuracy"): lambda y, s, w: sk.accuracy_score(y, s >= 0.5, sample_weight=w),
    (Task.BINARY, "log_loss"): lambda y, s, w: sk.log_loss(y, s, sample_weight=w, labels=[0, 1]),
    (Task.MULTICLASS, "accuracy"): lambda y, p, w: sk.accuracy_score(y, p.argmax(1), sample_weight=w),
    (Task.MULTICLASS, "balanced_accuracy"): lambda y, p, w: sk.balanced_accuracy_score(y, p.argmax(1), sample_weight=w),
    (Task.MULTICLASS, "macro_f1"): lambda y, p, w: sk.f1_score(y, p.argmax(1), average="macro", sample_weight=w),
    (Task.MULTICLASS, "weighted_f1"): lambda y, p, w: sk.f1_score(y, p.argmax(1), average="weighted", sample_weight=w),
    (Task.MULTICLASS, "log_loss"): lambda y, p, w: sk.log_loss(y, p, sample_weight=w, labels=[0, 1, 2, 3]),
    (Task.MULTICLASS, "roc_auc_ovr"): lambda y, p, w: sk.roc_auc_score(y, p, multi_class="ovr", sample_weight=w),
    (Task.REGRESSION, "rmse"): lambda y, p, w: sk.root_mean_squared_error(y, p, sample_weight=w),
    (Task.REGRESSION, "mae"): lambda y, p, w: sk.mean_absolute_error(y, p, sample_weight=w),
    (Task.REGRESSION, "r2"): lambda y, p, w: sk.r2_score(y, p, sample_weight=w),
    (Task.REGRESSION, "mape"): lambda y, p, w: sk.mean_absolute_percentage_error(y, p, sample_weight=w),
    (Task.REGRESSION, "median_absolute_error"): lambda y, p, w: np.median(
        np.repeat(np.abs(y - p), w.astype(int) if w is not None else 1)
    ),
}


def test_every_registered_metric_has_a_reference_here() -> None:
    assert {(task, name) for task in Task for name in METRICS[task]} == set(SKLEARN)


@pytest.mark.parametrize(("task", "name"), sorted(SKLEARN))
def test_metric_equals_sklearn_with_unit_and_bootstrap_weights(task: Task, name: str) -> None:
    outcome = OUTCOMES[task]
    reference = SKLEARN[(task, name)]
    unit = compute_metrics(outcome)[name]
    assert unit == pytest.approx(reference(outcome.y, outcome.predicted, None), rel=1e-9, abs=1e-12)
    weights = np.bincount(np.random.default_rng(1).integers(0, N, N), minlength=N).astype(float)
    weighted = compute_metrics(outcome, weights)[name]
    assert weighted == pytest.approx(reference(outcome.y, outcome.predicted, weights), rel=1e-9, abs=1e-12)


def test_binary_metrics_by_hand() -> None:
    y = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.3, 0.6])
    m = compute_metrics(Outcome.of(Task.BINARY, y, s, 0.5))
    # predicted positive: 0.8, 0.7, 0.6 -> TP 2, FP 1, FN 1 (the 0.3 positive), TN 4
    assert (m["precision"], m["recall"], m["accuracy"]) == pytest.approx((2 / 3, 2 / 3, 6 / 8))
    # 15 (positive, negative) pairs; the 0.3 positive outranks 2 of 5 negatives, the others all 5
    assert m["roc_auc"] == pytest.approx((5 + 5 + 2) / 15)


def test_one_class_gives_nan_not_an_error() -> None:
    m = compute_metrics(Outcome.of(Task.BINARY, np.zeros(5, dtype=int), np.linspace(0.1, 0.4, 5)))
    assert math.isnan(m["roc_auc"]) and math.isnan(m["average_precision"])
    assert m["accuracy"] == 1.0


def test_mape_is_left_out_when_a_target_is_zero() -> None:
    assert "mape" in compute_metrics(OUTCOMES[Task.REGRESSION])
    with_zero = Outcome.of(Task.REGRESSION, np.r_[Y_REG, 0.0], np.r_[P_REG, 1.0])
    assert "mape" not in compute_metrics(with_zero)
    assert "mape" not in confidence_intervals(bootstrap_metrics(with_zero, 5, 0), 0.9)


@pytest.mark.parametrize("task", list(Task))
def test_bootstrap_is_seeded_and_brackets_the_estimate(task: Task) -> None:
    outcome = OUTCOMES[task]
    first = bootstrap_metrics(outcome, n_resamples=40, seed=1)
    assert first == bootstrap_metrics(outcome, n_resamples=40, seed=1)
    bounds = confidence_intervals(first, 0.9)
    for name, value in compute_metrics(outcome).items():
        assert bounds[name]["low"] <= value <= bounds[name]["high"], name
        assert bounds[name]["high"] > bounds[name]["low"], name


@pytest.mark.parametrize("task", list(Task))
def test_paired_difference_of_a_model_with_itself_is_zero(task: Task) -> None:
    samples = bootstrap_metrics(OUTCOMES[task], n_resamples=10, seed=0, other=OUTCOMES[task])
    assert all(v == 0 or math.isnan(v) for sample in samples for v in sample.values())
    assert set(samples[0]) == set(metric_names(task))


def test_directions() -> None:
    assert higher_is_better("log_loss") is False and higher_is_better("r2") is True
    assert higher_is_better("accuracy", Task.MULTICLASS) is True
    with pytest.raises(KeyError, match="unknown metric"):
        higher_is_better("nope")


def test_a_metric_is_declared_once_per_task() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        metric("rmse", Task.REGRESSION, higher_is_better=False)(lambda o, w: 0.0)


def test_no_skill_floors_fail_a_model_without_skill() -> None:
    y = np.array([0] * 80 + [1] * 15 + [2] * 5)
    majority = Outcome.of(Task.MULTICLASS, y, np.tile([0.8, 0.15, 0.05], (100, 1)))
    floors = no_skill_floors(Task.MULTICLASS, y)
    assert compute_metrics(majority)["macro_f1"] < floors["macro_f1"]
    mean_model = Outcome.of(Task.REGRESSION, Y_REG, np.full(N, Y_REG.mean()))
    assert compute_metrics(mean_model)["r2"] < no_skill_floors(Task.REGRESSION, Y_REG)["r2"]
    assert no_skill_floors(Task.BINARY, Y_BIN)["average_precision"] <= Y_BIN.mean()
    assert 0 < data_guards(Task.REGRESSION, Y_REG)["mae"] < 1  # 2% of a standard deviation of 10


@pytest.mark.parametrize("task", list(Task))
def test_a_resamples_metrics_sharing_their_tables_equal_each_computed_alone(task: Task) -> None:
    """The bootstrap computes a resample's confusion table and ranking once for all its metrics: each metric must
    still be exactly what it is on an outcome of its own (nothing carried over from another resample)."""
    shared = OUTCOMES[task]
    samples = bootstrap_metrics(shared, 4, seed=11)
    for weights, sample in zip(bootstrap_weights(shared.rows, 4, 11), samples, strict=True):
        for m in applicable(shared):
            alone = float(m.compute(Outcome.of(task, shared.y, shared.predicted, shared.threshold), weights))
            assert sample[m.name] == alone or (math.isnan(alone) and math.isnan(sample[m.name])), m.name
    assert compute_metrics(shared) == compute_metrics(Outcome.of(task, shared.y, shared.predicted, shared.threshold))
