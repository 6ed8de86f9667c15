"""The whole pipeline in a temporary copy of the repository: real git, real DVC, real MLflow sqlite store."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.support.projects import run

pytestmark = pytest.mark.slow

OUTPUTS = [
    "artifacts/validated.parquet",
    "artifacts/train.parquet",
    "artifacts/test.parquet",
    "models/model.skops",
    "models/model_info.json",
    "reports/data_summary.json",
    "reports/metrics.json",
    "reports/metrics_ci.json",
    "reports/predictions.parquet",
    "reports/plots/roc.csv",
    "reports/plots/precision_recall.csv",
    "reports/plots/confusion.csv",
    "reports/plots/calibration.csv",
    "reports/plots/feature_importance.csv",
]


def ran_stages(output: str) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", output)


def test_every_output_is_written_and_sane(pipeline_project: Path) -> None:
    for name in OUTPUTS:
        assert (pipeline_project / name).is_file(), name
    metrics = json.loads((pipeline_project / "reports/metrics.json").read_text())
    assert {"roc_auc", "average_precision", "f1", "precision", "recall", "accuracy", "log_loss", "threshold"} <= set(
        metrics
    )
    assert metrics["roc_auc"] > 0.85  # the sample is learnable; a broken feature pipeline lands near 0.5
    summary = json.loads((pipeline_project / "reports/data_summary.json").read_text())
    test = pd.read_parquet(pipeline_project / "artifacts/test.parquet")
    assert metrics["test_rows"] == len(test) == round(summary["rows"] * 0.25)
    importance = pd.read_csv(pipeline_project / "reports/plots/feature_importance.csv")
    assert set(importance["feature"]) == set(
        yaml.safe_load((pipeline_project / "params.yaml").read_text())["schema"]["columns"]
    )


def test_dvc_sees_metrics_and_plots(pipeline_project: Path) -> None:
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], pipeline_project).stdout)
    flat = json.dumps(shown)
    assert "average_precision" in flat
    plots = run(["dvc", "plots", "show", "--json"], pipeline_project).stdout
    for title in ("ROC curve", "Precision-recall curve", "Confusion matrix", "Calibration", "Feature importance"):
        assert title in plots, title


def test_second_repro_runs_nothing(pipeline_project: Path) -> None:
    result = run(["dvc", "repro"], pipeline_project)
    assert ran_stages(result.stdout) == []
    assert run(["dvc", "status", "--json"], pipeline_project).stdout.strip() == "{}"


def test_mlflow_run_was_logged_with_model_and_tags(pipeline_project: Path) -> None:
    with sqlite3.connect(pipeline_project / "mlflow.db") as db:
        tags = dict(db.execute("select key, value from tags").fetchall())
        metrics = {key for (key,) in db.execute("select distinct key from metrics")}
        params = dict(db.execute("select key, value from params").fetchall())
    assert tags["estimator"] == "hist_gradient_boosting"
    assert re.fullmatch(r"[0-9a-f]{40}", tags["git_commit"])
    assert re.fullmatch(r"[0-9a-f]{32}", tags["data_md5"])
    assert {"roc_auc", "average_precision", "log_loss"} <= metrics
    assert params["estimator"] == "hist_gradient_boosting" and "hist_gradient_boosting.max_iter" in params
    models = list((pipeline_project / "mlruns").rglob("MLmodel")) + list(
        (pipeline_project / "mlartifacts").rglob("MLmodel")
    )
    assert models, "no MLflow model was logged"
    mlmodel = models[0].read_text()
    assert "skops" in mlmodel and "signature" in mlmodel


def test_param_change_reruns_only_train_and_what_reads_the_model(project: Path) -> None:
    run(["gitops-ml", "ensure-data"], project)
    run(["dvc", "repro"], project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["hist_gradient_boosting"]["max_iter"] = 60
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["dvc", "repro"], project, env=None)
    assert ran_stages(result.stdout) == ["train", "evaluate", "drift_reference"]


def test_the_fixture_projects_dvc_lock_is_current(pipeline_project: Path) -> None:
    """tests/fixtures/project/dvc.lock records what the template's code makes of the sample (refresh it when not)."""
    from gitops_ml.gitops.lockfile import stale_stages

    assert stale_stages(pipeline_project) == [], (
        "tests/fixtures/project/dvc.lock is stale: run the pipeline on the sample and copy its dvc.lock there"
    )
