"""Stage ``train``: fit the estimator chosen in ``params.yaml`` inside one sklearn Pipeline.

Imputation, scaling and encoding are steps of the saved Pipeline, so the service and the gate feed it the
same raw feature frame the stage did. To add an estimator: add its params model in ``config.py``, a branch in
:func:`make_estimator`, and any new types to ``model_io.TRUSTED_TYPES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from gitops_ml.config import Estimator, SchemaParams, TrainParams
from gitops_ml.io import write_json
from gitops_ml.model_io import save_model
from gitops_ml.pipeline.features import model_frame, preprocessor


def make_estimator(params: TrainParams) -> Any:
    """The unfitted classifier named by ``params.estimator``, seeded with ``params.seed``."""
    hyper = params.hyperparameters
    match params.estimator:
        case Estimator.LOGISTIC_REGRESSION:
            return LogisticRegression(random_state=params.seed, **hyper)
        case Estimator.RANDOM_FOREST:
            return RandomForestClassifier(random_state=params.seed, **hyper)
        case Estimator.HIST_GRADIENT_BOOSTING:
            return HistGradientBoostingClassifier(random_state=params.seed, early_stopping=False, **hyper)
        case Estimator.DUMMY:
            return DummyClassifier(random_state=params.seed, **hyper)
    raise ValueError(f"unknown estimator {params.estimator!r}")  # pragma: no cover - guarded by the config


def build_model(schema: SchemaParams, params: TrainParams) -> Pipeline:
    """Preprocessing and classifier as one unfitted Pipeline."""
    return Pipeline([("preprocess", preprocessor(schema)), ("classifier", make_estimator(params))])


def fit_model(train: pd.DataFrame, schema: SchemaParams, params: TrainParams) -> Pipeline:
    """Fit the Pipeline on the training frame (features from the schema, label from ``schema.target``)."""
    model = build_model(schema, params)
    model.fit(model_frame(train, schema), train[schema.target].to_numpy())
    return model


def run_train(train_path: Path, schema: SchemaParams, params: TrainParams, model_path: Path, info_path: Path) -> None:
    """Fit on ``train_path`` and write the skops model and a JSON card of how it was made."""
    train = pd.read_parquet(train_path)
    model = fit_model(train, schema, params)
    save_model(model, model_path)
    write_json(
        info_path,
        {
            "estimator": params.estimator.value,
            "hyperparameters": params.hyperparameters,
            "features": schema.feature_names,
            "target": schema.target,
            "train_rows": len(train),
            "sklearn_version": sklearn.__version__,
        },
    )
