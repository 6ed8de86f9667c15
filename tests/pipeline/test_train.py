"""Training: every estimator fits inside one Pipeline, seeded and deterministic, and survives a skops round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from gitops_ml.config import Estimator, Params, TrainParams
from gitops_ml.model_io import load_model, save_model
from gitops_ml.pipeline.estimators import estimators_for
from gitops_ml.pipeline.features import model_frame
from gitops_ml.pipeline.train import build_model, fit_model, run_train
from gitops_ml.tasks import Task
from tests.support.task_models import task_schema


@pytest.mark.parametrize("estimator", [Estimator(name) for name in estimators_for(Task.BINARY)])
def test_each_estimator_fits_saves_and_loads(
    estimator: Estimator, train_test: tuple[pd.DataFrame, pd.DataFrame], params: Params, tmp_path: Path
) -> None:
    """Every estimator of a binary task learns the sample (all tasks: tests/pipeline/test_estimators.py)."""
    train, test = train_test
    small = TrainParams(
        estimator=estimator,
        random_forest={"n_estimators": 20},
        hist_gradient_boosting={"max_iter": 30},
        lightgbm={"n_estimators": 30},
        xgboost={"n_estimators": 30},
    )
    model = fit_model(train, params.schema, small)
    assert [name for name, _ in model.steps] == ["preprocess", "estimator"]
    features = model_frame(test, params.schema)
    scores = model.predict_proba(features)[:, 1]
    loaded = load_model(save_model(model, tmp_path / "model.skops"))
    np.testing.assert_allclose(loaded.predict_proba(features)[:, 1], scores)
    auc = roc_auc_score(test["is_fraud"], scores)
    if estimator is Estimator.DUMMY:
        assert auc == pytest.approx(0.5)
    else:
        assert auc > 0.8, f"{estimator} learned nothing: ROC AUC {auc:.3f}"


@pytest.mark.parametrize("estimator", list(Estimator))
def test_numbers_are_standardised_only_for_an_estimator_that_wants_it(estimator: Estimator) -> None:
    """Trees split on raw values: a scaler in front of them only makes their compiled float32 scores drift."""
    settings = TrainParams(estimator=estimator)
    task = min(settings.estimator_params.tasks)  # any task it supports
    numeric = build_model(task_schema(task), settings)[0].transformers[0][1]
    scaled = "scale" in numeric.named_steps
    assert scaled == settings.estimator_params.scale_numeric
    linear = estimator.value in {"logistic_regression", "ridge"}
    assert scaled == linear, f"{estimator.value}: {'a linear model unscaled' if linear else 'trees scaled'}"


def test_training_is_deterministic(train_test: tuple[pd.DataFrame, pd.DataFrame], params: Params) -> None:
    train, test = train_test
    small = TrainParams(estimator="random_forest", random_forest={"n_estimators": 15})
    features = model_frame(test, params.schema)
    first = fit_model(train, params.schema, small).predict_proba(features)
    second = fit_model(train, params.schema, small).predict_proba(features)
    # Parallel tree averaging may change the last bit of a float, nothing more.
    np.testing.assert_allclose(first, second, rtol=1e-12)


def test_unseen_category_and_missing_values_still_score(
    train_test: tuple[pd.DataFrame, pd.DataFrame], params: Params
) -> None:
    train, test = train_test
    model = fit_model(train, params.schema, TrainParams(estimator="logistic_regression"))
    odd = test.head(3).copy()
    odd["merchant_category"] = pd.array([pd.NA, "grocery", pd.NA], dtype="string")
    odd["customer_tenure_days"] = pd.array([pd.NA, pd.NA, 5], dtype="Int64")
    scores = model.predict_proba(model_frame(odd, params.schema))[:, 1]
    assert np.isfinite(scores).all()


def test_run_train_writes_model_and_card(tmp_path: Path, train_test: tuple[pd.DataFrame, pd.DataFrame], params: Params):
    train_path = tmp_path / "train.parquet"
    train_test[0].to_parquet(train_path)
    run_train(train_path, params.schema, TrainParams(estimator="dummy"), tmp_path / "m.skops", tmp_path / "info.json")
    info = (tmp_path / "info.json").read_text()
    assert '"estimator": "dummy"' in info and f'"train_rows": {len(train_test[0])}' in info
    assert '"task": "binary"' in info
    assert load_model(tmp_path / "m.skops") is not None


ADD_AN_ESTIMATOR = """
import sys
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import Field

from gitops_ml.pipeline.estimators import EstimatorParams, register
from gitops_ml.tasks import Task


@register("nearest_neighbors")
class NearestNeighborsParams(EstimatorParams):
    trusted_types = ("sklearn.metrics._dist_metrics.EuclideanDistance64", "sklearn.neighbors._kd_tree.KDTree")

    n_neighbors: int = Field(default=5, ge=1)

    def build(self, task: Task, seed: int) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        make = KNeighborsClassifier if task.is_classification else KNeighborsRegressor
        return make(algorithm="kd_tree", **self.arguments(task))


# After the registration, as a fork's would be:
from gitops_ml.config import ConfigError, parse_params  # noqa: E402
from gitops_ml.model_io import TRUSTED_TYPES, load_model, save_model  # noqa: E402
from gitops_ml.pipeline.interface import build_model, model_frame, score_frame  # noqa: E402

raw = yaml.safe_load(open(sys.argv[1]).read())
raw["train"] |= {"estimator": "nearest_neighbors", "nearest_neighbors": {"n_neighbors": 7}}
params = parse_params(raw)
schema = params.schema
model = build_model(schema, params.train)
print(type(model[-1]).__name__, model[-1].n_neighbors)
rng = np.random.default_rng(0)
frame = pd.DataFrame(
    {n: rng.choice(s.categories, 200) if s.categories else rng.random(200) for n, s in schema.columns.items()}
).assign(**{schema.target: np.arange(200) % 2})
model.fit(model_frame(frame, schema), frame[schema.target].to_numpy())
loaded = load_model(save_model(model, "model.skops"))  # only the declared types make this load
print("same scores:", np.array_equal(score_frame(loaded, frame, schema), score_frame(model, frame, schema)))
print("trusted:", all(t in TRUSTED_TYPES for t in NearestNeighborsParams.trusted_types))
raw["train"]["nearest_neighbors"] = {"n_neighbors": 0}
try:
    parse_params(raw)
except ConfigError as exc:
    print(exc)
"""


def test_an_estimator_added_in_the_registry_alone_is_selectable_typed_and_loadable(tmp_path: Path) -> None:
    """Adding an estimator is one class in pipeline/estimators.py: params.yaml can then choose and configure it, and
    its saved model loads with the types it declares (nothing to edit in model_io.py)."""
    from tests.support.fixture_project import FIXTURE_PARAMS
    from tests.support.projects import project_env, run

    script = tmp_path / "add_estimator.py"
    script.write_text(ADD_AN_ESTIMATOR)
    out = run(["python", str(script), str(FIXTURE_PARAMS)], tmp_path, project_env()).stdout.splitlines()
    assert out[:3] == ["KNeighborsClassifier 7", "same scores: True", "trusted: True"]
    assert any("train.nearest_neighbors.n_neighbors" in line for line in out[3:])
