"""One contract for training and serving: every hold-out row, sent the way a pandas client sends it, gets over HTTP
the score ``evaluate`` computed for it (reports/predictions.parquet), within the compiled path's tolerance, and its id
back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import ColumnType, Params
from gitops_ml.model_call.compiled import max_difference
from tests.support.serving import BuiltBento, Server

pytestmark = pytest.mark.slow


def as_a_pandas_client_sends(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records as ``df.to_dict(orient="records")`` gives them, missing values as JSON null.

    Integer columns are held as float64 first, as pandas holds an integer column with gaps read from a CSV:
    the service must take ``1175.0`` for the integer 1175, as ``validate`` does.
    """
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return json.loads(json.dumps(records))  # exactly what goes over the wire


def test_every_test_row_scores_over_http_as_evaluate_scored_it(
    server: Server, built_bento: BuiltBento, project_params: Params, test_rows: pd.DataFrame
) -> None:
    schema = project_params.schema
    assert schema.ids, "the fixture's schema declares an id column, so the echo is checked too"
    frame = test_rows[[*schema.ids, *schema.feature_names]].copy()
    integers = schema.names_of(ColumnType.INT)
    frame[integers] = frame[integers].astype("float64")
    records = as_a_pandas_client_sends(frame)
    assert any(isinstance(r[name], float) and r[name] is not None for r in records for name in integers)
    assert any(r[name] is None for r in records for name in schema.feature_names)

    limit = project_params.serving.max_records
    predictions: list[dict[str, Any]] = []
    for start in range(0, len(records), limit):
        response = httpx.post(f"{server.url}/predict", json={"records": records[start : start + limit]}, timeout=60)
        assert response.status_code == 200, response.text[:2000]
        predictions += response.json()["predictions"]

    evaluated = pd.read_parquet(built_bento.project / "reports" / "predictions.parquet")
    assert len(predictions) == len(evaluated) == len(test_rows)
    for name in schema.ids:
        assert [p[name] for p in predictions] == test_rows[name].tolist()
    served = np.array([p["probability"] for p in predictions])
    scores = evaluated["score"].to_numpy()
    difference, allowed = max_difference(schema.task, served, scores)  # the compiled path's stated tolerance
    assert difference <= allowed, f"served scores differ from evaluate's by up to {difference:.3g}"
    threshold = project_params.evaluate.threshold
    clear = np.abs(scores - threshold) > allowed  # a score that close to the threshold may fall either side
    assert clear.mean() > 0.99
    labels = np.array([p["label"] for p in predictions])
    assert labels[clear].tolist() == (scores[clear] >= threshold).astype(int).tolist()
