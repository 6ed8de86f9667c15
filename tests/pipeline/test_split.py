"""The split: sizes, stratification and determinism."""

from __future__ import annotations

import pandas as pd

from gitops_ml.config import Params, SplitParams
from gitops_ml.pipeline.split import split_frame


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
