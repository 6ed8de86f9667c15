"""The report's charts per task: made from real evaluated sides, sampled and binned right, rendered as Mermaid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitops_ml.errors import CompareError
from gitops_ml.gitops.base_side import Outputs, read_outputs
from gitops_ml.gitops.compare import Side
from gitops_ml.gitops.report import Report, build_report, render
from gitops_ml.gitops.report_charts import (
    CURVE_GRID,
    BinaryCharts,
    ClassLabels,
    MulticlassCharts,
    RegressionCharts,
    build_charts,
    plain,
    predicted_against_actual,
    residual_histogram,
    sample_precision_recall,
    sample_roc,
)
from gitops_ml.model_metrics import Outcome
from gitops_ml.tasks import Task
from tests.support.task_sides import CLASSES


def _report(base: Path, head: Path) -> Report:
    return build_report("main", "a" * 40, "b" * 40, False, read_outputs(base), read_outputs(head), [])


def test_curve_sampling_on_the_shared_grid():
    roc = pd.DataFrame({"fpr": [0.0, 0.0, 1.0], "tpr": [0.0, 1.0, 1.0]})
    assert sample_roc(roc) == [1.0] * len(CURVE_GRID)
    pr = pd.DataFrame({"recall": [1.0, 0.5, 0.0], "precision": [0.2, 0.6, 1.0]})
    sampled = sample_precision_recall(pr)
    assert sampled[0] == 1.0
    assert sampled[CURVE_GRID.index(0.5)] == 0.6
    assert sampled[-1] == 0.2


@pytest.mark.parametrize("task", list(Task))
def test_a_report_of_each_task_from_real_evaluated_sides(task: Task, task_sides: dict[Task, tuple[Path, Path]]):
    base_dir, head_dir = task_sides[task]
    report = _report(base_dir, head_dir)
    assert report.task is task and report.noise.paired  # the same test rows on both sides
    head = read_outputs(head_dir).side.outcome
    charts = report.charts
    if isinstance(charts, BinaryCharts):
        assert charts.confusion_base is not None
        assert sum(charts.confusion_head.model_dump().values()) == head.rows
    elif isinstance(charts, MulticlassCharts):
        assert charts.base is not None and charts.base.classes == charts.head.classes == CLASSES
        assert sum(charts.head.rows) == head.rows and charts.head.matrix is not None
        assert min(charts.head.f1) > max(0.0, min(charts.base.f1))  # the skill-less base never picks some class
    else:
        assert isinstance(charts, RegressionCharts)
        binned = charts.predicted_actual
        assert binned.actual == sorted(binned.actual) and binned.base is not None and len(binned.actual) == 10
        # the fitted head follows the actual values more closely than the nearly constant base
        assert np.ptp(binned.head) > 2 * np.ptp(binned.base)
        assert sum(charts.residuals.head) == pytest.approx(1.0, abs=1e-3)
    text = render(Report.model_validate(report.model_dump(mode="json")))
    assert text.count("```mermaid") == {Task.BINARY: 3, Task.MULTICLASS: 2, Task.REGRESSION: 3}[task]
    assert "| rows | " not in text  # the same data on both sides: one line, no table
    assert f"{report.data.head.rows} rows" in text


def test_a_pull_request_that_changes_the_task_gets_a_report(task_sides: dict[Task, tuple[Path, Path]]):
    report = _report(task_sides[Task.BINARY][0], task_sides[Task.MULTICLASS][1])
    assert report.task is Task.MULTICLASS and not report.noise.paired
    assert isinstance(report.charts, MulticlassCharts) and report.charts.base is None
    assert all(row.base is None and row.verdict == "n/a" for row in report.metrics)  # a binary log loss is no base
    assert (
        "new model line: the data contract changed since the base (task changed from binary to multiclass)"
        in (report.gate.reasons[-1])
    )
    assert report.data.changed and report.data.base is not None and report.data.base.task == "binary"
    text = render(report)
    assert "| positives | " in text and "Rows per class, base → head:" in text
    assert "(no base line: not a multiclass model)" in text


def _outcome(y: np.ndarray, predicted: np.ndarray) -> Outcome:
    return Outcome.of(Task.REGRESSION, y, predicted)


def test_predicted_against_actual_is_the_mean_per_decile_of_the_actual_values():
    rng = np.random.default_rng(0)
    y = rng.exponential(10, 1000)
    predicted = y + rng.normal(0, 2, 1000)
    binned = predicted_against_actual(_outcome(y, predicted), _outcome(y, predicted * 0.5))
    decile = pd.qcut(y, 10, labels=False)
    by_bin = pd.DataFrame({"y": y, "p": predicted, "bin": decile}).groupby("bin").mean()
    assert binned.actual == pytest.approx(list(by_bin["y"]), rel=1e-5)
    assert binned.head == pytest.approx(list(by_bin["p"]), rel=1e-5)
    assert binned.base == pytest.approx(list(by_bin["p"] * 0.5), rel=1e-5)


def test_a_base_whose_rows_miss_a_bin_has_no_line():
    y = np.arange(100.0)
    binned = predicted_against_actual(_outcome(y, y), _outcome(y[:50], y[:50]))
    assert binned.base is None and len(binned.head) == 10


def test_a_constant_target_gives_one_bin():
    binned = predicted_against_actual(_outcome(np.full(20, 3.0), np.full(20, 2.0)), None)
    assert (binned.actual, binned.head, binned.base) == ([3.0], [2.0], None)


def test_the_residual_histogram_shares_bins_and_counts_the_tails_in_the_end_bins():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, 2000)
    head = _outcome(y, y - rng.normal(0, 1, 2000))
    base = _outcome(y, y - rng.normal(0.5, 2, 2000))
    hist = residual_histogram(head, base)
    assert len(hist.edges) == 13 and hist.base is not None
    assert sum(hist.head) == pytest.approx(1, abs=1e-3) and sum(hist.base) == pytest.approx(1, abs=1e-3)
    pooled = np.concatenate([head.y - head.predicted, base.y - base.predicted])
    assert (hist.edges[0], hist.edges[-1]) == pytest.approx(tuple(np.percentile(pooled, [1, 99])), rel=1e-5)
    base_residuals = base.y - base.predicted
    below = (base_residuals < hist.edges[1]).mean()
    assert hist.base[0] == pytest.approx(below, abs=1e-4)  # the first bin holds everything below its upper edge
    assert hist.head[0] < hist.base[0]  # the base's residuals spread wider
    flat = residual_histogram(_outcome(np.ones(10), np.ones(10)), None)
    assert (
        flat.head[len(flat.head) // 2 - 1 : len(flat.head) // 2 + 1] in ([1.0, 0.0], [0.0, 1.0]) and flat.base is None
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(1234567.0, "1235000"), (-0.00012345, "-0.0001234"), (2.0, "2"), (0.0, "0"), (1e-9, "0.000000001")],
)
def test_numbers_in_a_mermaid_chart_have_no_exponent(value: float, text: str):
    assert plain(value) == text


def test_residuals_far_from_zero_and_predictions_that_are_not_numbers_still_chart():
    y = np.full(50, 1e9)
    hist = residual_histogram(_outcome(y, y - 1e6 - np.linspace(0, 1e-3, 50)), None)  # residuals 1e6 ± 1e-3
    assert hist.edges == sorted(set(hist.edges)) and sum(hist.head) == pytest.approx(1)

    def side(predicted: np.ndarray) -> Outputs:
        outcome = _outcome(np.arange(8.0), predicted)
        return Outputs(params={}, data_summary={}, side=Side({}, {}, outcome, "t"), plots=None)

    nan = np.array([0, 1, 2, np.nan, 4, 5, np.inf, 7.0])
    charts = build_charts(side(np.arange(8.0)), side(nan), ClassLabels())
    assert isinstance(charts, RegressionCharts) and sum(charts.residuals.head) == pytest.approx(1)
    with pytest.raises(CompareError, match="holds no finite prediction"):
        build_charts(side(np.arange(8.0)), side(np.full(8, np.nan)), ClassLabels())
