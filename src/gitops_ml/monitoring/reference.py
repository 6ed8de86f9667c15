"""Stage ``drift_reference``: what the drift check compares a window with, taken from the training split.

The reference holds each training row's feature columns as the model sees them (:func:`model_frame`: numbers
and booleans as float64, categories as text, missing as NaN) and the model's positive-class probability of the
row in :data:`SCORE_COLUMN`. It is a DVC output, so it changes exactly when the training data, the schema or the
model does, and a window is always judged against the data the served model learned from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from gitops_ml.config import SchemaParams
from gitops_ml.errors import DriftInputError
from gitops_ml.io import atomic_write
from gitops_ml.pipeline.interface import model_frame, score_frame

SCORE_COLUMN = "__score__"
"""The predicted score's column in the reference; a name no schema column takes in practice."""


def build_reference(train: pd.DataFrame, model: Any, schema: SchemaParams) -> pd.DataFrame:
    """The training rows' features (typed as the model sees them) and the model's score of each row."""
    if SCORE_COLUMN in schema.columns:
        raise DriftInputError(
            f"the schema has a feature column named {SCORE_COLUMN!r}, the name the drift reference keeps the score "
            "under; rename that column in your data and in schema.columns of params.yaml"
        )
    reference = model_frame(train, schema).reset_index(drop=True)
    reference[SCORE_COLUMN] = score_frame(model, train, schema)
    return reference


def run_reference(train_path: Path, model_path: Path, schema: SchemaParams, out_path: Path) -> int:
    """Write the reference of the training split at ``train_path`` scored by the model file; return its rows."""
    from gitops_ml.model_io import load_model

    reference = build_reference(pd.read_parquet(train_path), load_model(model_path), schema)
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
    missing = [c for c in [*schema.columns, SCORE_COLUMN] if c not in reference.columns]
    if missing:
        raise DriftInputError(
            f"{path} lacks column(s) {', '.join(missing)} of the current schema: it is out of date; run `make repro`"
        )
    return reference
