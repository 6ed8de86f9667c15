"""A simulated production run: the real service logs what it scores, and the drift check reads that log.

The built bento is served twice, each time with its own prediction log. The first replays hold-out rows over
HTTP, the second a shifted window: larger amounts, a different channel mix and more missing distances, all
inside the data contract (a value outside it, such as a new category, is refused with 400 and never scored,
so unseen categories are covered by the drift check's own tests on files). ``gitops-ml drift`` on each log
then flags only the second window and names exactly the shifted features.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import Params
from gitops_ml.monitoring.window import log_records
from gitops_ml.serving.prediction_log import ENV_VAR
from tests.support.projects import run
from tests.support.serving import BuiltBento, serve, to_records

pytestmark = pytest.mark.slow

WINDOW_ROWS = 600  # above monitor.min_window_rows (500) of the fixture project
SHIFTED = ["amount", "channel", "distance_from_home_km"]


def shifted(rows: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Amounts tripled (capped at the contract's maximum), 30% of rows moved to `phone`, 20% more missing
    distances."""
    frame = rows.copy()
    rng = np.random.default_rng(7)
    cap = params.schema.columns["amount"].max
    frame["amount"] = (frame["amount"] * 3).clip(upper=cap)
    frame["channel"] = frame["channel"].astype(object).where(rng.random(len(frame)) > 0.3, "phone")
    frame["distance_from_home_km"] = frame["distance_from_home_km"].where(rng.random(len(frame)) > 0.2, np.nan)
    return frame


def replay(built_bento: BuiltBento, rows: pd.DataFrame, params: Params, log_dir: Path, workdir: Path) -> None:
    """Serve the bento with its log in ``log_dir``, send every row over HTTP, stop it (which closes the log)."""
    records = to_records(rows, params.schema)
    workdir.mkdir()
    with serve(built_bento.tag, built_bento.env | {ENV_VAR: str(log_dir)}, workdir) as server:
        for start in range(0, len(records), 100):
            response = httpx.post(f"{server.url}/predict", json={"records": records[start : start + 100]}, timeout=60)
            assert response.status_code == 200, response.text[:2000]


def drift_report(project: Path, window: Path, out: Path) -> dict[str, Any]:
    """``gitops-ml drift`` on ``window``; the drift.json it wrote."""
    result = run(["gitops-ml", "drift", "--current", str(window), "--out-dir", str(out)], project)
    assert result.stdout.strip().splitlines()[-1] in {"drift=true", "drift=false"}
    return json.loads((out / "drift.json").read_text())


def logged_rows(log_dir: Path) -> int:
    """Records in the (closed) log files of ``log_dir``."""
    lines = [line for path in log_dir.glob("predictions-*.jsonl") for line in path.read_text().splitlines()]
    return sum(len(log_records(json.loads(line))) for line in lines)


def test_drift_on_the_services_own_log_flags_only_the_shifted_window(
    built_bento: BuiltBento, project_params: Params, test_rows: pd.DataFrame, tmp_path: Path
) -> None:
    rows = test_rows.sample(WINDOW_ROWS, random_state=11)
    replay(built_bento, rows, project_params, tmp_path / "calm-log", tmp_path / "serve-calm")
    replay(built_bento, shifted(rows, project_params), project_params, tmp_path / "shift-log", tmp_path / "serve-shift")
    assert logged_rows(tmp_path / "calm-log") == logged_rows(tmp_path / "shift-log") == WINDOW_ROWS

    calm = drift_report(built_bento.project, tmp_path / "calm-log", tmp_path / "calm")
    assert calm["drift"] is False, calm["drifted"]
    assert calm["window"]["rows"] == WINDOW_ROWS
    assert calm["window"]["score_source"] == "window"  # the scores the service logged, not recomputed

    alarm = drift_report(built_bento.project, tmp_path / "shift-log", tmp_path / "alarm")
    assert alarm["drift"] is True
    assert [name for name in alarm["drifted"] if name != "predicted score"] == SHIFTED
