"""Stage ``split`` on a Dask cluster: the same rows in each split as in memory, the data never in one place.

The workers send back the target column of each validated part (8 bytes a row; and ``split.time_column`` for a
split by date); this process numbers the rows in order and gives that small frame to the in-memory stage's own
:func:`~gitops_ml.pipeline.split.split_frame`, so the split is the same one (same seed, same stratification, same
rows) whatever the partitions. Each worker then writes its part's test rows to ``artifacts/test.parquet/`` and the
others to ``artifacts/train.parquet/`` (both directories or neither). Within each, rows keep the validated data's order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gitops_ml.compute.cluster import Runner
from gitops_ml.compute.pieces import Piece, atomic_dirs, pieces_of, read_piece, write_part
from gitops_ml.config import SchemaParams, SplitParams
from gitops_ml.errors import DataContractError
from gitops_ml.pipeline.split import split_frame

ROW = "__row__"
"""The row number's column in the frame given to ``split_frame`` (beside the target)."""


def read_target(piece: Piece, columns: list[str]) -> pd.DataFrame:
    """The columns the split is drawn on (the target, and ``split.time_column`` when set) of one piece."""
    return read_piece(piece, columns)


def split_columns(schema: SchemaParams, params: SplitParams) -> list[str]:
    """The columns :func:`split_frame` reads: the target, and the time column of a split by date."""
    return [schema.target, *([params.time_column] if params.time_column else [])]


def test_rows(targets: list[pd.DataFrame], schema: SchemaParams, params: SplitParams) -> list[np.ndarray]:
    """For each part, whether each of its rows goes to the test split, as :func:`split_frame` splits the whole."""
    numbered = pd.concat(targets, ignore_index=True)
    numbered[ROW] = np.arange(len(numbered))
    _, test = split_frame(numbered, schema, params)
    is_test = np.zeros(len(numbered), dtype=bool)
    is_test[test[ROW].to_numpy()] = True
    return np.split(is_test, np.cumsum([len(t) for t in targets])[:-1])


def split_piece(item: tuple[int, Piece, np.ndarray], train_dir: Path, test_dir: Path) -> tuple[int, int]:
    """Write part ``index``'s train rows and test rows; return how many of each."""
    index, piece, is_test = item
    frame = read_piece(piece)
    if len(frame) != len(is_test):
        raise DataContractError(f"has {len(frame)} rows, {len(is_test)} when the split was drawn: it changed meanwhile")
    train, test = frame[~is_test], frame[is_test]
    write_part(train.reset_index(drop=True), train_dir, index)
    write_part(test.reset_index(drop=True), test_dir, index)
    return len(train), len(test)


def run_split(
    runner: Runner,
    validated: Path,
    schema: SchemaParams,
    params: SplitParams,
    partition_mb: float,
    train_path: Path,
    test_path: Path,
) -> tuple[int, int]:
    """Split the validated parts on the cluster; write the train and test directories; return their rows."""
    if not validated.exists():
        raise DataContractError(f"{validated} does not exist: run the validate stage first (`make repro`)")
    pieces = pieces_of(validated, partition_mb)
    describe = Piece.describe
    columns = split_columns(schema, params)
    targets = runner.map(read_target, pieces, "split: targets", describe, columns=columns)
    masks = test_rows(targets, schema, params)
    with atomic_dirs(train_path, test_path) as (train_dir, test_dir):
        counts = runner.map(
            split_piece,
            list(zip(range(len(pieces)), pieces, masks, strict=True)),
            "split",
            lambda item: item[1].describe(),
            train_dir=train_dir,
            test_dir=test_dir,
        )
    return sum(c[0] for c in counts), sum(c[1] for c in counts)
