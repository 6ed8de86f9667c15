"""Every registered estimator, for every task it declares, fits inside the template's Pipeline, predicts the
task-shaped output, and survives a skops round trip with the trusted types it declares; an estimator asked for a
task it does not support is refused at config load and at build time, naming the ones that do.

The data is a small frame built here (numbers with gaps, a category with gaps, a flag), so the whole matrix of
estimators x tasks runs in seconds; hyperparameters are shrunk through the same params models params.yaml fills.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml

from gitops_ml.config import ConfigError, SchemaParams, TrainParams, parse_params
from gitops_ml.model_call.compiled import max_difference
from gitops_ml.model_call.scorer import column_scorer
from gitops_ml.model_io import BASE_TRUSTED_TYPES, TRUSTED_TYPES, load_model, save_model
from gitops_ml.pipeline.estimators import CLASSIFICATION, ESTIMATORS, estimators_for
from gitops_ml.pipeline.interface import score_frame
from gitops_ml.pipeline.train import build_model, fit_model
from gitops_ml.tasks import Task
from tests.support.fixture_project import FIXTURE_PARAMS

ROWS = 300
CLASSES = ["low", "mid", "high"]
SMALL: dict[str, dict[str, Any]] = {
    "random_forest": {"n_estimators": 10, "n_jobs": 1},  # one thread: its probabilities are then bit-reproducible
    "hist_gradient_boosting": {"max_iter": 20},
    "lightgbm": {"n_estimators": 20, "min_child_samples": 5},
    "xgboost": {"n_estimators": 20},
}
COLUMNS = {
    "amount": {"type": "float", "nullable": True},
    "visits": {"type": "int", "min": 0, "max": 50},
    "plan": {"type": "category", "nullable": True, "categories": ["basic", "plus", "pro"]},
    "mobile": {"type": "bool"},
}
PAIRS = [(name, task) for name, cls in ESTIMATORS.items() for task in Task if task in cls.tasks]


def schema_for(task: Task) -> SchemaParams:
    extra: dict[str, Any] = {"classes": CLASSES} if task is Task.MULTICLASS else {}
    return SchemaParams.model_validate({"task": task.value, "target": "y", "columns": COLUMNS, **extra})


def small_params(name: str) -> TrainParams:
    return TrainParams(estimator=name, **({name: SMALL[name]} if name in SMALL else {}))


@pytest.fixture(scope="module")
def frames() -> dict[Task, pd.DataFrame]:
    """Rows with the target encoded as the validated data holds it: 0/1, the class index, or the value."""
    rng = np.random.default_rng(7)
    amount = rng.normal(size=ROWS)
    plan = rng.choice(np.array(["basic", "plus", "pro"], dtype=object), size=ROWS)
    features = pd.DataFrame(
        {
            "amount": np.where(rng.random(ROWS) < 0.1, np.nan, amount),
            "visits": rng.integers(0, 51, size=ROWS),
            "plan": np.where(rng.random(ROWS) < 0.1, None, plan),
            "mobile": rng.random(ROWS) < 0.5,
        }
    )
    signal = amount + 1.5 * (plan == "pro") - features["visits"] / 25 + 0.5 * features["mobile"]
    noisy = signal + rng.normal(scale=0.3, size=ROWS)
    targets = {
        Task.BINARY: (noisy > noisy.median()).astype(np.int64),
        Task.MULTICLASS: np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3])).astype(np.int64),
        Task.REGRESSION: 3.0 * noisy,
    }
    return {task: features.assign(y=target) for task, target in targets.items()}


@pytest.fixture(scope="module")
def saved(frames: dict[Task, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, Task], Any]:
    """Lazily: (estimator, task) -> (fitted model, its predictions, path of its skops file)."""
    cache: dict[tuple[str, Task], Any] = {}

    def get(name: str, task: Task) -> tuple[Any, np.ndarray, Path]:
        if (name, task) not in cache:
            schema, frame = schema_for(task), frames[task]
            with warnings.catch_warnings():
                # Any warning fails here: LightGBM's "X does not have valid feature names" on every predict included.
                warnings.simplefilter("error")
                model = fit_model(frame, schema, small_params(name))
                predicted = score_frame(model, frame, schema)
            path = save_model(model, tmp_path_factory.mktemp(f"{name}-{task.value}") / "model.skops")
            cache[name, task] = (model, predicted, path)
        return cache[name, task]

    return get  # type: ignore[return-value]


@pytest.mark.parametrize(("name", "task"), PAIRS, ids=[f"{n}-{t.value}" for n, t in PAIRS])
def test_fits_predicts_the_tasks_shape_and_loads_back_identical(
    name: str, task: Task, saved: Any, frames: dict[Task, pd.DataFrame]
) -> None:
    model, predicted, path = saved(name, task)
    estimator = model[-1]
    assert hasattr(estimator, "predict_proba") == task.is_classification or name == "dummy", type(estimator)
    if task is Task.BINARY:
        assert predicted.shape == (ROWS,) and ((predicted >= 0) & (predicted <= 1)).all()
    elif task is Task.MULTICLASS:
        assert predicted.shape == (ROWS, len(CLASSES))
        np.testing.assert_allclose(predicted.sum(axis=1), 1.0, rtol=1e-6)
    else:
        assert predicted.shape == (ROWS,) and np.isfinite(predicted).all()
        assert not hasattr(estimator, "predict_proba"), f"{type(estimator).__name__} is not a regressor"
    np.testing.assert_array_equal(score_frame(load_model(path), frames[task], schema_for(task)), predicted)


@pytest.mark.parametrize(("name", "task"), PAIRS, ids=[f"{n}-{t.value}" for n, t in PAIRS])
def test_the_serving_path_scores_as_score_frame(
    name: str, task: Task, saved: Any, frames: dict[Task, pd.DataFrame]
) -> None:
    """The service's scorer (``model_call.scorer.column_scorer``) on columns of plain values, None for missing, gives
    ``score_frame``'s predictions through the compiled path, within its tolerance (tests/model_call/test_compiled.py
    checks it on held-out rows)."""
    _, predicted, path = saved(name, task)
    schema = schema_for(task)
    scorer = column_scorer(load_model(path), schema)
    assert scorer.path.startswith("fast: "), scorer.path
    frame = frames[task]
    columns = {c: [None if pd.isna(v) else v for v in frame[c].astype(object).tolist()] for c in schema.columns}
    difference, allowed = max_difference(task, scorer(columns), predicted)
    assert difference <= allowed, f"off by {difference:.3g}"


NON_BASELINE = [p for p in PAIRS if p[0] != "dummy"]


@pytest.mark.parametrize(("name", "task"), NON_BASELINE, ids=[f"{n}-{t.value}" for n, t in NON_BASELINE])
def test_learns_more_than_the_baseline(name: str, task: Task, saved: Any, frames: dict[Task, pd.DataFrame]) -> None:
    """On its own training rows every real estimator beats the feature-blind baseline (it used the features)."""
    y = frames[task]["y"].to_numpy()
    _, baseline, _ = saved("dummy", task)
    _, predicted, _ = saved(name, task)

    def loss(p: np.ndarray) -> float:
        if task is Task.REGRESSION:
            return float(np.mean((p - y) ** 2))
        proba = np.column_stack([1 - p, p]) if task is Task.BINARY else p
        return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1))))

    assert loss(predicted) < 0.8 * loss(baseline), (name, task, loss(predicted), loss(baseline))


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_declares_exactly_the_types_its_models_need(name: str, saved: Any) -> None:
    """``trusted_types`` is what skops does not trust in its saved models (beyond the preprocessing's): no more,
    so nothing is trusted for no reason, and no less, so its models load."""
    cls = ESTIMATORS[name]
    needed: set[str] = set()
    for task in sorted(cls.tasks):
        _, _, path = saved(name, task)
        needed |= set(sio.get_untrusted_types(file=path))
    assert needed - set(BASE_TRUSTED_TYPES) == set(cls.trusted_types)
    assert set(cls.trusted_types) <= set(TRUSTED_TYPES)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_refitting_gives_the_same_model_file(name: str, saved: Any, frames: dict[Task, pd.DataFrame], tmp_path: Path):
    """The same data and seed give the same bytes (``dvc.lock`` keeps its hash when nothing changed), whatever
    the estimator stores: arrays, or the raw bytes of a LightGBM or XGBoost booster."""
    task = min(ESTIMATORS[name].tasks)
    _, _, path = saved(name, task)
    again = fit_model(frames[task], schema_for(task), small_params(name))
    assert save_model(again, tmp_path / "again.skops").read_bytes() == path.read_bytes()


def test_the_trusted_types_are_the_base_and_every_estimators() -> None:
    declared = {name for cls in ESTIMATORS.values() for name in cls.trusted_types}
    assert set(TRUSTED_TYPES) == set(BASE_TRUSTED_TYPES) | declared
    assert len(TRUSTED_TYPES) == len(set(TRUSTED_TYPES))


def test_every_task_has_estimators_and_a_baseline() -> None:
    for task in Task:
        assert "dummy" in estimators_for(task) and len(estimators_for(task)) >= 4, task
    assert ESTIMATORS["logistic_regression"].tasks == CLASSIFICATION
    assert estimators_for(Task.REGRESSION) == [n for n in ESTIMATORS if n != "logistic_regression"]


def test_packages_are_pip_names_of_installed_distributions() -> None:
    from importlib.metadata import version

    for cls in ESTIMATORS.values():
        for package in cls.packages:
            assert version(package), package  # raises PackageNotFoundError for a name pip would not know
    assert ESTIMATORS["lightgbm"].packages == ("lightgbm",) and ESTIMATORS["xgboost"].packages == ("xgboost-cpu",)


def test_an_estimator_without_the_task_is_refused_at_config_load() -> None:
    raw = yaml.safe_load(FIXTURE_PARAMS.read_text())
    raw["schema"] = {"task": "regression", "target": "y", "columns": COLUMNS}
    raw["train"]["estimator"] = "logistic_regression"
    del raw["gate"]  # the binary gate rules: the regression defaults apply
    with pytest.raises(ConfigError) as caught:
        parse_params(raw)
    message = str(caught.value)
    assert "train.estimator: 'logistic_regression' does not support task regression (schema.task)" in message
    assert f"choose one of {', '.join(estimators_for(Task.REGRESSION))}" in message
    assert "Traceback" not in message and "ridge" in message


@pytest.mark.parametrize(("name", "task"), [("ridge", Task.BINARY), ("logistic_regression", Task.REGRESSION)])
def test_an_estimator_without_the_task_is_refused_at_build(name: str, task: Task) -> None:
    with pytest.raises(ConfigError, match=rf"train.estimator: '{name}' does not support task {task.value}"):
        build_model(schema_for(task), TrainParams(estimator=name))


def test_classifier_only_hyperparameters_are_left_out_for_regression() -> None:
    params = TrainParams(estimator="random_forest", random_forest={"class_weight": "balanced"})
    regressor = build_model(schema_for(Task.REGRESSION), params)[-1]
    classifier = build_model(schema_for(Task.BINARY), params)[-1]
    assert type(regressor).__name__ == "RandomForestRegressor" and "class_weight" not in regressor.get_params()
    assert classifier.get_params()["class_weight"] == "balanced"
