"""The shared value helpers: nested keys made flat, numbers made finite or None."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gitops_ml.values import finite_or_none, flatten


def test_flatten_names_nested_keys_with_dots_and_keeps_lists_and_empty_sections() -> None:
    data = {"train": {"estimator": "x", "x": {"depth": 3, "layers": [1, 2]}}, "empty": {}, "seed": 1}
    flat = {"train.estimator": "x", "train.x.depth": 3, "train.x.layers": [1, 2], "empty": {}, "seed": 1}
    assert flatten(data) == flat
    assert flatten({"a": {"b": 1}}, "split.") == {"split.a.b": 1}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (0.25, 0.25), ("0.5", 0.5), (np.float64(0.75), 0.75), (np.int64(2), 2.0)],
)
def test_finite_numbers_become_floats(value: object, expected: float) -> None:
    assert finite_or_none(value) == expected


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf, "x", [], {}, True, False, np.nan])
def test_missing_non_finite_and_non_numbers_become_none(value: object) -> None:
    assert finite_or_none(value) is None
