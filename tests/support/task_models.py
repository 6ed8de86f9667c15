"""A small contract, data and real fitted model of each task, for unit tests of what reads a model's predictions.

The rows are drawn from one fixed distribution per seed; the target is held as the validated data holds it
(binary 0/1, multiclass the class index, regression the value) and depends on the features, so the models learn
something. Classification models are the project's own (:func:`gitops_ml.pipeline.interface.build_model` with
logistic regression, quick to fit); the regression model is the project's preprocessing with a ridge regression.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.config import SchemaParams, TrainParams
from gitops_ml.pipeline.interface import build_model, model_frame
from gitops_ml.tasks import Task

CLASSES = ["low", "mid", "high"]
COLUMNS: dict[str, Any] = {
    "amount": {"type": "float", "min": 0, "nullable": True},
    "count": {"type": "int", "min": 0},
    "channel": {"type": "category", "categories": ["web", "shop", "phone"]},
    "flag": {"type": "bool"},
}
CONTRACTS: dict[Task, dict[str, Any]] = {
    Task.BINARY: {},
    Task.MULTICLASS: {"task": "multiclass", "classes": CLASSES},
    Task.REGRESSION: {"task": "regression", "target_min": 0, "target_max": 400},
}


def task_schema(task: Task, **contract: Any) -> SchemaParams:
    """The contract of ``task`` over :data:`COLUMNS` (``contract`` adds or replaces keys)."""
    return SchemaParams.model_validate({"target": "y", "columns": COLUMNS} | CONTRACTS[task] | contract)


def task_rows(schema: SchemaParams, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` raw feature rows and their encoded target for ``schema.task``."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3, 1, rows)
    frame = pd.DataFrame(
        {
            "amount": np.where(rng.random(rows) < 0.05, np.nan, amount),
            "count": rng.poisson(2, rows),
            "channel": rng.choice(["web", "shop", "phone"], size=rows, p=[0.6, 0.3, 0.1]),
            "flag": rng.random(rows) < 0.5,
        }
    )
    signal = np.log1p(np.nan_to_num(amount)) + 0.5 * frame["count"] + rng.normal(0, 0.5, rows)
    if schema.task is Task.REGRESSION:
        frame[schema.target] = np.clip(20 * signal, 0, 400)
    elif schema.task is Task.MULTICLASS:
        frame[schema.target] = np.digitize(signal, np.quantile(signal, [0.5, 0.8]))
    else:
        frame[schema.target] = (signal > np.quantile(signal, 0.8)).astype(int)
    return frame


def fitted_model(schema: SchemaParams, train: pd.DataFrame) -> Any:
    """A real model of ``schema.task`` fitted on ``train``."""
    y = train[schema.target].to_numpy()
    if schema.task is Task.REGRESSION:
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import Pipeline

        from gitops_ml.pipeline.features import preprocessor

        model = Pipeline([("preprocess", preprocessor(schema)), ("regressor", Ridge())])
    else:
        model = build_model(schema, TrainParams.model_validate({"estimator": "logistic_regression"}))
    return model.fit(model_frame(train, schema), y)
