"""Stage ``train``: fit the estimator chosen in ``params.yaml`` inside one sklearn Pipeline.

Imputation, scaling and encoding are steps of the saved Pipeline, so the service and the gate feed it the
same raw feature frame the stage did. The estimators and their hyperparameters are registered in
:mod:`gitops_ml.pipeline.estimators`, the one place to add one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline

from gitops_ml.config import SchemaParams, TrainParams
from gitops_ml.io import write_json
from gitops_ml.model_io import save_model
from gitops_ml.pipeline.features import model_frame, preprocessor
from gitops_ml.tasks import Task


def make_estimator(params: TrainParams, task: Task) -> Any:
    """The unfitted classifier or regressor for ``task`` named by ``params.estimator``, seeded with ``params.seed``.

    Raises :class:`~gitops_ml.errors.ConfigError` when that estimator does not support ``task``.
    """
    params.check_task(task)
    return params.estimator_params.build(task, params.seed)


def build_model(schema: SchemaParams, params: TrainParams) -> Pipeline:
    """Preprocessing (numbers standardised if the estimator wants them so) and estimator (for ``schema.task``) as one
    unfitted Pipeline."""
    preprocess = preprocessor(schema, scale=params.estimator_params.scale_numeric)
    return Pipeline([("preprocess", preprocess), ("estimator", make_estimator(params, schema.task))])


def fit_model(train: pd.DataFrame, schema: SchemaParams, params: TrainParams) -> Pipeline:
    """Fit the Pipeline on the training frame (features from the schema, the encoded target from ``schema.target``:
    the class index for classification, the value for regression)."""
    model = build_model(schema, params)
    model.fit(model_frame(train, schema), train[schema.target].to_numpy())
    return model


def run_train(train_path: Path, schema: SchemaParams, params: TrainParams, model_path: Path, info_path: Path) -> None:
    """Fit on ``train_path`` and write the skops model and a JSON card of how it was made."""
    train = pd.read_parquet(train_path)
    save_trained(fit_model(train, schema, params), len(train), schema, params, model_path, info_path)


def save_trained(
    model: Pipeline, train_rows: int, schema: SchemaParams, params: TrainParams, model_path: Path, info_path: Path
) -> None:
    """Write the fitted ``model`` (skops) and the JSON card of how it was made (also for a model trained on Dask)."""
    save_model(model, model_path)
    write_json(
        info_path,
        {
            "estimator": params.estimator.value,
            "task": schema.task.value,
            "hyperparameters": params.hyperparameters,
            "features": schema.feature_names,
            "target": schema.target,
            "train_rows": train_rows,
            "sklearn_version": sklearn.__version__,
        },
    )
