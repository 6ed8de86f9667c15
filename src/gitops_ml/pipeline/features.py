"""Turning validated rows into the frame the model sees, and the preprocessing inside the model.

Training, evaluation, the release gate and the service all call :func:`model_frame`, so a model never sees
features prepared two different ways.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from gitops_ml.config import ColumnType, SchemaParams

MISSING_CATEGORY = "__missing__"


def model_frame(frame: pd.DataFrame, schema: SchemaParams) -> pd.DataFrame:
    """Select the schema's feature columns in order: numbers as float64 (NaN for missing), categories as object."""
    columns: dict[str, np.ndarray] = {}
    for name, spec in schema.columns.items():
        column = frame[name]
        if spec.type is ColumnType.CATEGORY:
            columns[name] = column.astype(object).where(column.notna(), np.nan).to_numpy(dtype=object)
        else:
            columns[name] = pd.to_numeric(column, errors="raise").astype("float64").to_numpy()
    return pd.DataFrame(columns, index=frame.index)


def preprocessor(schema: SchemaParams, scale: bool = True) -> ColumnTransformer:
    """Imputation, scaling (if ``scale``) and one-hot encoding for the schema's columns (fitted inside the model).

    ``scale`` is the estimator's ``scale_numeric`` (``estimators.py``): trees split on raw values and need no
    scaler, and without one their compiled float32 scores stay equal to scikit-learn's (a scaled value rounded to
    float32 can cross a split the float64 value does not).
    """
    numeric = schema.names_of(ColumnType.FLOAT, ColumnType.INT, ColumnType.BOOL)
    categorical = schema.names_of(ColumnType.CATEGORY)
    numeric_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            *([("scale", StandardScaler())] if scale else []),
        ]
    )
    categorical_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            (
                "encode",
                OneHotEncoder(
                    categories=[[*(schema.columns[c].categories or []), MISSING_CATEGORY] for c in categorical],
                    handle_unknown="ignore",
                    sparse_output=False,
                    dtype=np.float64,
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        remainder="drop",
        verbose_feature_names_out=True,
    )
