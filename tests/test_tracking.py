"""MLflow tracking: the URI in force, a clear error when no server answers, what a run records of each task.

Runs logged into a real store and a real ``mlflow server``: tests/test_tracking_background.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from gitops_ml.config import load_params
from gitops_ml.errors import TrackingError
from gitops_ml.pipeline.interface import model_frame, score_frame
from gitops_ml.tasks import Task
from gitops_ml.tracking import _example_output, check_reachable, flatten, tracking_uri
from tests.support.fixture_project import FIXTURE_PARAMS
from tests.support.processes import free_port
from tests.support.task_models import fitted_model, task_rows, task_schema


def test_unreachable_server_fails_fast_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    params = load_params(FIXTURE_PARAMS)
    assert tracking_uri(params) == dead
    with pytest.raises(TrackingError, match=r"unreachable .*unset it to log to the local sqlite store"):
        check_reachable(tracking_uri(params))


def test_default_uri_is_the_local_sqlite_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(load_params(FIXTURE_PARAMS)) == "sqlite:///mlflow.db"
    check_reachable("sqlite:///mlflow.db")  # nothing to reach: no error


def test_flatten_names_nested_keys_with_dots() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}


@pytest.mark.parametrize("task", list(Task))
def test_the_logged_signature_has_the_tasks_output(task: Task) -> None:
    """MLflow's signature gets the model's output of each task: a regressor has no predict_proba."""
    schema = task_schema(task)
    rows = task_rows(schema, 200, seed=1)
    model = fitted_model(schema, rows)
    example = model_frame(rows.head(5), schema)
    output = _example_output(model, example, task)
    expected_shape = (5, len(schema.class_labels)) if task is Task.MULTICLASS else (5,)
    assert output.shape == expected_shape
    np.testing.assert_allclose(output, score_frame(model, rows.head(5), schema))
