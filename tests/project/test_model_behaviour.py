"""Behavioural tests of the team's model (Made-With-ML style): EDIT the examples for your data.

- invariance: what must not change a row's score (its id columns, the other rows sent with it);
- directional: a change that must move the score one way. The example fits the built-in sample; declare your
  own in DIRECTIONAL below (column, from, to, "up" or "down"). A declared column that is not in params.yaml's
  schema fails with a message saying to edit this file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import Params
from gitops_ml.model_io import load_model
from gitops_ml.pipeline.evaluate import predict_scores

pytestmark = pytest.mark.slow

# EDIT: expectations for your data. The sample's fraud risk rises with the card's activity in the last 24 hours.
DIRECTIONAL = [("transactions_last_24h", 1, 30, "up")]
SAMPLE_TARGET = "is_fraud"  # the examples above belong to the sample; other data must declare its own


@pytest.fixture(scope="module")
def scored(own_params: Params, own_pipeline: Path) -> tuple[object, pd.DataFrame]:
    model = load_model(own_pipeline / "models" / "model.skops")
    test = pd.read_parquet(own_pipeline / "artifacts" / "test.parquet").head(200).reset_index(drop=True)
    return model, test


def test_a_rows_score_does_not_depend_on_the_rows_sent_with_it(own_params: Params, scored) -> None:
    model, test = scored
    together = predict_scores(model, test, own_params.schema)
    alone = np.array([predict_scores(model, test.iloc[[i]], own_params.schema)[0] for i in range(0, len(test), 20)])
    np.testing.assert_allclose(alone, together[::20], rtol=1e-9)


def test_id_columns_do_not_change_the_score(own_params: Params, scored) -> None:
    model, test = scored
    if not own_params.schema.ids:
        pytest.skip("params.yaml declares no schema.ids")
    renamed = test.copy()
    for name in own_params.schema.ids:
        renamed[name] = renamed[name].astype(str) + "-other"
    np.testing.assert_array_equal(
        predict_scores(model, renamed, own_params.schema), predict_scores(model, test, own_params.schema)
    )


@pytest.mark.parametrize(("column", "low", "high", "direction"), DIRECTIONAL)
def test_directional_expectation(own_params: Params, scored, column: str, low, high, direction: str) -> None:
    model, test = scored
    if column not in own_params.schema.columns:
        if own_params.schema.target != SAMPLE_TARGET:
            pytest.skip(f"EDIT tests/project/test_model_behaviour.py: {column!r} is the sample's; declare yours")
        pytest.fail(f"{column!r} is not in params.yaml schema.columns: edit DIRECTIONAL in this file")
    before = test.assign(**{column: low})
    after = test.assign(**{column: high})
    moved = predict_scores(model, after, own_params.schema) - predict_scores(model, before, own_params.schema)
    assert (moved.mean() > 0) if direction == "up" else (moved.mean() < 0), (
        f"raising {column} from {low} to {high} moved the mean score by {moved.mean():+.4f}, expected {direction}"
    )
