"""The drift reference of each task: the training rows' checked features and the model's prediction, shaped by
the task, and a reference that does not fit the schema refused with the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import ColumnSpec, ColumnType
from gitops_ml.errors import DriftInputError
from gitops_ml.model_io import save_model
from gitops_ml.monitoring.reference import (
    build_reference,
    checked_columns,
    prediction_column,
    prediction_values,
    read_reference,
    reference_rows,
    run_reference,
)
from gitops_ml.pipeline.interface import score_frame
from gitops_ml.tasks import Task
from tests.support.task_models import CLASSES, COLUMNS, fitted_model, task_rows, task_schema


@pytest.mark.parametrize("task", list(Task))
def test_the_reference_holds_the_features_and_the_tasks_prediction(task: Task, tmp_path: Path) -> None:
    schema = task_schema(task)
    train = task_rows(schema, 600, seed=1)
    model = fitted_model(schema, train)
    save_model(model, tmp_path / "model.skops")
    train.to_parquet(tmp_path / "train.parquet")
    assert run_reference(tmp_path / "train.parquet", tmp_path / "model.skops", schema, tmp_path / "ref.parquet") == 600
    reference = read_reference(tmp_path / "ref.parquet", schema)
    column = prediction_column(task)
    assert reference.columns.tolist() == [*COLUMNS, column]
    assert reference["flag"].tolist() == train["flag"].astype(float).tolist()  # as the model sees it
    predicted = score_frame(model, train, schema)
    if task is Task.MULTICLASS:
        assert column == "__predicted_class__"
        assert reference[column].tolist() == [CLASSES[i] for i in predicted.argmax(axis=1)]
        assert set(reference[column]) <= set(CLASSES) and reference[column].nunique() >= 2
    else:
        assert column == ("__score__" if task is Task.BINARY else "__prediction__")
        assert np.allclose(reference[column], predicted, rtol=0, atol=1e-12)


def test_a_multiclass_prediction_is_compared_as_the_predicted_class_name() -> None:
    schema = task_schema(Task.MULTICLASS, classes=[3, 7, 9])
    probabilities = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    assert prediction_values(schema, probabilities).tolist() == ["7", "3"]
    assert prediction_values(schema, np.array(["9", "3"], dtype=object)).tolist() == ["9", "3"]  # a window's own
    assert prediction_values(task_schema(Task.REGRESSION), [1, 2.5]).tolist() == [1.0, 2.5]


def test_datetime_columns_are_not_in_the_reference() -> None:
    schema = task_schema(Task.BINARY)
    dated = schema.model_copy(update={"columns": schema.columns | {"signup": ColumnSpec(type=ColumnType.DATETIME)}})
    assert checked_columns(dated) == list(COLUMNS)


def test_a_reference_of_another_task_or_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    binary = task_schema(Task.BINARY)
    frame = pd.DataFrame({name: [1.0] for name in COLUMNS} | {"__score__": [0.5]})
    frame.to_parquet(tmp_path / "ref.parquet")
    read_reference(tmp_path / "ref.parquet", binary)
    with pytest.raises(DriftInputError, match=r"lacks column\(s\) __predicted_class__ of the current schema \(multi"):
        read_reference(tmp_path / "ref.parquet", task_schema(Task.MULTICLASS))
    with pytest.raises(DriftInputError, match="the drift reference is missing; run `make repro`"):
        read_reference(tmp_path / "nothing.parquet", binary)
    clashing = binary.model_copy(update={"columns": binary.columns | {"__score__": ColumnSpec(type=ColumnType.FLOAT)}})
    with pytest.raises(DriftInputError, match="a feature column named '__score__'"):
        build_reference(frame, None, clashing)


def test_a_large_split_is_sampled_and_keeps_every_category_value_it_had(tmp_path: Path) -> None:
    schema = task_schema(Task.BINARY)
    train = task_rows(schema, 4000, seed=3)
    train["channel"], train["flag"] = "web", False  # one missing channel, two rare ones, one flag once: a draw of
    train.loc[2500, "channel"] = None  # 50 rows from 4,000 misses each of them
    train.loc[3100, "channel"], train.loc[3200, "channel"] = "phone", "shop"
    train.loc[3700, "flag"] = True
    sampled = reference_rows(train, schema, seed=7, limit=50)
    assert 50 < len(sampled) <= 50 + 6  # at most one more row per value of channel (4) and flag (2)
    assert sampled.index.is_monotonic_increasing  # the split's order
    for column in ("channel", "flag"):
        assert set(sampled[column].dropna()) == set(train[column].dropna()), column
    assert sampled["channel"].isna().any()
    assert sampled.equals(reference_rows(train, schema, seed=7, limit=50))  # seeded: the same rows again
    assert not sampled.index.equals(reference_rows(train, schema, seed=8, limit=50).index)
    assert reference_rows(train, schema, seed=7, limit=4000) is train  # small enough: every row

    model = fitted_model(schema, train)
    save_model(model, tmp_path / "model.skops")
    train.to_parquet(tmp_path / "train.parquet")
    written = run_reference(
        tmp_path / "train.parquet", tmp_path / "model.skops", schema, tmp_path / "ref.parquet", 7, 50
    )
    assert written == len(sampled)
    reference = read_reference(tmp_path / "ref.parquet", schema)
    assert np.allclose(reference["__score__"], score_frame(model, sampled, schema), rtol=0, atol=1e-12)
