"""The bare ASGI app of the latency benchmark: it starts under uvicorn, scores as the model does, and stops."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from benchmarks.common import ROOT, bench_env
from benchmarks.serving import SERVER_ENV, bento_records, free_port, running

from gitops_ml.config import load_params
from gitops_ml.model_io import load_model
from gitops_ml.pipeline.interface import score_frame

pytestmark = pytest.mark.slow


def test_the_bare_app_starts_scores_like_the_model_and_stops(pipeline_project: Path, tmp_path: Path) -> None:
    params = load_params(pipeline_project / "params.yaml")
    rows = pd.read_parquet(pipeline_project / "artifacts" / "test.parquet").head(40)
    expected = score_frame(load_model(pipeline_project / "models" / "model.skops"), rows, params.schema)
    records = bento_records(rows, params)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "benchmarks.bare_asgi", "--project", str(pipeline_project), "--port", str(port)]
    with running(cmd, ROOT, bench_env(SERVER_ENV), f"{url}/readyz", tmp_path / "bare.log"):
        one = httpx.post(f"{url}/predict", content=json.dumps({"records": records[:1]}), timeout=30)
        many = httpx.post(f"{url}/predict", content=json.dumps({"records": records}), timeout=30)
        incomplete = {name: value for name, value in records[0].items() if name != params.schema.feature_names[0]}
        refused = httpx.post(f"{url}/predict", content=json.dumps({"records": [incomplete]}), timeout=30)
    assert one.status_code == 200 and many.status_code == 200
    np.testing.assert_allclose(one.json()["predictions"], expected[:1], atol=1e-5)
    np.testing.assert_allclose(many.json()["predictions"], expected, atol=1e-5)
    assert refused.status_code == 400 and params.schema.feature_names[0] in refused.json()["error"]
    with pytest.raises(httpx.ConnectError):  # stopped: nothing listens on the port any more
        httpx.get(f"{url}/readyz", timeout=5)
