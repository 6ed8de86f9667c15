"""The split: sizes, stratification (classification only), determinism, and the hold-out of the latest rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from gitops_ml.config import Params, SchemaParams, SplitParams
from gitops_ml.errors import ConfigError
from gitops_ml.pipeline.split import run_split, split_frame


def test_sizes_and_stratification(typed_frame: pd.DataFrame, params: Params) -> None:
    train, test = split_frame(typed_frame, params.schema, SplitParams(test_size=0.25, seed=1))
    assert len(train) + len(test) == len(typed_frame)
    assert abs(len(test) - 0.25 * len(typed_frame)) <= 1
    assert abs(train["is_fraud"].mean() - test["is_fraud"].mean()) < 0.005


def test_same_seed_same_rows_other_seed_other_rows(typed_frame: pd.DataFrame, params: Params) -> None:
    first = split_frame(typed_frame, params.schema, SplitParams(seed=3))[1]
    again = split_frame(typed_frame, params.schema, SplitParams(seed=3))[1]
    other = split_frame(typed_frame, params.schema, SplitParams(seed=4))[1]
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_stratify_applies_to_classification_only(tmp_path: Path) -> None:
    """A regression target has too many values to stratify on: the split is plain (it would fail otherwise)."""
    frame = pd.DataFrame({"x": np.arange(200.0), "y": np.random.default_rng(0).normal(size=200)})
    schema = SchemaParams.model_validate({"task": "regression", "target": "y", "columns": {"x": {"type": "float"}}})
    train, test = split_frame(frame, schema, SplitParams(test_size=0.25, stratify=True))
    assert (len(train), len(test)) == (150, 50)
    plain = train_test_split(frame, test_size=0.25, random_state=42)[1]
    assert test["x"].tolist() == plain["x"].tolist()


def test_multiclass_split_keeps_each_class_share() -> None:
    frame = pd.DataFrame({"x": np.arange(1000.0), "y": np.repeat([0, 1, 2], [700, 250, 50])})
    schema = SchemaParams.model_validate(
        {"task": "multiclass", "target": "y", "classes": ["a", "b", "c"], "columns": {"x": {"type": "float"}}}
    )
    test = split_frame(frame, schema, SplitParams(test_size=0.2, seed=5))[1]
    assert test["y"].value_counts().sort_index().tolist() == [140, 50, 10]


TIMED = SchemaParams.model_validate(
    {
        "task": "regression",
        "target": "y",
        "columns": {"x": {"type": "float"}, "day": {"type": "datetime", "nullable": True}},
    }
)


def test_the_latest_rows_by_the_time_column_are_held_out() -> None:
    days = pd.Series(pd.date_range("2024-01-01", periods=10, freq="D")).sample(frac=1, random_state=1)
    frame = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10.0), "day": days.to_numpy()})
    frame.loc[[2, 7], "day"] = pd.NaT  # no date: never the latest
    params = SplitParams(test_size=0.3, time_column="day", seed=1, stratify=True)
    train, test = split_frame(frame, TIMED, params)
    assert (len(train), len(test)) == (7, 3)
    dated = frame.dropna(subset=["day"]).sort_values("day")
    assert test["day"].tolist() == dated["day"].iloc[-3:].tolist()
    assert train["day"].iloc[:2].isna().all() and train["day"].iloc[2:].is_monotonic_increasing
    assert train["day"].max() < test["day"].min()
    again = split_frame(frame, TIMED, params.model_copy(update={"seed": 2}))[1]
    pd.testing.assert_frame_equal(test, again)  # the seed plays no part


def test_the_time_column_must_be_a_datetime_column(tmp_path: Path, typed_frame: pd.DataFrame, params: Params) -> None:
    validated = tmp_path / "validated.parquet"
    typed_frame.to_parquet(validated)
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    for column, expected in (
        ("amount", "split.time_column: 'amount' is a float column; name a datetime column (the schema has none)"),
        ("when", "split.time_column: 'when' is not a column of schema.columns"),
    ):
        with pytest.raises(ConfigError, match=re.escape(expected)):
            run_split(validated, params.schema, SplitParams(time_column=column), train, test)
    assert not train.exists() and not test.exists()
    with pytest.raises(ValueError, match=r"name a datetime column \(day\)"):
        SplitParams(time_column="x").check_time_column(TIMED)
