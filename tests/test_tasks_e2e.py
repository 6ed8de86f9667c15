"""The whole loop for a multiclass and a regression project, through the Makefile only, as a team runs it.

For each task a fork of the template adopts a dataset of that task (tests/support/loop_data.py: ids, dates, gaps,
categories, free text, a rare class, unlabelled rows): ``make init-data`` infers the task and the contract,
``make run``, the commit init-data prints, ``make gate`` and ``make promote`` (the first release, on the floors
init-data set), ``make serve`` and rows scored over HTTP as pandas writes them, ``make drift`` on a shifted window,
and ``make report`` on a branch that changes a hyperparameter without committing it. Binary has the same walk in
tests/test_fork.py. One module-scoped fork per task keeps the slow part to one pipeline run each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import ColumnType, Params, load_params
from gitops_ml.model_call.compiled import max_difference
from gitops_ml.monitoring.drift import PREDICTION_NAMES
from gitops_ml.predictions import read_predictions
from gitops_ml.tasks import Task
from tests.support.fork import as_sent_by_pandas, fork_env, make, make_serve, new_fork
from tests.support.loop_data import WEATHER_CLASSES, house_table, weather_table
from tests.support.projects import run

pytestmark = pytest.mark.slow(weight=12)


@dataclass(frozen=True)
class Adoption:
    """A task's dataset as the team brings it."""

    task: Task
    file_name: str
    target: str
    make_table: Callable[[], pd.DataFrame]
    date_column: str
    text_column: str | None
    hyperparameter: str  # a params.yaml key the report's branch changes


ADOPTIONS = {
    Task.MULTICLASS: Adoption(
        Task.MULTICLASS, "weather.csv", "weather", weather_table, "date", None,
        "train.hist_gradient_boosting.learning_rate",
    ),
    Task.REGRESSION: Adoption(
        Task.REGRESSION, "houses.csv", "price", house_table, "listed_at", "description",
        "train.hist_gradient_boosting.learning_rate",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Fork:
    path: Path
    adoption: Adoption
    source: pd.DataFrame
    init_stdout: str

    @property
    def params(self) -> Params:
        return load_params(self.path / "params.yaml")


@pytest.fixture(scope="module", params=list(ADOPTIONS), ids=[t.value for t in ADOPTIONS])
def released(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path) -> Fork:
    """A fork that adopted the task's data, ran the pipeline, committed and released ``model-v1``."""
    adoption: Adoption = ADOPTIONS[request.param]
    home = tmp_path_factory.mktemp(adoption.task.value)
    fork = new_fork(home / "fork", dvc_cache)
    source = adoption.make_table()
    incoming = home / "incoming" / adoption.file_name
    incoming.parent.mkdir()
    source.to_csv(incoming, index=False)

    init = make(fork, "init-data", f"CSV={incoming}", f"TARGET={adoption.target}")
    make(fork, "run")
    commit = next(line.strip() for line in init.stdout.splitlines() if line.strip().startswith("git add"))
    run(["bash", "-c", commit], fork, env=fork_env(fork))
    make(fork, "gate")
    make(fork, "promote")
    return Fork(fork, adoption, source, init.stdout)


def test_init_data_infers_the_task_and_its_contract(released: Fork) -> None:
    params, adoption, source = released.params, released.adoption, released.source
    schema = params.schema
    assert schema.task is adoption.task
    assert schema.target == adoption.target
    assert schema.columns[adoption.date_column].type is ColumnType.DATETIME  # a feature, not a dropped column
    if adoption.text_column:
        assert adoption.text_column not in schema.columns  # free text with a value per row is left out...
        assert adoption.text_column in released.init_stdout  # ...and listed
    if adoption.task is Task.MULTICLASS:
        assert sorted(map(str, schema.class_labels)) == sorted(WEATHER_CLASSES)  # the rare class too
        assert params.gate.primary_metric == "macro_f1"
    else:
        labelled = source[adoption.target].dropna()
        assert schema.target_min is not None and schema.target_max is not None
        assert schema.target_min <= labelled.min() and labelled.max() <= schema.target_max
        assert params.gate.primary_metric == "r2" and params.gate.floors["r2"] > 0
    summary = json.loads((released.path / "reports" / "data_summary.json").read_text())
    unlabelled = int(source[adoption.target].isna().sum())
    assert summary["unlabelled_rows"] == unlabelled
    assert summary["rows"] == len(source) - unlabelled


def test_the_first_release_passes_the_floors_of_its_task(released: Fork) -> None:
    gate = json.loads((released.path / "reports" / "gate.json").read_text())
    assert gate["release"] is True, gate["reasons"]
    assert run(["git", "tag", "--points-at", "HEAD"], released.path).stdout.split() == ["model-v1"]
    metrics = json.loads((released.path / "reports" / "metrics.json").read_text())
    for name, floor in released.params.gate.floors.items():
        assert metrics[name] is not None and metrics[name] >= floor, (name, metrics[name], floor)
    assert "threshold" not in metrics  # a decision threshold is binary's only


@pytest.fixture(scope="module")
def served(released: Fork) -> Iterator[str]:
    """``make serve`` of the released model on a free port until ``/readyz`` answers; stopped afterwards."""
    with make_serve(released.path) as url:
        yield url


def test_the_service_answers_in_the_shape_of_the_task(released: Fork, served: str) -> None:
    params = released.params
    schema = params.schema
    test_rows = pd.read_parquet(released.path / "artifacts" / "test.parquet")
    # The raw rows of the source file behind the test split (dates as written, categories as text).
    raw = released.source.set_index(schema.ids[0]).loc[test_rows[schema.ids[0]]].reset_index()
    sent = as_sent_by_pandas(raw[[*schema.ids, *schema.feature_names]].head(200))
    response = httpx.post(f"{served}/predict", json={"records": sent}, timeout=60)
    assert response.status_code == 200, response.text[:2000]
    predictions = response.json()["predictions"]
    for name in schema.ids:
        assert [p[name] for p in predictions] == [r[name] for r in sent]
    evaluated = read_predictions(released.path / "reports" / "predictions.parquet", schema.task)
    if schema.task is Task.MULTICLASS:
        labels = [str(c) for c in schema.class_labels]
        served_probabilities = np.array([[p["probabilities"][c] for c in labels] for p in predictions])
        difference, allowed = max_difference(schema.task, served_probabilities, evaluated.predicted[: len(sent)])
        assert [p["label"] for p in predictions] == [labels[i] for i in served_probabilities.argmax(axis=1)]
    else:
        values = np.array([p["value"] for p in predictions])
        difference, allowed = max_difference(schema.task, values, evaluated.predicted[: len(sent)])
    assert difference <= allowed, f"served predictions differ from evaluate's by up to {difference:.3g}"
    smoke = make(released.path, "smoke-test", f"SMOKE_PORT={served.rsplit(':', 1)[1]}")
    assert smoke.returncode == 0


def shifted_window(released: Fork) -> pd.DataFrame:
    """Test rows with their first numeric feature scaled 1.8x: a drift a check must catch."""
    schema = released.params.schema
    rows = released.source.dropna(subset=[schema.target]).sample(n=600, replace=True, random_state=1)
    numeric = schema.names_of(ColumnType.FLOAT)[0]
    return rows.assign(**{numeric: rows[numeric] * 1.8})


def test_drift_catches_a_shifted_window_and_watches_the_prediction(released: Fork, tmp_path: Path) -> None:
    window = tmp_path / "window.csv"
    shifted_window(released).to_csv(window, index=False)
    make(released.path, "drift", f"CURRENT={window}", "AGAINST=workspace")
    drift = json.loads((released.path / "reports" / "drift.json").read_text())
    scaled = released.params.schema.names_of(ColumnType.FLOAT)[0]
    assert drift["drift"] is True and scaled in drift["drifted"], drift["drifted"]
    assert drift["task"] == released.adoption.task.value
    # time always moves: a date is listed, not compared
    assert released.adoption.date_column in [item["name"] for item in drift["not_checked"]]
    assert drift["score"] is not None and drift["score"]["name"] == PREDICTION_NAMES[released.adoption.task]


def test_a_branch_changing_a_hyperparameter_gets_a_report_with_metric_deltas(released: Fork) -> None:
    fork = released.path
    run(["git", "checkout", "-q", "-b", "faster"], fork)
    try:
        text = (fork / "params.yaml").read_text()
        assert "learning_rate: 0.1" in text
        (fork / "params.yaml").write_text(text.replace("learning_rate: 0.1", "learning_rate: 0.05", 1))
        make(fork, "report", "BASE=main")
        report = json.loads((fork / "reports" / "pr" / "report.json").read_text())
        assert [p["key"] for p in report["params"]] == [released.adoption.hyperparameter]
        assert report["head_dirty"] is True
        names = {row["name"] for row in report["metrics"]}
        assert released.params.gate.primary_metric in names
        assert any(row["delta"] not in (None, 0) for row in report["metrics"])
        markdown = (fork / "reports" / "pr" / "report.md").read_text()
        assert released.adoption.hyperparameter in markdown
    finally:
        run(["git", "checkout", "-q", "--", "params.yaml"], fork)
        run(["git", "checkout", "-q", "main"], fork)


def test_the_teams_checks_stay_green_on_its_data(released: Fork) -> None:
    ours = make(released.path, "pytest", "PYTEST_ARGS=tests/project -p no:cacheprovider", "COV_FLOOR=0", check=False)
    assert ours.returncode == 0, ours.stdout[-6000:] + ours.stderr[-3000:]
