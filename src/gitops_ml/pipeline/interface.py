"""The one door from the template's machinery into the team's code in ``pipeline/``.

The release gate, the champion, the pull-request report, the service, ``data_source.py``, the CLI's non-stage
commands and the benchmarks call only what is here; the stage modules (validate, split, train, evaluate, features,
estimators) are the team's to rewrite as long as these functions keep their meaning:

- :func:`model_frame`: the raw rows -> the frame the model takes (the schema's feature columns, typed);
- :func:`build_model`: the unfitted model (preprocessing + the ``train.estimator`` classifier);
- :func:`score_frame`: a fitted model's positive-class probability for each raw row;
- :func:`sample_writer`: the optional built-in sample generator (``pipeline/sample_data.py``), a plug-in that
  ``data.sample`` in params.yaml switches on; the project works without the file;
- :func:`data_files`, :func:`windows_dir`, :func:`data_file_suffixes`, :func:`check_window`: the raw data as the
  validate stage reads it (``data.path`` and the windows of labelled data appended after it) and the check a new
  window passes before ``make retrain`` adds it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gitops_ml.config import SchemaParams, TrainParams
from gitops_ml.errors import DataSourceError
from gitops_ml.pipeline.features import model_frame

__all__ = [
    "SAMPLE_MODULE",
    "build_model",
    "check_window",
    "data_file_suffixes",
    "data_files",
    "model_frame",
    "sample_writer",
    "score_frame",
    "windows_dir",
]

if TYPE_CHECKING:
    from gitops_ml.pipeline.validate import WindowCheck

SAMPLE_MODULE = "gitops_ml.pipeline.sample_data"


def build_model(schema: SchemaParams, params: TrainParams) -> Any:
    """The unfitted model for ``schema`` with the estimator ``params`` names (fit it on :func:`model_frame`)."""
    from gitops_ml.pipeline.train import build_model as build  # the estimators' imports only when a model is built

    return build(schema, params)


def score_frame(model: Any, frame: pd.DataFrame, schema: SchemaParams) -> np.ndarray:
    """Positive-class probability of each row of ``frame`` (raw or validated rows) under the fitted ``model``."""
    scores: np.ndarray = model.predict_proba(model_frame(frame, schema))[:, 1]  # the model is untyped (sklearn)
    return scores


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
