"""The pull-request report's charts for each task: their data in ``report.json``, how they are made, their Markdown.

- **binary**: ROC and precision-recall curves of both sides sampled on one grid, and both confusion matrices;
- **multiclass**: F1 per class and both confusion matrices (the evaluate stage's ``per_class_f1.csv`` and
  ``confusion.csv``, which hold every test row);
- **regression**: predicted against actual, averaged per bin of the actual value, and the histogram of the
  residuals (actual - predicted), from each side's ``predictions.parquet`` (every test row: the regression plot
  tables hold a sample).

Charts are Mermaid ``xychart-beta`` diagrams and tables, which GitHub renders in comments without an image host.
A diagram's axis holds only numbers and fixed words: class names come from the pull request, so the diagrams and
tables number the classes and the names appear once, each in a code span outside any table (a ``|`` in a name would
split a cell). A side whose model is of another task than the head's (a pull request that changes
``schema.task``) has no chart data: its part is None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from gitops_ml.errors import CompareError
from gitops_ml.gitops.base_side import BinaryPlots, ClassPlots, Outputs
from gitops_ml.gitops.markdown import code_span
from gitops_ml.model_metrics import Outcome
from gitops_ml.tasks import DEFAULT_TASK

CURVE_GRID = tuple(round(x, 2) for x in np.linspace(0, 1, 21))
MAX_CLASSES = 1_000
MATRIX_MAX_CLASSES = 20
"""Up to this many classes the report holds and shows the confusion matrices (a larger one is unreadable)."""
ACTUAL_BINS = 10
RESIDUAL_BINS = 12
RESIDUAL_RANGE = (1.0, 99.0)
"""Percentiles of both sides' residuals the histogram spans; the end bins also count the rows beyond them."""

Text = Annotated[str, Field(max_length=2_000)]
Unit = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


class ReportModel(BaseModel):
    """Base of every part of ``report.json``."""

    # strict: a number must be a JSON number (not "0.5", not true) and finite (no NaN, no Infinity)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def task_tag(value: Any) -> str:
    """The ``task`` of a part of the report that differs per task; binary when absent (a report from before tasks)."""
    task = value.get("task") if isinstance(value, dict) else getattr(value, "task", None)
    return str(task) if task is not None else DEFAULT_TASK.value


# --- binary ------------------------------------------------------------------------------------------------------


class Confusion(ReportModel):
    tn: Count
    fp: Count
    fn: Count
    tp: Count


class CurvePair(ReportModel):
    """A curve of each side sampled at :data:`CURVE_GRID` (x), so both lines share one axis."""

    base: list[Unit] | None = Field(min_length=len(CURVE_GRID), max_length=len(CURVE_GRID))
    head: list[Unit] = Field(min_length=len(CURVE_GRID), max_length=len(CURVE_GRID))


class ClassLabels(ReportModel):
    """How the head's params.yaml names the classes (``project.positive_label`` / ``negative_label``)."""

    positive: Text = "positive"
    negative: Text = "negative"


class BinaryCharts(ReportModel):
    """ROC and precision-recall curves and confusion matrices (the only charts of a report from before tasks)."""

    task: Literal["binary"] = "binary"
    roc: CurvePair
    precision_recall: CurvePair
    confusion_base: Confusion | None
    confusion_head: Confusion
    labels: ClassLabels = ClassLabels()  # absent in a report.json written before the labels were added


# --- multiclass --------------------------------------------------------------------------------------------------


class ClassResults(ReportModel):
    """One side's model per class, in its class order: F1, test rows, and the confusion matrix when it is small."""

    classes: list[Text] = Field(min_length=2, max_length=MAX_CLASSES)
    f1: list[Unit]
    rows: list[Count]
    matrix: list[list[Count]] | None
    """Rows: actual class, columns: predicted class; None above :data:`MATRIX_MAX_CLASSES` classes."""

    @model_validator(mode="after")
    def _check_shape(self) -> ClassResults:
        k = len(self.classes)
        if len(set(self.classes)) != k:
            raise ValueError("classes: a class is listed twice")
        if len(self.f1) != k or len(self.rows) != k:
            raise ValueError(f"f1 and rows need one value per class ({k})")
        if self.matrix is not None:
            if k > MATRIX_MAX_CLASSES or len(self.matrix) != k or any(len(row) != k for row in self.matrix):
                raise ValueError(f"matrix must be {k} x {k}, and is kept only up to {MATRIX_MAX_CLASSES} classes")
            if [sum(row) for row in self.matrix] != self.rows:
                raise ValueError("rows must be the matrix's row sums")
        return self


class MulticlassCharts(ReportModel):
    task: Literal["multiclass"]
    base: ClassResults | None
    head: ClassResults


# --- regression --------------------------------------------------------------------------------------------------


def _same_length(name: str, reference: Sequence[float], *series: Sequence[float] | None) -> None:
    if any(s is not None and len(s) != len(reference) for s in series):
        raise ValueError(f"every series needs one value per {name} ({len(reference)})")


class Binned(ReportModel):
    """Mean predicted value per bin of the actual value (the head's test rows' deciles), each side."""

    actual: list[float] = Field(min_length=1, max_length=50)
    """Mean actual value of the head's test rows in each bin: where a perfect model's line lies."""
    base: list[float] | None
    head: list[float]

    @model_validator(mode="after")
    def _check_lengths(self) -> Binned:
        _same_length("bin", self.actual, self.base, self.head)
        return self


class Histogram(ReportModel):
    """Share of each side's test rows per bin of the residual (actual - predicted)."""

    edges: list[float] = Field(min_length=2, max_length=51)
    base: list[Unit] | None
    head: list[Unit]

    @model_validator(mode="after")
    def _check_bins(self) -> Histogram:
        _same_length("bin", self.edges[1:], self.base, self.head)
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must increase")
        return self


class RegressionCharts(ReportModel):
    task: Literal["regression"]
    predicted_actual: Binned
    residuals: Histogram


Charts = Annotated[
    Annotated[BinaryCharts, Tag("binary")]
    | Annotated[MulticlassCharts, Tag("multiclass")]
    | Annotated[RegressionCharts, Tag("regression")],
    Discriminator(task_tag),
]
"""The charts of the head's task."""


# --- building ----------------------------------------------------------------------------------------------------


def sample_roc(roc: pd.DataFrame) -> list[float]:
    """True positive rate at each false positive rate of :data:`CURVE_GRID` (linear interpolation)."""
    table = roc.sort_values(["fpr", "tpr"])
    values = np.interp(CURVE_GRID, table["fpr"].to_numpy(), table["tpr"].to_numpy())
    return [round(float(np.clip(v, 0, 1)), 4) for v in values]


def sample_precision_recall(pr: pd.DataFrame) -> list[float]:
    """Interpolated precision (best precision at recall >= r) at each recall of :data:`CURVE_GRID`."""
    recall, precision = pr["recall"].to_numpy(), pr["precision"].to_numpy()
    out = []
    for r in CURVE_GRID:
        reachable = precision[recall >= r - 1e-12]
        out.append(round(float(np.clip(reachable.max(), 0, 1)), 4) if len(reachable) else 0.0)
    return out


def _binary(base: BinaryPlots | None, head: BinaryPlots, labels: ClassLabels) -> BinaryCharts:
    def both(sample: Callable[[pd.DataFrame], list[float]], table: Callable[[BinaryPlots], pd.DataFrame]) -> CurvePair:
        return CurvePair(base=sample(table(base)) if base else None, head=sample(table(head)))

    return BinaryCharts(
        roc=both(sample_roc, lambda p: p.roc),
        precision_recall=both(sample_precision_recall, lambda p: p.precision_recall),
        confusion_base=Confusion(**base.confusion) if base else None,
        confusion_head=Confusion(**head.confusion),
        labels=labels,
    )


def class_results(plots: ClassPlots) -> ClassResults:
    """One multiclass side's :class:`ClassResults` from its plot tables."""
    small = len(plots.classes) <= MATRIX_MAX_CLASSES
    return ClassResults(
        classes=plots.classes,
        f1=[round(v, 4) for v in plots.f1],
        rows=[sum(row) for row in plots.confusion],
        matrix=plots.confusion if small else None,
    )


def _bin_means(values: np.ndarray, bins: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(bins, minlength=n_bins)
    sums = np.bincount(bins, weights=values, minlength=n_bins)
    return counts, np.divide(sums, counts, out=np.zeros(n_bins), where=counts > 0)


def predicted_against_actual(head: Outcome, base: Outcome | None, bins: int = ACTUAL_BINS) -> Binned:
    """Mean predicted value per quantile bin of the head's actual values; the base's rows in the same bins.

    Bins without head rows are left out; the base's line is left out (None) when one of the kept bins has none of
    its rows (its test set lies elsewhere).
    """
    edges = np.unique(np.quantile(head.y, np.linspace(0, 1, bins + 1)))
    inner = edges[1:-1]
    n_bins = max(len(edges) - 1, 1)

    def assign(y: np.ndarray) -> np.ndarray:
        return np.asarray(np.clip(np.searchsorted(inner, y, side="right"), 0, n_bins - 1), dtype=np.int64)

    head_bins = assign(head.y)
    counts, actual = _bin_means(head.y, head_bins, n_bins)
    _, head_mean = _bin_means(head.predicted, head_bins, n_bins)
    keep = counts > 0
    base_mean = None
    if base is not None:
        base_bins = assign(base.y)
        base_counts, means = _bin_means(base.predicted, base_bins, n_bins)
        base_mean = _rounded(means[keep]) if (base_counts[keep] > 0).all() else None
    return Binned(actual=_rounded(actual[keep]), base=base_mean, head=_rounded(head_mean[keep]))


def residual_histogram(head: Outcome, base: Outcome | None, bins: int = RESIDUAL_BINS) -> Histogram:
    """Share of each side's test rows per residual bin; the bins span :data:`RESIDUAL_RANGE` of both sides'
    residuals, and the end bins also count the rows beyond them."""
    residuals = [o.y - o.predicted for o in (head, base) if o is not None]
    low, high = np.percentile(np.concatenate(residuals), RESIDUAL_RANGE)
    if not high - low > 1e-9 * max(abs(low), abs(high), 1.0):  # (nearly) one value: a bin either side of it
        low, high = low - max(abs(low), 1.0) * 0.05, high + max(abs(high), 1.0) * 0.05
    edges = np.linspace(low, high, bins + 1)

    def shares(r: np.ndarray) -> list[float]:
        index = np.clip(np.searchsorted(edges[1:-1], r, side="right"), 0, bins - 1)
        return [round(float(v), 4) for v in np.bincount(index, minlength=bins) / len(r)]

    return Histogram(
        edges=[float(e) for e in edges],  # unrounded: close edges far from 0 must stay apart
        base=shares(residuals[1]) if base is not None else None,
        head=shares(residuals[0]),
    )


def _rounded(values: np.ndarray) -> list[float]:
    """Values to 6 significant digits: the report's charts show at most 4."""
    return [float(f"{v:.6g}") for v in values]


def build_charts(
    base: Outputs, head: Outputs, labels: ClassLabels
) -> BinaryCharts | MulticlassCharts | RegressionCharts:
    """The charts of the head's task; the base's part only when its model is of the same task."""
    same = base.task is head.task
    if isinstance(head.plots, BinaryPlots):
        return _binary(base.plots if same and isinstance(base.plots, BinaryPlots) else None, head.plots, labels)
    if isinstance(head.plots, ClassPlots):
        base_plots = base.plots if same and isinstance(base.plots, ClassPlots) else None
        return MulticlassCharts(
            task="multiclass",
            base=class_results(base_plots) if base_plots else None,
            head=class_results(head.plots),
        )
    head_outcome, base_outcome = _finite(head.side.outcome), _finite(base.side.outcome) if same else None
    if not head_outcome.rows:
        raise CompareError("the head's predictions.parquet holds no finite prediction; rerun the evaluate stage")
    return RegressionCharts(
        task="regression",
        predicted_actual=predicted_against_actual(head_outcome, base_outcome),
        residuals=residual_histogram(head_outcome, base_outcome if base_outcome and base_outcome.rows else None),
    )


def _finite(outcome: Outcome) -> Outcome:
    """A regression outcome without the rows whose target or prediction is not a finite number (a chart can't
    place them; the metrics already say n/a)."""
    keep = np.isfinite(outcome.y) & np.isfinite(outcome.predicted)
    return outcome if keep.all() else Outcome.of(outcome.task, outcome.y[keep], outcome.predicted[keep])


# --- rendering ---------------------------------------------------------------------------------------------------


def plain(value: float) -> str:
    """``value`` to 4 significant digits, without an exponent (Mermaid reads no exponent)."""
    return str(np.format_float_positional(value, precision=4, unique=False, fractional=False, trim="-"))


def _fixed(value: float) -> str:
    return f"{value:.4f}"


def xychart(
    title: str, x_label: str, x_ticks: Sequence[str], y_label: str, series: Sequence[tuple[str, Sequence[float]]],
    y_range: tuple[float, float] | None = None, number: Callable[[float], str] = plain,
) -> list[str]:  # fmt: skip
    """A Mermaid ``xychart-beta`` block; ``series`` are ("line" | "bar", values), drawn in that order.

    Every text is the caller's own (fixed words and numbers): nothing from a pull request goes into a diagram.
    """
    ticks = ", ".join(f'"{tick}"' for tick in x_ticks)
    y_axis = f'    y-axis "{y_label}"' + (f" {plain(y_range[0])} --> {plain(y_range[1])}" if y_range else "")
    return [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        f'    x-axis "{x_label}" [{ticks}]',
        y_axis,
        *(f"    {kind} [{', '.join(number(v) for v in values)}]" for kind, values in series),
        "```",
    ]


def _binary_lines(charts: BinaryCharts) -> list[str]:
    grid = [f"{x:.2f}" for x in CURVE_GRID]

    def curve(title: str, x_label: str, y_label: str, pair: CurvePair) -> list[str]:
        lines = [("line", pair.base)] if pair.base is not None else []
        return xychart(title, x_label, grid, y_label, [*lines, ("line", pair.head)], (0, 1), _fixed)

    b, h = charts.confusion_base, charts.confusion_head
    both = b is not None
    header = "| | base: negative | base: positive | head: negative | head: positive |" if both else (
        "| | head: negative | head: positive |"
    )  # fmt: skip
    return [
        "First line: base, second line: head." if both else "The line is the head's (the base is not a binary model).",
        "",
        *curve("ROC curve", "false positive rate", "true positive rate", charts.roc),
        "",
        *curve("Precision-recall curve", "recall", "precision", charts.precision_recall),
        "",
        # The labels come from the pull request's params.yaml: in code spans, and outside the table (a `|` in a
        # label would split a cell).
        f"Confusion matrices (rows: actual, columns: predicted; positive: {code_span(charts.labels.positive)}, "
        f"negative: {code_span(charts.labels.negative)}):",
        "",
        header,
        "|---|---:|---:|" + ("---:|---:|" if both else ""),
        f"| **negative** |{f' {b.tn} | {b.fp} |' if b else ''} {h.tn} | {h.fp} |",
        f"| **positive** |{f' {b.fn} | {b.tp} |' if b else ''} {h.fn} | {h.tp} |",
    ]


def class_numbers(charts: MulticlassCharts) -> dict[str, int]:
    """Each class's number in the report: the head's classes in order, then the base's other classes."""
    names = list(charts.head.classes) + [
        c for c in (charts.base.classes if charts.base else []) if c not in charts.head.classes
    ]
    return {name: i + 1 for i, name in enumerate(names)}


def _matrix_lines(side: str, results: ClassResults, numbers: dict[str, int]) -> list[str]:
    if results.matrix is None:
        return [
            f"Confusion matrix, {side}: left out above {MATRIX_MAX_CLASSES} classes "
            "(`dvc plots show` draws it from reports/plots/confusion.csv)."
        ]
    ids = [numbers[c] for c in results.classes]
    return [
        f"Confusion matrix, {side} (rows: actual, columns: predicted, classes by number):",
        "",
        "| | " + " | ".join(str(i) for i in ids) + " |",
        "|---|" + "---:|" * len(ids),
        *(f"| **{i}** | " + " | ".join(str(v) for v in row) + " |" for i, row in zip(ids, results.matrix, strict=True)),
    ]


def _multiclass_lines(charts: MulticlassCharts) -> list[str]:
    numbers = class_numbers(charts)
    head, base = charts.head, charts.base
    head_f1 = dict(zip(head.classes, head.f1, strict=True))
    base_f1 = dict(zip(base.classes, base.f1, strict=True)) if base else {}
    base_rows = [base_f1[c] for c in head.classes] if base and all(c in base_f1 for c in head.classes) else None
    series = [("bar", head.f1), *([("line", base_rows)] if base_rows else [])]
    if base_rows:
        legend = "bars: head, line: base."
    else:
        legend = "bars: head (no base line: " + ("its classes differ)." if base else "not a multiclass model).")
    lines = [
        "Classes: " + " · ".join(f"{n} {code_span(name)}" for name, n in numbers.items()),
        "",
        f"F1 per class, {legend}",
        "",
        *xychart("F1 per class", "class", [str(numbers[c]) for c in head.classes], "F1", series, (0, 1), _fixed),
        "",
        "| class | base F1 | head F1 | delta | head test rows |",
        "|---:|---:|---:|---:|---:|",
    ]
    head_rows = dict(zip(head.classes, head.rows, strict=True))
    for name, n in numbers.items():
        old, new = base_f1.get(name), head_f1.get(name)
        delta = f"{new - old:+.4f}" if old is not None and new is not None else "n/a"
        lines.append(f"| {n} | {_decimal(old)} | {_decimal(new)} | {delta} | {head_rows.get(name, 'n/a')} |")
    for side, results in (("base", base), ("head", head)):
        lines += ["", *_matrix_lines(side, results, numbers)] if results else []
    return lines


def _decimal(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _regression_lines(charts: RegressionCharts) -> list[str]:
    binned, hist = charts.predicted_actual, charts.residuals
    base_line = [("line", binned.base)] if binned.base is not None else []
    centres = [(a + b) / 2 for a, b in zip(hist.edges, hist.edges[1:], strict=False)]
    top = max([*hist.head, *(hist.base or [])])
    return [
        "Predicted against actual: the mean of each bin of the actual value (its deciles on the head's test rows). "
        + ("Lines: actual (where a perfect model lies), base, head." if binned.base is not None else
           "Lines: actual (where a perfect model lies), head (no base line: its test rows do not fill these bins)."),
        "",
        *xychart(
            "Predicted vs actual", "actual value (bin mean)", [plain(v) for v in binned.actual], "predicted value",
            [("line", binned.actual), *base_line, ("line", binned.head)],
        ),
        "",
        "Residuals (actual - predicted): share of each side's test rows per bin; the end bins also count the rows "
        "beyond them. " + ("Bars: head, line: base." if hist.base is not None else "Bars: head."),
        "",
        *xychart(
            "Residuals", "residual (bin centre)", [plain(c) for c in centres], "share of test rows",
            [("bar", hist.head), *([("line", hist.base)] if hist.base is not None else [])],
            (0, min(1.0, top * 1.1) or 1.0),
        ),
    ]  # fmt: skip


def chart_lines(charts: BinaryCharts | MulticlassCharts | RegressionCharts) -> list[str]:
    """The Markdown of the task's charts (the report's Charts section adds the metric deltas)."""
    if isinstance(charts, BinaryCharts):
        return _binary_lines(charts)
    if isinstance(charts, MulticlassCharts):
        return _multiclass_lines(charts)
    return _regression_lines(charts)
