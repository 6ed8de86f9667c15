"""``reports/drift.json`` and ``drift.md`` with a chosen verdict, for unit tests of what reads them.

The drift issue's state machine needs reports that say drift or no drift in a chosen order, quickly: these are
built here, validated by the drift check's own schema (:class:`gitops_ml.monitoring.drift.DriftReport`) and
rendered by its own renderer, so they are what ``gitops-ml drift`` writes, with made-up statistics. Tests of the
whole loop run the real drift check on real windows: :func:`write_prediction_log` writes one as the service's
prediction log, :func:`shifted` moves one (tests/rehearsal/test_monitor.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.monitoring.drift import DriftReport
from gitops_ml.monitoring.render import render
from gitops_ml.serving.log_lines import LineRenderer, ScoredBatch, plain_columns

FEATURES = ("amount", "hour", "distance_from_home_km", "transactions_last_24h")  # numeric features of the sample


def drift_report(drift: bool, drifted: tuple[str, ...] = (), rows: int = 800, checked_at: str = "") -> dict[str, Any]:
    """A drift.json body: ``drifted`` features crossed their PSI threshold, the others did not."""
    drifted = drifted if drift else ()
    features = []
    for name in FEATURES:
        psi = 0.41 if name in drifted else 0.02
        features.append({
            "name": name, "kind": "numeric", "drift": name in drifted,
            "crossed": [{"statistic": "psi", "value": psi, "threshold": 0.1}] if name in drifted else [],
            "psi": psi, "wasserstein": 0.05, "ks": 0.03, "jensen_shannon": None,
            "missing_reference": 0.0, "missing_window": 0.0, "missing_change": 0.0,
            "unseen_share": None, "unseen": [], "unseen_total": 0,
            "histogram": {"labels": ["a", "b"], "reference": [0.5, 0.5], "window": [0.5, 0.5]},
        })  # fmt: skip
    return {
        "schema_version": 2,
        "drift": drift,
        "drifted": list(drifted),
        "checked_at": checked_at or "2026-11-24T06:17:00Z",
        "model_version": "model-v1",
        "window": {
            "source": "s3://bucket/prediction-logs/",
            "files": 3,
            "rows": rows,
            "skipped_lines": 0,
            "first_timestamp": "2026-11-23T06:00:00Z",
            "last_timestamp": "2026-11-24T05:59:00Z",
            "model_versions": ["model-v1"],
            "score_source": "window",
        },
        "reference": {
            "path": "artifacts/drift_reference.parquet of model-v1 (0123456789ab)",
            "rows": 15000,
            "chosen_by": "window",
            "commit": "0123456789ab" + "c" * 28,
            "model_version": "model-v1",
            "read_from": "cache",
            "note": None,
        },
        "thresholds": {
            "min_window_rows": 500,
            "bins": 10,
            "psi": 0.1,
            "wasserstein": 0.2,
            "ks": 0.15,
            "jensen_shannon": 0.15,
            "missing_rate": 0.05,
            "unseen_share": 0.005,
        },
        "features": features,
        "score": None,
    }


def drift_markdown(report: dict[str, Any]) -> str:
    """drift.md for ``report``, rendered by the drift check's renderer after its schema validated the report."""
    return render(DriftReport.model_validate(report))


def write_drift_reports(folder: Path, drift: bool, drifted: tuple[str, ...] = (), **facts: Any) -> Path:
    """Write ``drift.json`` and ``drift.md`` into ``folder`` (made if missing); return ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    report = drift_report(drift, drifted, **facts)
    markdown = drift_markdown(report)  # validates the report first
    (folder / "drift.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (folder / "drift.md").write_text(markdown)
    return folder


def write_prediction_log(frame: pd.DataFrame, directory: Path, features: list[str], ids: list[str]) -> Path:
    """``frame``'s rows as one prediction-log file in ``directory`` (emptied first), written by the service's own
    :class:`LineRenderer` in requests of 50 rows; no scores (``null``), so the drift check scores the window with
    the model. Returns ``directory``."""
    if directory.exists():
        for old in directory.iterdir():
            old.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    render = LineRenderer("model-v1", features, ids, threshold=0.5, negative_class=0, positive_class=1)
    with (directory / "predictions-20260301T000000-7.jsonl").open("w", encoding="utf-8") as handle:
        for start in range(0, len(frame), 50):
            rows = frame.iloc[start : start + 50]
            batch = ScoredBatch(1_772_323_200.0, str(start), [math.nan] * len(rows), plain_columns(rows[features]),
                                plain_columns(rows[ids]))  # fmt: skip
            handle.write(render(batch))
    return directory


def shifted(frame: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """Production moved: amounts three times larger, a new channel on 5% of the rows, 20% more missing distances."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    out["amount"] = out["amount"] * 3
    out["channel"] = out["channel"].astype(object).where(rng.random(len(out)) > 0.05, "crypto_kiosk")
    out["distance_from_home_km"] = out["distance_from_home_km"].where(rng.random(len(out)) > 0.2, np.nan)
    return out
