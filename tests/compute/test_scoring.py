"""Batch scoring: per task the right columns, ids kept, the output whole or not at all, bad input named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline

from gitops_ml.compute.cluster import Runner
from gitops_ml.compute.scoring import MANIFEST, ScoringModel, prediction_columns, run_score
from gitops_ml.config import SchemaParams
from gitops_ml.errors import DataContractError
from gitops_ml.model_io import save_model
from gitops_ml.pipeline.features import model_frame, preprocessor
from tests.support.projects import run

COLUMNS = {"x": {"type": "float", "nullable": True}, "kind": {"type": "category", "categories": ["a", "b"]}}


def schema_of(task: str, **extra: Any) -> SchemaParams:
    return SchemaParams.model_validate({"task": task, "target": "y", "ids": ["id"], "columns": COLUMNS, **extra})


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": [f"r{i}" for i in range(rows)], "x": rng.normal(size=rows),
                         "kind": rng.choice(["a", "b"], size=rows)})  # fmt: skip


def model_file(tmp_path: Path, schema: SchemaParams, estimator: Any, y: np.ndarray) -> Path:
    data = frame(len(y), seed=1)
    model = Pipeline([("preprocess", preprocessor(schema)), ("estimator", estimator)])
    model.fit(model_frame(data, schema), y)
    return save_model(model, tmp_path / "model.skops")


def test_each_task_gets_its_prediction_columns() -> None:
    yes_no = schema_of("binary", positive_class="yes", negative_class="no")
    binary = prediction_columns(np.array([0.2, 0.7]), yes_no, 0.5)
    assert binary["score"].tolist() == [0.2, 0.7] and binary["label"].tolist() == ["no", "yes"]
    multiclass = prediction_columns(
        np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]), schema_of("multiclass", classes=["low", "mid", "high"]), 0.5
    )
    assert list(multiclass) == ["label", "probability_low", "probability_mid", "probability_high"]
    assert multiclass["label"].tolist() == ["high", "low"] and multiclass["probability_mid"].tolist() == [0.2, 0.3]
    assert list(prediction_columns(np.array([1.5]), schema_of("regression"), 0.5)) == ["value"]


@pytest.mark.parametrize(
    ("task", "extra", "estimator", "expected"),
    [
        ("binary", {}, LogisticRegression(), ["id", "score", "label"]),
        ("multiclass", {"classes": ["p", "q", "r"]}, LogisticRegression(), ["id", "label", "probability_p",
                                                                          "probability_q", "probability_r"]),
        ("regression", {}, LinearRegression(), ["id", "value"]),
    ],
)  # fmt: skip
def test_a_file_is_scored_part_by_part_with_its_ids(
    tmp_path: Path, task: str, extra: dict, estimator: Any, expected: list[str]
) -> None:
    schema = schema_of(task, **extra)
    y = np.arange(300) % 3 if task == "multiclass" else np.arange(300) % 2
    chosen = ScoringModel(model_file(tmp_path, schema, estimator, y.astype(float) if task == "regression" else y),
                          schema, 0.5, "test model")  # fmt: skip
    source = tmp_path / "in.csv"
    frame(5000).to_csv(source, index=False)
    rows, parts = run_score(Runner(None), chosen, source, tmp_path / "out", partition_mb=0.03)
    out = pd.read_parquet(tmp_path / "out")
    assert (rows, len(out)) == (5000, 5000) and parts > 2
    assert list(out.columns) == expected
    assert out["id"].tolist() == [f"r{i}" for i in range(5000)]
    assert json.loads((tmp_path / "out" / MANIFEST).read_text()) == {
        "model": "test model", "source": str(source), "rows": 5000, "parts": parts, "task": task,
    }  # fmt: skip


def test_bad_input_is_named_with_its_piece_and_nothing_is_written(tmp_path: Path) -> None:
    schema = schema_of("binary")
    chosen = ScoringModel(model_file(tmp_path, schema, LogisticRegression(), np.arange(300) % 2), schema, 0.5, "m")
    good, text = tmp_path / "good.parquet", tmp_path / "text.parquet"
    frame(100).to_parquet(good)
    frame(100).assign(x=["1.5"] * 99 + ["lots"]).to_parquet(text)
    with pytest.raises(DataContractError) as caught:
        run_score(Runner(None), chosen, text, tmp_path / "out", 64)
    assert str(caught.value) == f"{text} (row group 0): column x: 1 value(s) are not numbers (e.g. 'lots')"
    frame(100).drop(columns=["kind"]).to_parquet(good)
    with pytest.raises(DataContractError, match=r"good\.parquet \(row group 0\): lacks column\(s\) kind: the model"):
        run_score(Runner(None), chosen, good, tmp_path / "out", 64)
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.parquet", "model.skops", "text.parquet"]


@pytest.mark.slow
def test_the_command_scores_with_the_working_trees_model_before_any_release(
    pipeline_project: Path, tmp_path: Path
) -> None:
    source = tmp_path / "new.parquet"
    pd.read_parquet(pipeline_project / "artifacts" / "test.parquet").drop(columns=["is_fraud"]).to_parquet(source)
    result = run(["gitops-ml", "score", "--in", str(source), "--out", str(tmp_path / "scored")], pipeline_project)
    assert "nothing is released yet (no model-vN tag): scoring with the working tree's model" in result.stderr
    out = pd.read_parquet(tmp_path / "scored")
    assert list(out.columns) == ["transaction_id", "score", "label"] and len(out) == len(pd.read_parquet(source))
    predictions = pd.read_parquet(pipeline_project / "reports" / "predictions.parquet")
    np.testing.assert_allclose(out["score"], predictions["score"])  # the same model, the same rows: evaluate's scores
    refused = run(["gitops-ml", "score", "--in", str(source), "--out", str(tmp_path / "x"), "--model", "released"],
                  pipeline_project, check=False)  # fmt: skip
    assert refused.returncode == 1 and "nothing is released yet" in refused.stderr and "Traceback" not in refused.stderr
