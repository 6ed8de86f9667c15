"""A seeded sample of rows drawn across pieces: the same rows whatever the partitions, the data never in one place."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gitops_ml.compute.cluster import Runner
from gitops_ml.compute.pieces import Piece, read_piece


def rows_of(item: tuple[Piece, np.ndarray], columns: Sequence[str] | None) -> pd.DataFrame:
    """The rows at the given positions (the piece's own row numbers) of one piece."""
    piece, positions = item
    return read_piece(piece, columns).iloc[positions]


def draw_sample(
    runner: Runner, pieces: list[Piece], size: int, seed: int, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """At most ``size`` rows of the parquet ``pieces`` drawn without replacement (seeded by ``seed``; all rows when
    there are fewer), in the data's order. Only ``columns`` when given."""
    rows = [piece.rows or 0 for piece in pieces]
    total = sum(rows)
    chosen = np.arange(total)
    if total > size:
        chosen = np.sort(np.random.RandomState(seed).choice(total, size=size, replace=False))
    starts = np.cumsum([0, *rows])
    items = [
        (piece, chosen[(chosen >= start) & (chosen < start + count)] - start)
        for piece, start, count in zip(pieces, starts, rows, strict=False)
    ]
    frames = runner.map(rows_of, items, "sample", lambda item: item[0].describe(), columns=columns)
    return pd.concat(frames, ignore_index=True)
