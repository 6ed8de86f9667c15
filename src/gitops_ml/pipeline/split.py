"""Stage ``split``: a seeded, stratified hold-out split of the validated data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from gitops_ml.config import SchemaParams, SplitParams
from gitops_ml.io import atomic_write


def split_frame(frame: pd.DataFrame, schema: SchemaParams, params: SplitParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test); the same input and params always give the same rows."""
    stratify = frame[schema.target] if params.stratify else None
    train, test = train_test_split(frame, test_size=params.test_size, random_state=params.seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def run_split(validated: Path, schema: SchemaParams, params: SplitParams, train_path: Path, test_path: Path) -> None:
    """Read the validated parquet and write the train and test parquet files (both or neither)."""
    train, test = split_frame(pd.read_parquet(validated), schema, params)
    with atomic_write(train_path) as train_tmp, atomic_write(test_path) as test_tmp:
        train.to_parquet(train_tmp, index=False)
        test.to_parquet(test_tmp, index=False)
