"""Stage ``split``: the hold-out split of the validated data.

Random and seeded by default: stratified on the class for classification (``split.stratify``), plain for
regression. With ``split.time_column`` (a ``datetime`` column), the latest ``test_size`` of the rows by that column
are held out instead, the way the model will meet the future: rows without a date stay in train, and rows on the
same date as the boundary keep their order in the data.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from gitops_ml.config import SchemaParams, SplitParams
from gitops_ml.errors import ConfigError
from gitops_ml.io import atomic_write


def split_frame(frame: pd.DataFrame, schema: SchemaParams, params: SplitParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test); the same input and params always give the same rows."""
    if params.time_column is not None:
        train, test = _latest_held_out(frame, params.time_column, params.test_size)
    else:
        stratify = frame[schema.target] if params.stratify and schema.task.is_classification else None
        train, test = train_test_split(frame, test_size=params.test_size, random_state=params.seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _latest_held_out(frame: pd.DataFrame, column: str, test_size: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) with the ``test_size`` share of the rows latest by ``column`` in test, both in time order."""
    n_test = math.ceil(test_size * len(frame))  # as scikit-learn's train_test_split rounds
    ordered = frame.sort_values(column, kind="stable", na_position="first")  # no date: never the latest
    return ordered.iloc[: len(frame) - n_test], ordered.iloc[len(frame) - n_test :]


def run_split(validated: Path, schema: SchemaParams, params: SplitParams, train_path: Path, test_path: Path) -> None:
    """Read the validated parquet and write the train and test parquet files (both or neither)."""
    try:
        params.check_time_column(schema)
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {exc}") from None
    train, test = split_frame(pd.read_parquet(validated), schema, params)
    with atomic_write(train_path) as train_tmp, atomic_write(test_path) as test_tmp:
        train.to_parquet(train_tmp, index=False)
        test.to_parquet(test_tmp, index=False)
