"""The metrics of every task: the one place a metric is declared, with its direction and how it is computed.

``evaluate``, the bootstrap intervals, the paired-bootstrap verdicts of the pull-request report, the release gate,
the release notes and ``params.yaml``'s ``gate:`` rules all read :data:`METRICS`. To add a metric, write one
function below under ``@metric(name, task, higher_is_better=...)``; nothing else changes.

A metric is computed from an :class:`Outcome` (the true targets and the model's predictions on the test rows,
prepared once) under per-row ``weights``. A bootstrap resample is the same rows with integer weights (how often
each row was drawn), so hundreds of resamples cost one pass of numpy each instead of re-sorting the rows; unit
weights give the plain metric, equal to scikit-learn's (tests/test_model_metrics.py checks each against it).
Written with numpy rather than scikit-learn's functions because those re-validate and re-sort their input on
every call (about 50 times slower per resample) and take seconds to import in every command.

A metric that does not apply to a test set (MAPE when the target has a zero) is left out of it; one undefined on
a resample (ROC AUC with one class drawn) is NaN, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator

from gitops_ml.tasks import Task

if TYPE_CHECKING:
    import numpy as np

# numpy is imported inside the functions: config.py loads this module, and every command's start-up (`--help`
# included) would otherwise pay numpy's import (about 0.15 s).

MetricFunction = Callable[["Outcome", "np.ndarray"], float]
"""``f(outcome, weights) -> value``: a metric of ``outcome`` with per-row weights."""

# Probabilities are clipped away from 0 and 1 before a logarithm, as scikit-learn's log_loss does.
_EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    """One metric: its name in params.yaml and metrics.json, its task, its direction and its function."""

    name: str
    task: Task
    higher_is_better: bool
    compute: MetricFunction
    description: str
    applies: Callable[[Outcome], bool] | None = None
    """False for a test set on which the metric means nothing (it is then left out); None: always applies."""


METRICS: dict[Task, dict[str, Metric]] = {task: {} for task in Task}
"""Task -> metric name -> :class:`Metric`, in the order tables list them."""


def metric(
    name: str, task: Task, *, higher_is_better: bool, applies: Callable[[Outcome], bool] | None = None
) -> Callable[[MetricFunction], MetricFunction]:
    """Function decorator: declare metric ``name`` of ``task`` (its docstring's first line describes it)."""

    def add(function: MetricFunction) -> MetricFunction:
        if name in METRICS[task]:
            raise ValueError(f"metric '{name}' of task {task} is declared twice")
        doc = (function.__doc__ or name).strip().splitlines()[0]
        METRICS[task][name] = Metric(name, task, higher_is_better, function, doc, applies)
        return function

    return add


def metric_names(task: Task) -> tuple[str, ...]:
    """The metrics of ``task``, in table order."""
    return tuple(METRICS[task])


def all_metric_names() -> tuple[str, ...]:
    """Every metric name of every task, each once, in table order."""
    return tuple(dict.fromkeys(name for task in Task for name in METRICS[task]))


def _known_metric(name: str) -> str:
    if name not in all_metric_names():
        raise ValueError(f"not a metric of any task: {name[:100]!r}; the metrics are {', '.join(all_metric_names())}")
    return name


MetricName = Annotated[str, AfterValidator(_known_metric)]
"""A metric's name as params.yaml, metrics.json and the reports spell it: pydantic refuses any name no task has."""


def higher_is_better(name: str, task: Task | None = None) -> bool:
    """Which way metric ``name`` improves (of ``task``; without it, of whichever task declares it)."""
    for candidate in [task] if task is not None else list(Task):
        found = METRICS[candidate].get(name)
        if found is not None:
            return found.higher_is_better
    raise KeyError(f"unknown metric '{name}'")


@dataclass(frozen=True)
class Outcome:
    """The true targets of the test rows and the model's predictions of them, prepared once for every metric.

    ``y``: class index (binary: 1 = positive; multiclass: position in ``schema.classes``) or the target's value
    (regression). ``predicted``: the positive class's probability (binary), one probability per class in columns
    (multiclass), or the predicted value (regression). ``threshold``: binary only, the probability at and above
    which a row is labelled positive.
    """

    task: Task
    y: np.ndarray
    predicted: np.ndarray
    threshold: float = 0.5

    @staticmethod
    def of(task: Task, y: Any, predicted: Any, threshold: float = 0.5) -> Outcome:
        """Build an outcome, coercing ``y`` and ``predicted`` to the task's dtypes and shapes."""
        import numpy as np

        if task is Task.REGRESSION:
            return Outcome(task, np.asarray(y, dtype=np.float64), np.asarray(predicted, dtype=np.float64))
        pred = np.asarray(predicted, dtype=np.float64)
        if task is Task.MULTICLASS and pred.ndim != 2:
            raise ValueError(f"multiclass predictions need one column per class, got shape {pred.shape}")
        return Outcome(task, np.asarray(y, dtype=np.int64), np.clip(pred, _EPS, 1 - _EPS), threshold)

    @property
    def rows(self) -> int:
        """Number of test rows."""
        return len(self.y)

    @cached_property
    def n_classes(self) -> int:
        """Classes (2 for binary, the probability columns for multiclass)."""
        return 2 if self.task is Task.BINARY else int(self.predicted.shape[1])

    @cached_property
    def predicted_class(self) -> np.ndarray:
        """The class each row is labelled with (binary: at or above the threshold; multiclass: most probable)."""
        import numpy as np

        if self.task is Task.BINARY:
            return (self.predicted >= self.threshold).astype(np.int64)
        return np.asarray(np.argmax(self.predicted, axis=1), dtype=np.int64)

    @cached_property
    def positive_probability(self) -> np.ndarray:
        """Per class (columns), the probability the model gave that class: a (rows, classes) array."""
        import numpy as np

        if self.task is Task.BINARY:
            return np.column_stack([1 - self.predicted, self.predicted])
        return self.predicted

    @cached_property
    def row_log_loss(self) -> np.ndarray:
        """Each row's negative log probability of its true class."""
        import numpy as np

        return np.asarray(-np.log(self.positive_probability[np.arange(self.rows), self.y]), dtype=np.float64)

    @cached_property
    def score_groups(self) -> list[tuple[np.ndarray, int]]:
        """Per class, the rows' tie groups of that class's probability (ascending) and the number of groups."""
        import numpy as np

        out = []
        for c in range(self.n_classes):
            _, group = np.unique(self.positive_probability[:, c], return_inverse=True)
            out.append((group, int(group.max()) + 1 if self.rows else 0))
        return out

    @cached_property
    def abs_error(self) -> np.ndarray:
        """Regression: |actual - predicted| per row."""
        import numpy as np

        return np.asarray(np.abs(self.y - self.predicted), dtype=np.float64)

    @cached_property
    def abs_error_order(self) -> np.ndarray:
        """Regression: the rows in ascending order of absolute error (for the weighted median)."""
        import numpy as np

        return np.argsort(self.abs_error, kind="stable")


# --- shared weighted building blocks ----------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else math.nan


def _once_per_weights(outcome: Outcome, weights: np.ndarray, key: object, compute: Callable[[], Any]) -> Any:
    """``compute()``, computed once per ``key`` for the same ``weights`` array (the same object, unchanged).

    Several metrics of one resample share a weighted confusion table or ranking: computing each once instead of
    once per metric halves a bootstrap's time (1.5 s of 3 at 200,000 test rows and 200 resamples). Only the
    latest ``weights`` are remembered, so a bootstrap keeps one resample's tables at a time.
    """
    memo = outcome.__dict__.get("_per_weights")
    if memo is None or memo[0] is not weights:
        memo = outcome.__dict__["_per_weights"] = (weights, {})
    found: dict[object, Any] = memo[1]
    if key not in found:
        found[key] = compute()
    return found[key]


def confusion(outcome: Outcome, weights: np.ndarray) -> np.ndarray:
    """Weighted confusion matrix: rows the true class, columns the predicted class."""
    import numpy as np

    def table() -> np.ndarray:
        k = outcome.n_classes
        flat = np.bincount(outcome.y * k + outcome.predicted_class, weights=weights, minlength=k * k)
        return flat.reshape(k, k)

    result: np.ndarray = _once_per_weights(outcome, weights, "confusion", table)
    return result


def _per_class_f1(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per class: F1 (0 where undefined, as scikit-learn's zero_division=0) and its true-row support."""
    import numpy as np

    tp = np.diag(table)
    predicted, support = table.sum(axis=0), table.sum(axis=1)
    denominator = predicted + support
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1, support


def _class_auc_and_ap(outcome: Outcome, weights: np.ndarray, c: int) -> tuple[float, float]:
    """ROC AUC and average precision of class ``c`` against the rest, with ties counted as scikit-learn does."""
    result: tuple[float, float] = _once_per_weights(
        outcome, weights, ("ranking", c), lambda: _ranking_metrics(outcome, weights, c)
    )
    return result


def _ranking_metrics(outcome: Outcome, weights: np.ndarray, c: int) -> tuple[float, float]:
    import numpy as np

    group, n_groups = outcome.score_groups[c]
    is_c = outcome.y == c
    pos_g = np.bincount(group, weights=weights * is_c, minlength=n_groups)
    neg_g = np.bincount(group, weights=weights * ~is_c, minlength=n_groups)
    positives, negatives = pos_g.sum(), neg_g.sum()
    if not (positives and negatives):
        return math.nan, math.nan
    neg_below = np.cumsum(neg_g) - neg_g
    auc = float((pos_g * (neg_below + 0.5 * neg_g)).sum() / (positives * negatives))
    tp_desc, fp_desc = np.cumsum(pos_g[::-1]), np.cumsum(neg_g[::-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        precision_at = np.where(tp_desc + fp_desc > 0, tp_desc / (tp_desc + fp_desc), 0.0)
    return auc, float((pos_g[::-1] / positives * precision_at).sum())


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    return _ratio(float((weights * values).sum()), float(weights.sum()))


# --- binary ----------------------------------------------------------------------------------------------------


@metric("roc_auc", Task.BINARY, higher_is_better=True)
def binary_roc_auc(o: Outcome, w: np.ndarray) -> float:
    """Area under the ROC curve of the positive-class probability."""
    return _class_auc_and_ap(o, w, 1)[0]


@metric("average_precision", Task.BINARY, higher_is_better=True)
def binary_average_precision(o: Outcome, w: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision) of the positive class."""
    return _class_auc_and_ap(o, w, 1)[1]


def _binary_counts(o: Outcome, w: np.ndarray) -> tuple[float, float, float]:
    table = confusion(o, w)
    return float(table[1, 1]), float(table[0, 1]), float(table[1, 0])  # tp, fp, fn


@metric("f1", Task.BINARY, higher_is_better=True)
def binary_f1(o: Outcome, w: np.ndarray) -> float:
    """F1 of the positive class at the threshold."""
    tp, fp, fn = _binary_counts(o, w)
    return _ratio(2 * tp, 2 * tp + fp + fn) if tp else 0.0


@metric("precision", Task.BINARY, higher_is_better=True)
def binary_precision(o: Outcome, w: np.ndarray) -> float:
    """Share of rows labelled positive that are positive, at the threshold."""
    tp, fp, _ = _binary_counts(o, w)
    return _ratio(tp, tp + fp) if tp + fp else 0.0


@metric("recall", Task.BINARY, higher_is_better=True)
def binary_recall(o: Outcome, w: np.ndarray) -> float:
    """Share of positive rows labelled positive, at the threshold."""
    tp, _, fn = _binary_counts(o, w)
    return _ratio(tp, tp + fn) if tp + fn else 0.0


@metric("accuracy", Task.BINARY, higher_is_better=True)
def binary_accuracy(o: Outcome, w: np.ndarray) -> float:
    """Share of rows labelled with their class, at the threshold."""
    import numpy as np

    return _ratio(float(np.trace(confusion(o, w))), float(w.sum()))


@metric("log_loss", Task.BINARY, higher_is_better=False)
def binary_log_loss(o: Outcome, w: np.ndarray) -> float:
    """Mean negative log probability of the true class (lower is better)."""
    return _weighted_mean(o.row_log_loss, w)


# --- multiclass ------------------------------------------------------------------------------------------------


@metric("accuracy", Task.MULTICLASS, higher_is_better=True)
def multiclass_accuracy(o: Outcome, w: np.ndarray) -> float:
    """Share of rows whose most probable class is their class."""
    import numpy as np

    return _ratio(float(np.trace(confusion(o, w))), float(w.sum()))


@metric("balanced_accuracy", Task.MULTICLASS, higher_is_better=True)
def multiclass_balanced_accuracy(o: Outcome, w: np.ndarray) -> float:
    """Mean over the classes present of the share of their rows labelled right (recall)."""
    import numpy as np

    table = confusion(o, w)
    support = table.sum(axis=1)
    present = support > 0
    return float((np.diag(table)[present] / support[present]).mean()) if present.any() else math.nan


@metric("macro_f1", Task.MULTICLASS, higher_is_better=True)
def multiclass_macro_f1(o: Outcome, w: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 (classes seen in the targets or the predictions)."""
    table = confusion(o, w)
    f1, support = _per_class_f1(table)
    seen = (support > 0) | (table.sum(axis=0) > 0)
    return float(f1[seen].mean()) if seen.any() else math.nan


@metric("weighted_f1", Task.MULTICLASS, higher_is_better=True)
def multiclass_weighted_f1(o: Outcome, w: np.ndarray) -> float:
    """Per-class F1 averaged with each class's share of the rows."""
    f1, support = _per_class_f1(confusion(o, w))
    return _ratio(float((f1 * support).sum()), float(support.sum()))


@metric("log_loss", Task.MULTICLASS, higher_is_better=False)
def multiclass_log_loss(o: Outcome, w: np.ndarray) -> float:
    """Mean negative log probability of the true class (lower is better)."""
    return _weighted_mean(o.row_log_loss, w)


@metric("roc_auc_ovr", Task.MULTICLASS, higher_is_better=True)
def multiclass_roc_auc_ovr(o: Outcome, w: np.ndarray) -> float:
    """Mean over the classes of each class's ROC AUC against the rest (one-vs-rest, macro)."""
    import numpy as np

    aucs = [_class_auc_and_ap(o, w, c)[0] for c in range(o.n_classes)]
    return math.nan if any(math.isnan(a) for a in aucs) else float(np.mean(aucs))


# --- regression ------------------------------------------------------------------------------------------------


@metric("rmse", Task.REGRESSION, higher_is_better=False)
def regression_rmse(o: Outcome, w: np.ndarray) -> float:
    """Root mean squared error, in the target's unit (lower is better)."""
    return math.sqrt(_weighted_mean(o.abs_error**2, w))


@metric("mae", Task.REGRESSION, higher_is_better=False)
def regression_mae(o: Outcome, w: np.ndarray) -> float:
    """Mean absolute error, in the target's unit (lower is better)."""
    return _weighted_mean(o.abs_error, w)


@metric("r2", Task.REGRESSION, higher_is_better=True)
def regression_r2(o: Outcome, w: np.ndarray) -> float:
    """Coefficient of determination: 1 is perfect, 0 is no better than predicting the mean."""
    total = float(w.sum())
    if not total:
        return math.nan
    mean = float((w * o.y).sum()) / total
    spread = float((w * (o.y - mean) ** 2).sum())
    return 1 - float((w * o.abs_error**2).sum()) / spread if spread else math.nan


def _no_zero_target(o: Outcome) -> bool:
    import numpy as np

    return bool(np.all(o.y != 0))


@metric("mape", Task.REGRESSION, higher_is_better=False, applies=_no_zero_target)
def regression_mape(o: Outcome, w: np.ndarray) -> float:
    """Mean absolute percentage error, as a fraction (only when no target is zero; lower is better)."""
    import numpy as np

    return _weighted_mean(o.abs_error / np.abs(o.y), w)


@metric("median_absolute_error", Task.REGRESSION, higher_is_better=False)
def regression_median_absolute_error(o: Outcome, w: np.ndarray) -> float:
    """Median absolute error, robust to outliers (lower is better)."""
    import numpy as np

    ordered = o.abs_error[o.abs_error_order]
    cumulative = np.cumsum(w[o.abs_error_order])
    if not len(cumulative) or not cumulative[-1]:
        return math.nan
    half = cumulative[-1] / 2
    # The mean of the lower and upper weighted medians: with unit weights, numpy's median.
    lower = ordered[np.searchsorted(cumulative, half, side="left")]
    upper = ordered[np.searchsorted(cumulative, half, side="right")]
    return float((lower + upper) / 2)


# --- computing them --------------------------------------------------------------------------------------------


def applicable(outcome: Outcome) -> list[Metric]:
    """The metrics of the outcome's task that apply to its test set, in table order."""
    return [m for m in METRICS[outcome.task].values() if m.applies is None or m.applies(outcome)]


def compute_metrics(outcome: Outcome, weights: np.ndarray | None = None) -> dict[str, float]:
    """Every applicable metric of ``outcome`` (unit weights unless ``weights``); NaN where undefined."""
    import numpy as np

    w = (
        np.ones(outcome.rows) if weights is None else np.array(weights, dtype=np.float64)
    )  # a copy: see _once_per_weights
    return {m.name: float(m.compute(outcome, w)) for m in applicable(outcome)}


def bootstrap_weights(n_rows: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield ``n_resamples`` arrays of row weights (draw counts); the same arguments give the same draws."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for _ in range(n_resamples):
        yield np.bincount(rng.integers(0, n_rows, size=n_rows), minlength=n_rows).astype(np.float64)


def bootstrap_metrics(
    outcome: Outcome, n_resamples: int, seed: int, other: Outcome | None = None
) -> list[dict[str, float]]:
    """Metrics on each bootstrap resample; with ``other`` (another model on the same rows), the paired difference.

    Pairing (the same resampled rows for both models) is what makes a small real improvement stand out from the
    noise of the test set. Only the metrics that apply to both outcomes are compared.
    """
    names = [m for m in applicable(outcome) if other is None or m in applicable(other)]
    out = []
    for weights in bootstrap_weights(outcome.rows, n_resamples, seed):
        sample = {m.name: float(m.compute(outcome, weights)) for m in names}
        if other is not None:
            sample = {m.name: sample[m.name] - float(m.compute(other, weights)) for m in names}
        out.append(sample)
    return out


def confidence_intervals(samples: list[dict[str, float]], confidence: float) -> dict[str, dict[str, float]]:
    """Percentile interval ``{"low", "high"}`` of each metric over bootstrap ``samples`` (NaNs ignored)."""
    import numpy as np

    tail = (1 - confidence) / 2 * 100
    out: dict[str, dict[str, float]] = {}
    for name in samples[0] if samples else []:
        values = np.array([s[name] for s in samples], dtype=np.float64)
        values = values[~np.isnan(values)]
        if len(values) == 0:
            out[name] = {"low": math.nan, "high": math.nan}
        else:
            out[name] = {"low": float(np.percentile(values, tail)), "high": float(np.percentile(values, 100 - tail))}
    return out


# --- the release gate's defaults per task ----------------------------------------------------------------------

DEFAULT_PRIMARY_METRIC: dict[Task, str] = {
    Task.BINARY: "average_precision",
    Task.MULTICLASS: "macro_f1",
    Task.REGRESSION: "r2",
}
"""``gate.primary_metric`` when params.yaml leaves it out (and what ``make init-data`` writes)."""

DEFAULT_GUARDS: dict[Task, dict[str, float]] = {
    Task.BINARY: {"roc_auc": 0.01, "recall": 0.05},
    Task.MULTICLASS: {"balanced_accuracy": 0.02, "log_loss": 0.05},
    Task.REGRESSION: {},
}
"""``gate.guards`` when params.yaml leaves them out: unit-free metrics only, so they suit any data
(:func:`data_guards` adds the regression guards that need the target's scale)."""

ROC_AUC_FLOOR = 0.55
"""The ROC AUC floor: better than chance (0.5) by a margin."""
FLOOR_MARGIN = 0.01
"""How far above a no-skill model's score a floor sits, so that a model that learned nothing never passes."""

DEFAULT_FLOORS: dict[Task, dict[str, float]] = {
    Task.BINARY: {"roc_auc": ROC_AUC_FLOOR},
    Task.MULTICLASS: {"roc_auc_ovr": ROC_AUC_FLOOR},
    Task.REGRESSION: {"r2": FLOOR_MARGIN},
}
"""``gate.floors`` when params.yaml leaves them out: the floors that need no data (:func:`no_skill_floors` adds
the ones ``make init-data`` computes from the target)."""


def _round_up(value: float) -> float:
    return math.ceil(value * 10_000) / 10_000


def no_skill_floors(task: Task, y: Any) -> dict[str, float]:
    """``gate.floors`` that a model with no skill on targets ``y`` (class indices, or values) fails.

    Binary: ROC AUC :data:`ROC_AUC_FLOOR`, average precision the positive rate (a random score's). Multiclass:
    macro-F1 above the majority-class model's by :data:`FLOOR_MARGIN`, one-vs-rest ROC AUC :data:`ROC_AUC_FLOOR`.
    Regression: R² above 0 (the training mean's) by :data:`FLOOR_MARGIN`.
    """
    import numpy as np

    values = np.asarray(y)
    if task is Task.BINARY:
        return {"roc_auc": ROC_AUC_FLOOR, "average_precision": math.floor(float(values.mean()) * 10_000) / 10_000}
    if task is Task.MULTICLASS:
        counts = np.unique(values, return_counts=True)[1]
        majority = counts.max() / counts.sum()
        baseline = 2 * majority / (1 + majority) / len(counts)  # F1 of the majority class; every other class 0
        return {"macro_f1": _round_up(baseline + FLOOR_MARGIN), "roc_auc_ovr": ROC_AUC_FLOOR}
    return {"r2": FLOOR_MARGIN}


GUARD_SHARE_OF_SPREAD = 0.02
"""Regression: how much the MAE may grow against the champion, as a share of the target's standard deviation."""


def data_guards(task: Task, y: Any) -> dict[str, float]:
    """``gate.guards`` for targets ``y``: :data:`DEFAULT_GUARDS`, and for regression an MAE allowance in the target's
    unit (:data:`GUARD_SHARE_OF_SPREAD` of its standard deviation)."""
    import numpy as np

    guards = dict(DEFAULT_GUARDS[task])
    if task is Task.REGRESSION:
        spread = float(np.std(np.asarray(y, dtype=np.float64)))
        guards["mae"] = float(f"{GUARD_SHARE_OF_SPREAD * spread:.3g}") if spread else 0.0
    return guards
