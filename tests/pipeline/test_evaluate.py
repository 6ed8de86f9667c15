"""Evaluate: metrics agree with the predictions it writes, plot tables have the columns dvc.yaml names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gitops_ml.config import EvaluateParams, Params, TrainParams
from gitops_ml.model_io import save_model
from gitops_ml.model_metrics import compute_metrics
from gitops_ml.pipeline.evaluate import curve_tables, run_evaluate
from gitops_ml.pipeline.train import fit_model
from gitops_ml.predictions import read_predictions

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
        table = pd.read_csv(reports.parent / path.replace("reports/", "reports/", 1))
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
