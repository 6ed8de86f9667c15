"""The one door from the template's machinery into the team's code in ``pipeline/``.

The engine (the CLI and its stage commands, the release gate, the champion, the pull-request report, the service,
``data_source.py``) calls only what is here and the typed params of ``config.py`` (tests/template/test_parts.py
holds it to that); the stage modules (validate, split, train, evaluate, features, estimators) are the team's to
rewrite as long as these functions keep their meaning:

- :func:`model_frame`: the raw rows -> the frame the model takes (the schema's feature columns, typed);
- :func:`parse_datetimes`: how a ``datetime`` column's values are read (what a window of it must hold);
- :func:`estimator_for_task`: the estimator the registry (``estimators.py``) offers for a task;
- :func:`build_model`: the unfitted model (preprocessing + the ``train.estimator`` classifier);
- :func:`score_frame`: a fitted model's prediction for each raw row, shaped by the task (``schema.task``): the
  positive class's probability (binary), one probability per class (multiclass) or the value (regression);
- :func:`part_name`, :func:`date_parts`: the features a ``datetime`` column becomes (the service's compiled model
  call, ``model_call/compiled.py``, computes them as :func:`model_frame` does, and checks it gives :func:`score_frame`'s
  predictions before serving);
- :func:`sample_writer`: the optional built-in sample generator (``pipeline/sample_data.py``), a plug-in that
  ``data.sample`` in params.yaml switches on; the project works without the file;
- :func:`data_files`, :func:`windows_dir`, :func:`data_file_suffixes`, :func:`check_window`: the raw data as the
  validate stage reads it (``data.path`` and the windows of labelled data appended after it) and the check a new
  window passes before ``make retrain`` adds it; :func:`read_table`, :func:`check_frame` and
  :func:`unlabelled_mask`: reading a data file, the contract's check of a frame, and which targets count as missing
  (``make init-data``, in ``adopt/``, adopts a team's file with them, and :func:`write_dvc_plots` gives
  ``dvc.yaml`` the plots of the new task);
- the DVC stages, in memory and on a Dask cluster (:func:`run_validate`, :func:`validate_on_cluster`,
  :func:`describe_summary`, :func:`run_split`, :func:`split_on_cluster`, :func:`run_train`,
  :func:`train_on_cluster`, :func:`run_evaluate`, :func:`evaluate_on_cluster`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from gitops_ml.config import ComputeParams, EvaluateParams, SchemaParams, SplitParams, TrainParams
from gitops_ml.errors import DataSourceError
from gitops_ml.pipeline.features import date_parts, model_frame, parse_datetimes, part_name
from gitops_ml.tasks import Task

__all__ = [
    "SAMPLE_MODULE",
    "build_model",
    "check_frame",
    "check_window",
    "data_file_suffixes",
    "data_files",
    "date_parts",
    "describe_summary",
    "estimator_for_task",
    "evaluate_on_cluster",
    "model_frame",
    "parse_datetimes",
    "part_name",
    "read_table",
    "run_evaluate",
    "run_split",
    "run_train",
    "run_validate",
    "sample_writer",
    "score_frame",
    "split_on_cluster",
    "train_on_cluster",
    "unlabelled_mask",
    "validate_on_cluster",
    "windows_dir",
    "write_dvc_plots",
]

if TYPE_CHECKING:
    from gitops_ml.compute.cluster import Runner
    from gitops_ml.pipeline.validate import WindowCheck

SAMPLE_MODULE = "gitops_ml.pipeline.sample_data"


def build_model(schema: SchemaParams, params: TrainParams) -> Any:
    """The unfitted model for ``schema`` with the estimator ``params`` names (fit it on :func:`model_frame`)."""
    from gitops_ml.pipeline.train import build_model as build  # the estimators' imports only when a model is built

    return build(schema, params)


def estimator_for_task(name: str, task: Task) -> str:
    """The ``train.estimator`` to train for ``task``: ``name`` when the registry has it and it supports ``task``, else
    the registry's default (``make init-data`` keeps a team's choice whenever the new data's task allows it)."""
    from gitops_ml.pipeline.estimators import DEFAULT_ESTIMATOR, ESTIMATORS

    chosen = ESTIMATORS.get(name)
    return name if chosen is not None and task in chosen.tasks else DEFAULT_ESTIMATOR


def score_frame(model: Any, frame: pd.DataFrame, schema: SchemaParams) -> np.ndarray:
    """The fitted ``model``'s prediction of each row of ``frame`` (raw or validated rows), by ``schema.task``.

    Binary: the positive class's probability, shape (rows,). Multiclass: one probability per class of
    ``schema.classes``, shape (rows, classes), a class the model never saw in training getting 0. Regression: the
    predicted value, shape (rows,).
    """
    features = model_frame(frame, schema)
    if schema.task is Task.REGRESSION:
        return np.asarray(model.predict(features), dtype=np.float64)
    proba = np.asarray(model.predict_proba(features), dtype=np.float64)
    full = np.zeros((len(features), len(schema.class_labels)), dtype=np.float64)
    full[:, np.asarray(model.classes_, dtype=np.int64)] = proba  # the model's columns are the classes it saw
    return full[:, 1] if schema.task is Task.BINARY else full


def sample_writer() -> Callable[[Path, int, int], Path]:
    """``write_sample(path, rows, seed)`` of the built-in sample generator, which writes the sample as CSV.

    Imported only when asked for, so a project that deleted ``pipeline/sample_data.py`` loses nothing else; asking
    for it then raises :class:`~gitops_ml.errors.DataSourceError` saying what to do.
    """
    try:
        module = importlib.import_module(SAMPLE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != SAMPLE_MODULE:
            raise  # the generator is there but one of its own imports is missing: show that
        raise DataSourceError(
            "the built-in sample generator (src/gitops_ml/pipeline/sample_data.py) is not in this project. "
            "Remove `sample:` from the data: section of params.yaml (the data then comes from the DVC cache or "
            "remote), or restore the file from the template."
        ) from None
    write_sample: Callable[[Path, int, int], Path] = module.write_sample
    return write_sample


# The data's files and a new window's check live in the validate stage, imported when asked for (pandera is slow to
# import, and the service never needs them).


def data_files(raw_path: Path) -> list[Path]:
    """``raw_path`` (``data.path``) and every window of labelled data appended after it, in the order validate reads."""
    from gitops_ml.pipeline.validate import dataset_files

    return dataset_files(raw_path)


def windows_dir(raw_path: Path) -> Path:
    """The folder where windows of labelled data appended to ``raw_path`` go (``data/windows/``)."""
    from gitops_ml.pipeline.validate import windows_dir as folder

    return folder(raw_path)


def data_file_suffixes() -> tuple[str, ...]:
    """The file suffixes the data and its windows may have (CSV, parquet)."""
    from gitops_ml.pipeline.validate import TABLE_SUFFIXES

    return TABLE_SUFFIXES


def check_window(raw_path: Path, window: Path, schema: SchemaParams, name: str) -> WindowCheck:
    """Check the new window at ``window`` alone and with the data; raise DataContractError saying what is wrong."""
    from gitops_ml.pipeline.validate import check_window as check

    return check(raw_path, window, schema, name)


def write_dvc_plots(dvc_yaml: Path, task: Task) -> bool:
    """Make ``dvc_yaml``'s ``plots:`` the evaluate stage's plots of ``task`` (comments kept); whether it changed."""
    from gitops_ml.pipeline.plots import write_dvc_plots as write

    return write(dvc_yaml, task)


def read_table(path: Path, dtype_backend: Literal["numpy_nullable"] | None = None) -> pd.DataFrame:
    """The data file at ``path`` (CSV, or parquet by its suffix) as a frame; DataContractError when it is unreadable.

    ``dtype_backend="numpy_nullable"`` keeps integer and boolean columns with gaps as such (for inferring types).
    """
    from gitops_ml.pipeline.validate import read_table as read

    return read(path, dtype_backend)


def check_frame(frame: pd.DataFrame, schema: SchemaParams) -> pd.DataFrame:
    """``frame``'s labelled rows, typed, if it meets the contract ``schema``; else DataContractError saying why."""
    from gitops_ml.pipeline.validate import check_frame as check

    return check(frame, schema)


def unlabelled_mask(column: pd.Series) -> np.ndarray:
    """True for each row of the target ``column`` that has no label (the stages leave those rows out)."""
    from gitops_ml.pipeline.validate import unlabelled_mask as mask

    return mask(column)


# The DVC stages: dvc.yaml runs `gitops-ml <stage>`, whose command (pipeline_commands.py) calls these. Each imports
# its module when it runs; the *_on_cluster ones are the stage's Dask version (compute.engine: dask).


def run_validate(raw_path: Path, schema: SchemaParams, out_path: Path, summary_path: Path) -> dict[str, Any]:
    """Stage validate: check the raw data against ``schema``, write it typed and its summary; return the summary."""
    from gitops_ml.pipeline.validate import run_validate as run

    return run(raw_path, schema, out_path, summary_path)


def validate_on_cluster(
    runner: Runner, raw_path: Path, schema: SchemaParams, partition_mb: float, out_path: Path, summary_path: Path
) -> dict[str, Any]:
    """Stage validate on a Dask cluster: the same checks, summary and output, partition by partition."""
    from gitops_ml.pipeline.distributed.validate import run_validate as run

    return run(runner, raw_path, schema, partition_mb, out_path, summary_path)


def describe_summary(summary: dict[str, Any]) -> str:
    """One line about a validate summary (rows, what was left out, the target's balance)."""
    from gitops_ml.pipeline.validate import describe_summary as describe

    return describe(summary)


def run_split(validated: Path, schema: SchemaParams, params: SplitParams, train_path: Path, test_path: Path) -> None:
    """Stage split: the hold-out split of the validated data into ``train_path`` and ``test_path``."""
    from gitops_ml.pipeline.split import run_split as run

    run(validated, schema, params, train_path, test_path)


def split_on_cluster(
    runner: Runner,
    validated: Path,
    schema: SchemaParams,
    params: SplitParams,
    partition_mb: float,
    train_path: Path,
    test_path: Path,
) -> tuple[int, int]:
    """Stage split on a Dask cluster; return the train and test rows."""
    from gitops_ml.pipeline.distributed.split import run_split as run

    return run(runner, validated, schema, params, partition_mb, train_path, test_path)


def run_train(train_path: Path, schema: SchemaParams, params: TrainParams, model_path: Path, info_path: Path) -> None:
    """Stage train: fit the model ``params`` names on the training split; save it and its info."""
    from gitops_ml.pipeline.train import run_train as run

    run(train_path, schema, params, model_path, info_path)


def train_on_cluster(
    runner: Runner,
    train_path: Path,
    schema: SchemaParams,
    params: TrainParams,
    compute: ComputeParams,
    model_path: Path,
    info_path: Path,
    say: Callable[[str], None] = print,
) -> None:
    """Stage train on a Dask cluster (distributed boosting where the estimator has it, else on a sample)."""
    from gitops_ml.pipeline.distributed.train import run_train as run

    run(runner, train_path, schema, params, compute, model_path, info_path, say)


def run_evaluate(
    model: Any,
    test_path: Path,
    schema: SchemaParams,
    params: EvaluateParams,
    seed: int,
    out_dir: Path,
    labels: tuple[str, str],
) -> dict[str, Any]:
    """Stage evaluate: metrics, their confidence intervals, plots and predictions on the test split; the metrics."""
    from gitops_ml.pipeline.evaluate import run_evaluate as run

    return run(model, test_path, schema, params, seed, out_dir, labels)


def evaluate_on_cluster(
    runner: Runner,
    model: Any,
    test_path: Path,
    schema: SchemaParams,
    params: EvaluateParams,
    seed: int,
    partition_mb: float,
    out_dir: Path,
    labels: tuple[str, str],
) -> dict[str, Any]:
    """Stage evaluate on a Dask cluster: the test split scored partition by partition; the metrics."""
    from gitops_ml.pipeline.distributed.evaluate import run_evaluate as run

    return run(runner, model, test_path, schema, params, seed, partition_mb, out_dir, labels)
