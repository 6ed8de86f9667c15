"""Evaluate: metrics agree with the predictions it writes, plot tables have the columns dvc.yaml names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import precision_recall_fscore_support

from gitops_ml.config import EvaluateParams, Params, TrainParams
from gitops_ml.model_io import save_model
from gitops_ml.model_metrics import Outcome, compute_metrics
from gitops_ml.pipeline.evaluate import MAX_SCATTER_POINTS, curve_tables, regression_tables, run_evaluate
from gitops_ml.pipeline.train import fit_model
from gitops_ml.predictions import read_predictions
from gitops_ml.tasks import Task
from tests.support.task_sides import CLASSES, write_side

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, train_test, params: Params) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("evaluate")
    train, test = train_test
    save_model(fit_model(train, params.schema, TrainParams(estimator="logistic_regression")), out / "model.skops")
    test.to_parquet(out / "test.parquet")
    metrics = run_evaluate(
        out / "model.skops", out / "test.parquet", params.schema, params.evaluate, 0, out / "reports", ("no", "yes")
    )
    return out / "reports", metrics


def test_metrics_match_the_written_predictions(evaluated: tuple[Path, dict], params: Params) -> None:
    reports, metrics = evaluated
    predictions = read_predictions(reports / "predictions.parquet", params.task, params.evaluate.threshold)
    again = compute_metrics(predictions)
    for name, value in again.items():
        assert metrics[name] == pytest.approx(value), name
    assert json.loads((reports / "metrics.json").read_text()) == metrics
    assert metrics["test_rows"] == predictions.rows


def test_intervals_bracket_the_estimates(evaluated: tuple[Path, dict]) -> None:
    reports, metrics = evaluated
    intervals = json.loads((reports / "metrics_ci.json").read_text())
    assert intervals["confidence"] == 0.95
    for name, bounds in intervals["metrics"].items():
        assert bounds["low"] <= metrics[name] <= bounds["high"], name


def test_plot_files_have_the_columns_dvc_yaml_names(evaluated: tuple[Path, dict]) -> None:
    reports, _ = evaluated
    declared = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    for plot in declared:
        (spec,) = plot.values()
        ((path, y_column),) = spec["y"].items()
        table = pd.read_csv(reports.parent / path)
        assert {spec["x"], y_column} <= set(table.columns), path


def test_curves_are_thinned_and_confusion_has_a_row_per_test_row() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.1).astype(int)
    s = rng.random(5000)
    tables = curve_tables(y, s, threshold=0.5, bins=10, labels=("stayed", "churned"))
    assert len(tables["roc"]) <= 200
    assert len(tables["precision_recall"]) <= 200
    confusion = tables["confusion"]
    assert len(confusion) == 5000
    assert (confusion["actual"] == "churned").sum() == y.sum()
    assert (confusion["predicted"] == "churned").sum() == (s >= 0.5).sum()
    assert set(confusion["actual"]) == set(confusion["predicted"]) == {"stayed", "churned"}
    assert len(tables["calibration"]) <= 10


def test_the_confusion_table_reads_back_under_its_labels(evaluated: tuple[Path, dict], params: Params) -> None:
    """What evaluate writes, the report reads with the same labels: the counts agree with the predictions."""
    from gitops_ml.gitops.base_side import read_confusion

    reports, _ = evaluated
    counts = read_confusion(reports / "plots" / "confusion.csv", ("no", "yes"))
    predictions = pd.read_parquet(reports / "predictions.parquet")
    actual = predictions["label"].to_numpy() == 1
    predicted = predictions["score"].to_numpy() >= params.evaluate.threshold
    assert counts == {
        "tn": int((~actual & ~predicted).sum()),
        "fp": int((~actual & predicted).sum()),
        "fn": int((actual & ~predicted).sum()),
        "tp": int((actual & predicted).sum()),
    }
    assert counts["tp"] + counts["fn"] > 0  # the test set has positives, so a swapped label would show


def test_threshold_is_reported(evaluated: tuple[Path, dict]) -> None:
    assert evaluated[1]["threshold"] == EvaluateParams().threshold


@pytest.fixture(scope="module")
def other_tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[Task, Path]:
    """A small multiclass and regression model evaluated by run_evaluate (tests/support/task_sides.py)."""
    root = tmp_path_factory.mktemp("evaluate-tasks")
    return {task: write_side(root / task.value, task) for task in (Task.MULTICLASS, Task.REGRESSION)}


def test_multiclass_plots_name_the_classes_and_give_each_its_f1(other_tasks: dict[Task, Path]) -> None:
    reports = other_tasks[Task.MULTICLASS] / "reports"
    predictions = read_predictions(reports / "predictions.parquet", Task.MULTICLASS)
    confusion = pd.read_csv(reports / "plots" / "confusion.csv", dtype=str)
    assert len(confusion) == predictions.rows
    assert list(confusion["actual"]) == [CLASSES[i] for i in predictions.y]
    assert list(confusion["predicted"]) == [CLASSES[i] for i in predictions.predicted_class]
    per_class = pd.read_csv(reports / "plots" / "per_class_f1.csv", dtype={"class": str})
    assert list(per_class["class"]) == CLASSES
    expected = precision_recall_fscore_support(predictions.y, predictions.predicted_class, labels=[0, 1, 2])
    for column, values in zip(("precision", "recall", "f1", "support"), expected, strict=True):
        assert per_class[column].to_numpy() == pytest.approx(values, abs=1e-5), column
    metrics = json.loads((reports / "metrics.json").read_text())
    assert per_class["f1"].mean() == pytest.approx(metrics["macro_f1"], abs=1e-5)  # every class is in the test set
    assert "threshold" not in metrics


def test_regression_plots_are_a_sample_spread_over_the_actual_values(other_tasks: dict[Task, Path]) -> None:
    reports = other_tasks[Task.REGRESSION] / "reports"
    predictions = read_predictions(reports / "predictions.parquet", Task.REGRESSION)
    pairs = pd.read_csv(reports / "plots" / "predicted_actual.csv")
    residuals = pd.read_csv(reports / "plots" / "residuals.csv")
    assert len(pairs) == predictions.rows <= MAX_SCATTER_POINTS  # a small test set is kept whole
    assert pairs["actual"].is_monotonic_increasing
    assert pairs["actual"].to_numpy() == pytest.approx(np.sort(predictions.y), rel=1e-5)
    assert residuals["predicted"].to_numpy() == pytest.approx(pairs["predicted"].to_numpy(), rel=1e-5)
    assert residuals["residual"].to_numpy() == pytest.approx(
        (pairs["actual"] - pairs["predicted"]).to_numpy(), abs=1e-4
    )

    rng = np.random.default_rng(0)
    y = rng.exponential(5, 5000)
    outcome = Outcome.of(Task.REGRESSION, y, y + rng.normal(0, 1, 5000))
    tables = regression_tables(outcome)
    sample = tables["predicted_actual"]
    assert len(sample) == MAX_SCATTER_POINTS
    assert (sample["actual"].iloc[0], sample["actual"].iloc[-1]) == (y.min(), y.max())  # both ends of the range
    assert sample["actual"].median() == pytest.approx(np.median(y), rel=0.05)  # spread like the test set
    pd.testing.assert_frame_equal(regression_tables(outcome)["residuals"], tables["residuals"])  # deterministic
