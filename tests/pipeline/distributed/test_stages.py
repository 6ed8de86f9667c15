"""The stages on a Dask cluster agree with the in-memory stages on small data, and refuse bad data the same way.

On the sample (6,000 rows, cut into several pieces): the same data summary, the same rows in each split, and
LightGBM and XGBoost models trained across the workers whose metrics fall inside the bootstrap interval of the
same estimator trained in memory. A piece that breaks the contract stops validate with the stage's message, the
piece's file in front, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from gitops_ml.compute.cluster import Runner
from gitops_ml.config import ComputeParams, Params, TrainParams
from gitops_ml.errors import DataContractError
from gitops_ml.io import read_json
from gitops_ml.model_io import load_model
from gitops_ml.pipeline.distributed import evaluate as dask_evaluate
from gitops_ml.pipeline.distributed import split as dask_split
from gitops_ml.pipeline.distributed import train as dask_train
from gitops_ml.pipeline.distributed import validate as dask_validate
from gitops_ml.pipeline.evaluate import evaluate_model
from gitops_ml.pipeline.split import split_frame
from gitops_ml.pipeline.train import fit_model
from gitops_ml.pipeline.validate import run_validate

pytestmark = pytest.mark.slow
PARTITION_MB = 0.1  # the 6,000-row sample's CSV (about 350 KB) in four pieces


@pytest.fixture(scope="module")
def raw_csv(tmp_path_factory: pytest.TempPathFactory, raw_frame: pd.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("raw") / "transactions.csv"
    raw_frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def on_cluster(
    tmp_path_factory: pytest.TempPathFactory, raw_csv: Path, params: Params, dask_client: Any
) -> dict[str, Any]:
    """validate and split of the sample on the cluster: their outputs."""
    out = tmp_path_factory.mktemp("dask")
    runner = Runner(dask_client)
    summary = dask_validate.run_validate(
        runner, raw_csv, params.schema, PARTITION_MB, out / "validated.parquet", out / "data_summary.json"
    )
    rows = dask_split.run_split(
        runner, out / "validated.parquet", params.schema, params.split, 0.05, out / "train.parquet",
        out / "test.parquet",
    )  # fmt: skip
    return {"dir": out, "summary": summary, "rows": rows, "runner": runner}


def test_validate_writes_the_in_memory_stages_summary_and_rows(
    on_cluster: dict[str, Any], raw_csv: Path, params: Params, tmp_path: Path
) -> None:
    in_memory = run_validate(raw_csv, params.schema, tmp_path / "validated.parquet", tmp_path / "summary.json")
    assert on_cluster["summary"] == in_memory
    assert read_json(on_cluster["dir"] / "data_summary.json") == in_memory
    parts = sorted(p.name for p in (on_cluster["dir"] / "validated.parquet").iterdir())
    assert parts == [f"part-{i:05d}.parquet" for i in range(4)]
    pd.testing.assert_frame_equal(
        pd.read_parquet(on_cluster["dir"] / "validated.parquet"), pd.read_parquet(tmp_path / "validated.parquet")
    )


def test_split_puts_the_same_rows_in_each_split_as_in_memory(
    on_cluster: dict[str, Any], typed_frame: pd.DataFrame, params: Params
) -> None:
    train, test = split_frame(typed_frame, params.schema, params.split)
    dask_train_rows = pd.read_parquet(on_cluster["dir"] / "train.parquet")
    dask_test_rows = pd.read_parquet(on_cluster["dir"] / "test.parquet")
    assert on_cluster["rows"] == (len(train), len(test))
    key = "transaction_id"
    assert sorted(dask_test_rows[key]) == sorted(test[key]) and sorted(dask_train_rows[key]) == sorted(train[key])
    by_id = test.set_index(key).sort_index()
    pd.testing.assert_frame_equal(dask_test_rows.set_index(key).sort_index(), by_id)


@pytest.mark.parametrize("estimator", ["lightgbm", "xgboost"])
def test_a_model_trained_across_the_workers_scores_within_the_in_memory_models_noise(
    on_cluster: dict[str, Any], train_test: tuple[pd.DataFrame, pd.DataFrame], params: Params, estimator: str
) -> None:
    out, runner = on_cluster["dir"], on_cluster["runner"]
    train_params = TrainParams.model_validate({"estimator": estimator, "seed": 42, estimator: {"n_estimators": 60}})
    model_path, info_path = out / f"{estimator}.skops", out / f"{estimator}.json"
    dask_train.run_train(
        runner, out / "train.parquet", params.schema, train_params, ComputeParams(engine="dask", partition_mb=0.05),
        model_path, info_path, say=lambda _: None,
    )  # fmt: skip
    model = load_model(model_path)  # the same kind of file as one trained in memory: a Pipeline, a plain estimator
    assert isinstance(model, Pipeline)
    assert type(model.steps[-1][1]).__name__ in ("LGBMClassifier", "XGBClassifier")
    assert read_json(info_path)["train_rows"] == len(train_test[0])
    metrics = dask_evaluate.run_evaluate(
        runner, model, out / "test.parquet", params.schema, params.evaluate, 42, 0.05, out / estimator
    )
    assert (out / estimator / "predictions.parquet").exists() and (out / estimator / "plots" / "roc.csv").exists()

    train, test = train_test
    reference, intervals, _ = evaluate_model(fit_model(train, params.schema, train_params), test, params.schema,
                                             params.evaluate)  # fmt: skip
    assert metrics["test_rows"] == reference["test_rows"] and metrics["test_positives"] == reference["test_positives"]
    for name in ("roc_auc", "average_precision", "log_loss"):
        bounds = intervals["metrics"][name]
        assert bounds["low"] <= metrics[name] <= bounds["high"], (name, metrics[name], bounds)


def test_a_piece_that_breaks_the_contract_is_named_and_nothing_is_written(
    raw_frame: pd.DataFrame, params: Params, dask_client: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    raw_frame.iloc[:3000].to_parquet(data / "a.parquet", index=False)
    broken = raw_frame.iloc[3000:].copy()
    broken.loc[broken.index[:7], "amount"] = -5.0
    broken.to_parquet(data / "b.parquet", index=False)
    out = tmp_path / "artifacts" / "validated.parquet"
    with pytest.raises(DataContractError) as caught:
        dask_validate.run_validate(Runner(dask_client), data, params.schema, 64, out, tmp_path / "summary.json")
    message = str(caught.value)
    assert message.startswith(f"{data / 'b.parquet'} (row group 0): the data breaks the contract")
    assert "amount: 7 bad row(s), check greater_than_or_equal_to(0" in message
    assert list((tmp_path / "artifacts").iterdir()) == [] and not (tmp_path / "summary.json").exists()


def test_an_estimator_that_cannot_train_across_workers_says_so_and_trains_here(
    on_cluster: dict[str, Any], params: Params
) -> None:
    said: list[str] = []
    train_params = TrainParams.model_validate({"estimator": "logistic_regression", "seed": 1})
    out = on_cluster["dir"]
    dask_train.run_train(
        on_cluster["runner"], out / "train.parquet", params.schema, train_params, ComputeParams(engine="dask"),
        out / "lr.skops", out / "lr.json", say=said.append,
    )  # fmt: skip
    assert said == [
        "train: logistic_regression (LogisticRegression) cannot train one model across Dask workers (train.estimator "
        "lightgbm or xgboost can): it trains here, in memory, its jobs on the cluster through joblib"
    ]
    assert type(load_model(out / "lr.skops").steps[-1][1]).__name__ == "LogisticRegression"
