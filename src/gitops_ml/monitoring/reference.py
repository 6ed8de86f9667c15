"""Stage ``drift_reference``: what the drift check compares a window with, taken from the training split.

The reference holds each of its training rows' checked feature columns as the model sees them (:func:`model_frame`:
numbers and booleans as float64, categories as text, missing as NaN; ``datetime`` columns are left out, the drift
check does not compare them) and the model's prediction of the row in the task's column
(:func:`prediction_column`): the positive class's probability (binary, ``__score__``), the predicted class as text
(multiclass, ``__predicted_class__``) or the predicted value (regression, ``__prediction__``). It is a DVC output,
so it changes exactly when the training data, the schema or the model does, and a window is always judged against
the data the served model learned from.

A training split of more than :data:`REFERENCE_ROWS` rows is sampled (:func:`reference_rows`): a seeded sample
(``train.seed``) plus the first row of every category and boolean value, so nothing the model saw in training
looks unseen to the drift check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.config import ColumnType, SchemaParams
from gitops_ml.errors import DriftInputError
from gitops_ml.io import atomic_write
from gitops_ml.pipeline.interface import model_frame, score_frame
from gitops_ml.serving.outputs import TaskOutput
from gitops_ml.tasks import Task

REFERENCE_ROWS = 100_000
"""Training rows drawn for the reference of a larger split (plus the first row of each category value).

The drift check compares windows of hundreds to thousands of rows with the reference's deciles, shares and
distribution: 100,000 rows pin those down to a fraction of a percent, far below the thresholds (a window of
5,000 rows has a sampling error ten times larger). Scoring every row of a large split took most of the stage's
time (10 s of a 65 s pipeline at 1M rows, docs/performance.md); a sample of this size takes about a second.
"""
SCORE_COLUMN = "__score__"
"""Binary: the predicted score's column in the reference; a name no schema column takes in practice."""
PREDICTION_COLUMNS = {
    Task.BINARY: SCORE_COLUMN,
    Task.MULTICLASS: "__predicted_class__",
    Task.REGRESSION: "__prediction__",
}


def prediction_column(task: Task) -> str:
    """The reference's column holding the model's prediction of each training row, for ``task``."""
    return PREDICTION_COLUMNS[task]


def checked_columns(schema: SchemaParams) -> list[str]:
    """The feature columns the drift check compares: all but ``datetime`` ones (time always moves)."""
    return [name for name, spec in schema.columns.items() if spec.type is not ColumnType.DATETIME]


def prediction_values(schema: SchemaParams, predicted: np.ndarray) -> np.ndarray:
    """The model's task-shaped prediction as the drift check compares it: the score (binary) or value
    (regression) as float64, the predicted class's name (multiclass, :func:`~gitops_ml.serving.outputs.class_name`)
    as text. A multiclass prediction already given as class names is returned as text."""
    if schema.task is not Task.MULTICLASS:
        return np.asarray(predicted, dtype=np.float64)
    given = np.asarray(predicted)
    if given.ndim == 1:
        return given.astype(str).astype(object)
    output = TaskOutput.of(schema)
    names = np.asarray(output.class_names, dtype=object)
    picked: np.ndarray = names[output.class_indices(given)]
    return picked


def reference_rows(train: pd.DataFrame, schema: SchemaParams, seed: int, limit: int = REFERENCE_ROWS) -> pd.DataFrame:
    """``train`` itself when it has at most ``limit`` rows; else ``limit`` rows drawn with ``seed`` and the first row
    holding each value of a ``category`` or ``bool`` column (missing included; a row counted once), in the split's
    order."""
    if len(train) <= limit:
        return train
    picked = np.random.default_rng(seed).choice(len(train), size=limit, replace=False)
    covering = [
        np.flatnonzero(~train[name].duplicated().to_numpy())
        for name, spec in schema.columns.items()
        if spec.type in (ColumnType.CATEGORY, ColumnType.BOOL) and name in train.columns
    ]
    return train.iloc[np.unique(np.concatenate([picked, *covering]))]


def build_reference(train: pd.DataFrame, model: Any, schema: SchemaParams) -> pd.DataFrame:
    """The training rows' checked features (typed as the model sees them) and the model's prediction of each row."""
    column = prediction_column(schema.task)
    if column in schema.columns:
        raise DriftInputError(
            f"the schema has a feature column named {column!r}, the name the drift reference keeps the prediction "
            "under; rename that column in your data and in schema.columns of params.yaml"
        )
    checked = schema.model_copy(update={"columns": {name: schema.columns[name] for name in checked_columns(schema)}})
    reference = model_frame(train, checked).reset_index(drop=True)
    reference[column] = prediction_values(schema, score_frame(model, train, schema))
    return reference


def run_reference(
    train_path: Path, model_path: Path, schema: SchemaParams, out_path: Path, seed: int = 0, limit: int = REFERENCE_ROWS
) -> int:
    """Write the reference of the training split at ``train_path`` (at most about ``limit`` of its rows, drawn with
    ``seed``: :func:`reference_rows`) scored by the model file; return its rows."""
    from gitops_ml.model_io import load_model

    train = reference_rows(pd.read_parquet(train_path), schema, seed, limit)
    reference = build_reference(train, load_model(model_path), schema)
    with atomic_write(out_path) as tmp:
        reference.to_parquet(tmp, index=False)
    return len(reference)


def read_reference(path: Path, schema: SchemaParams) -> pd.DataFrame:
    """Read a reference written by :func:`run_reference`; fail clearly when it is missing or made for other columns."""
    if not path.exists():
        raise DriftInputError(
            f"{path}: the drift reference is missing; run `make repro` (the DVC stage drift_reference writes it)"
        )
    try:
        reference = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise DriftInputError(
            f"{path}: cannot be read as parquet ({exc}); run `make repro` to write it again"
        ) from None
    missing = [c for c in [*checked_columns(schema), prediction_column(schema.task)] if c not in reference.columns]
    if missing:
        raise DriftInputError(
            f"{path} lacks column(s) {', '.join(missing)} of the current schema ({schema.task.value}): it is out of "
            "date; run `make repro`"
        )
    return reference
