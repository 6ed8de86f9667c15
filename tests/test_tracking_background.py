"""The evaluate stage's MLflow run, logged by a real second process into a real MLflow sqlite store and server."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml

from gitops_ml.errors import TrackingError
from gitops_ml.model_io import save_model
from gitops_ml.pipeline.interface import model_frame, score_frame
from gitops_ml.tasks import Task
from gitops_ml.tracking_background import BackgroundRun
from tests.support.task_sides import params_doc, task_frame

pytestmark = pytest.mark.slow

TASK = Task.MULTICLASS


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What the evaluate stage finds when it starts: params, the trained model, the test split, the data summary."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from gitops_ml.config import parse_params
    from gitops_ml.pipeline.features import preprocessor

    doc = params_doc(TASK, tracking={"enabled": True, "experiment": "background"})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
    schema = parse_params(doc).schema
    frame = task_frame(TASK, rows=300)
    model = Pipeline([("preprocess", preprocessor(schema)), ("model", LogisticRegression(max_iter=500))])
    save_model(model.fit(model_frame(frame, schema), frame["y"].to_numpy()), tmp_path / "model.skops")
    frame.to_parquet(tmp_path / "test.parquet")
    (tmp_path / "data_summary.json").write_text(json.dumps({"md5": "a" * 32}))
    (tmp_path / "metrics.json").write_text('{"f1_macro": 0.5}')
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def background_run(project: Path, model: str = "model.skops") -> BackgroundRun:
    return BackgroundRun(
        project / "params.yaml", project / model, project / "test.parquet", project / "data_summary.json"
    )


def client(project: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(f"sqlite:///{project / 'mlflow.db'}")


def test_finish_records_the_run_with_params_tags_model_metrics_and_reports(project: Path) -> None:
    with background_run(project) as run:
        run_id = run.finish({"f1_macro": 0.75, "test_rows": 300}, [project / "metrics.json"])

    mlflow_client = client(project)
    recorded = mlflow_client.get_run(run_id)
    assert recorded.info.status == "FINISHED"
    assert recorded.data.metrics == {"f1_macro": 0.75, "test_rows": 300.0}
    assert recorded.data.params["estimator"] == "hist_gradient_boosting"  # params.yaml's default estimator
    assert recorded.data.tags["data_md5"] == "a" * 32
    assert {a.path for a in mlflow_client.list_artifacts(run_id, "reports")} == {"reports/metrics.json"}
    logged = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    from gitops_ml.config import load_params
    from gitops_ml.model_io import load_model

    schema = load_params(project / "params.yaml").schema
    frame = task_frame(TASK, rows=20, seed=3)
    np.testing.assert_allclose(
        score_frame(logged, frame, schema), score_frame(load_model(project / "model.skops"), frame, schema)
    )


def test_the_run_reaches_a_tracking_server(project: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    with background_run(project) as run:
        run_id = run.finish({"f1_macro": 0.75}, [project / "metrics.json"])
    server = mlflow.MlflowClient(mlflow_server)
    assert server.get_run(run_id).data.metrics == {"f1_macro": 0.75}
    assert {a.path for a in server.list_artifacts(run_id)} >= {"reports"}
    assert mlflow.sklearn.load_model(f"runs:/{run_id}/model") is not None


def test_a_stage_that_fails_before_finish_leaves_no_run_and_no_model(project: Path) -> None:
    with pytest.raises(RuntimeError, match="evaluation failed"), background_run(project):
        raise RuntimeError("evaluation failed")

    mlflow_client = client(project)
    experiment = mlflow_client.get_experiment_by_name("background")
    assert experiment is not None  # the child got as far as opening its run
    assert mlflow_client.search_runs([experiment.experiment_id]) == []
    deleted = mlflow_client.search_runs([experiment.experiment_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.status for r in deleted] == ["KILLED"]
    assert list(mlflow_client.search_logged_models([experiment.experiment_id])) == []


def test_a_run_the_child_cannot_open_fails_finish_with_the_reason(project: Path) -> None:
    (project / "broken.skops").write_text("not a model")
    with background_run(project, "broken.skops") as run, pytest.raises(TrackingError, match=r"broken\.skops"):
        run.finish({"f1_macro": 0.5}, [project / "metrics.json"])
