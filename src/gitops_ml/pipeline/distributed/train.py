"""Stage ``train`` on a Dask cluster: LightGBM and XGBoost train across the workers; the model is the same kind.

The model is the in-memory stage's own :func:`~gitops_ml.pipeline.train.build_model`: preprocessing steps, then the
estimator. The preprocessing is fitted here on a seeded sample of at most ``compute.preprocess_sample_rows``
training rows (all of them when there are fewer); each worker then reads its parts of
``artifacts/train.parquet`` (the feature columns and the target only), transforms them with it into a float32
matrix, and the estimator's Dask twin trains on those (:mod:`gitops_ml.compute.boosting`). The saved model is
the same sklearn Pipeline, with the fitted preprocessing and a plain LightGBM/XGBoost estimator: the gate, the
report and the service cannot tell it from one trained in memory.

An estimator that cannot train one model across workers (the scikit-learn ones) says so, names the ones that
can, and trains here in memory; one with ``n_jobs`` (random forest) runs its jobs on the cluster through joblib's
Dask backend.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from gitops_ml.compute.boosting import can_distribute, fit_on_cluster
from gitops_ml.compute.cluster import Runner
from gitops_ml.compute.pieces import Piece, pieces_of, read_piece
from gitops_ml.compute.sample import draw_sample
from gitops_ml.config import ComputeParams, SchemaParams, TrainParams
from gitops_ml.errors import DataContractError
from gitops_ml.pipeline.features import model_frame
from gitops_ml.pipeline.train import build_model, fit_model, save_trained

MATRIX_DTYPE = np.float32
"""The training matrix's type on the workers: half of float64's memory; XGBoost computes in float32 anyway."""


def distributable_estimators(schema: SchemaParams, params: TrainParams) -> list[str]:
    """The ``train.estimator`` names whose estimator trains across Dask workers for the project's task."""
    from gitops_ml.pipeline.estimators import estimators_for

    names = []
    for name in estimators_for(schema.task):
        other = type(params).model_validate({"estimator": name, "seed": params.seed})
        if can_distribute(build_model(schema, other).steps[-1][1]):
            names.append(name)
    return names


def transform_piece(piece: Piece, preprocess: Pipeline, schema: SchemaParams) -> tuple[np.ndarray, np.ndarray]:
    """One piece as the estimator sees it: the preprocessed feature matrix (float32) and the target."""
    frame = read_piece(piece, [*schema.feature_names, schema.target])
    matrix = np.asarray(preprocess.transform(model_frame(frame, schema)), dtype=MATRIX_DTYPE)
    return matrix, frame[schema.target].to_numpy()


def training_arrays(
    pieces: list[Piece], preprocess: Pipeline, schema: SchemaParams, width: int, target_dtype: Any
) -> tuple[Any, Any]:
    """Dask arrays (X, y) of the pieces, one block per piece, computed on the workers when the training asks."""
    import dask.array as da
    from dask.delayed import delayed

    shared = delayed(preprocess, pure=True)  # one copy in the graph, not one per piece
    blocks = [delayed(transform_piece, pure=True)(piece, shared, schema) for piece in pieces]
    X = da.concatenate(
        [da.from_delayed(b[0], shape=(p.rows, width), dtype=MATRIX_DTYPE) for b, p in zip(blocks, pieces, strict=True)]
    )
    y = da.concatenate(
        [da.from_delayed(b[1], shape=(p.rows,), dtype=target_dtype) for b, p in zip(blocks, pieces, strict=True)]
    )
    return X, y


def run_train(
    runner: Runner,
    train_path: Path,
    schema: SchemaParams,
    params: TrainParams,
    compute: ComputeParams,
    model_path: Path,
    info_path: Path,
    say: Callable[[str], None] = print,
) -> None:
    """Fit on the cluster (or, for an estimator that cannot, here) and write the model and its card."""
    if not train_path.exists():
        raise DataContractError(f"{train_path} does not exist: run the split stage first (`make repro`)")
    model = build_model(schema, params)
    *steps, (step_name, estimator) = model.steps
    if not can_distribute(estimator) or runner.client is None:
        _fit_here(train_path, schema, params, estimator, model_path, info_path, say)
        return
    pieces = [p for p in pieces_of(train_path, compute.partition_mb) if p.rows]
    columns = [*schema.feature_names, schema.target]
    sample = draw_sample(runner, pieces, compute.preprocess_sample_rows, params.seed, columns)
    preprocess = Pipeline(steps).fit(model_frame(sample, schema), sample[schema.target].to_numpy())
    width = np.asarray(preprocess.transform(model_frame(sample.head(1), schema))).shape[1]
    X, y = training_arrays(pieces, preprocess, schema, width, sample[schema.target].to_numpy().dtype)
    rows = sum(p.rows or 0 for p in pieces)
    workers = len(runner.client.scheduler_info()["workers"])
    say(f"train: {type(estimator).__name__} on {rows} rows across {workers} Dask workers")
    local = fit_on_cluster(runner.client, estimator, X, y, compute.train_timeout_s)
    save_trained(Pipeline([*preprocess.steps, (step_name, local)]), rows, schema, params, model_path, info_path)


def _fit_here(
    train_path: Path,
    schema: SchemaParams,
    params: TrainParams,
    estimator: Any,
    model_path: Path,
    info_path: Path,
    say: Callable[[str], None],
) -> None:
    able = distributable_estimators(schema, params)
    jobs = "n_jobs" in estimator.get_params()
    say(
        f"train: {params.estimator.value} ({type(estimator).__name__}) cannot train one model across Dask workers "
        f"(train.estimator {' or '.join(able) if able else 'LightGBM or XGBoost estimators'} can): it trains here, in "
        f"memory{', its jobs on the cluster through joblib' if jobs else ''}"
    )
    train = pd.read_parquet(train_path)
    if jobs:
        from joblib import parallel_backend

        with parallel_backend("dask"):
            fitted = fit_model(train, schema, params)
    else:
        fitted = fit_model(train, schema, params)
    save_trained(fitted, len(train), schema, params, model_path, info_path)
