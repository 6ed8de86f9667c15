"""``reports/drift.json`` and ``drift.md`` as the drift check (``gitops-ml drift``) writes them, for tests.

STAND-IN until the drift command is merged: the drift issue and the monitoring rehearsal are built against the
drift check's output contract (top-level ``drift: true|false``, ``drifted``, per-feature statistics with the
thresholds crossed, window facts; a Markdown report with a table and Mermaid charts). Once ``gitops-ml drift`` is
on this branch, tests that need a real verdict on a real window should run it instead of :func:`write_drift_reports`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FEATURES = ("amount", "merchant_category", "hour", "country")


def drift_report(drift: bool, drifted: tuple[str, ...] = (), rows: int = 800, checked_at: str = "") -> dict[str, Any]:
    """A drift.json body: ``drifted`` features crossed their PSI threshold, the others did not."""
    drifted = drifted if drift else ()
    features = []
    for name in FEATURES:
        psi = 0.41 if name in drifted else 0.02
        features.append({
            "name": name, "kind": "numeric", "drift": name in drifted,
            "crossed": [{"statistic": "psi", "value": psi, "threshold": 0.2}] if name in drifted else [],
            "psi": psi, "wasserstein": 0.05, "ks": 0.03, "jensen_shannon": None,
            "missing_reference": 0.0, "missing_window": 0.0, "missing_change": 0.0,
            "unseen_share": None, "unseen": [], "unseen_total": 0,
            "histogram": {"labels": ["a", "b"], "reference": [0.5, 0.5], "window": [0.5, 0.5]},
        })  # fmt: skip
    return {
        "schema_version": 1,
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
        "reference": {"path": "artifacts/drift_reference.parquet", "rows": 15000},
        "thresholds": {
            "min_window_rows": 500,
            "bins": 10,
            "psi": 0.2,
            "wasserstein": 0.2,
            "ks": None,
            "jensen_shannon": 0.1,
            "missing_rate": 0.05,
            "unseen_share": 0.01,
        },
        "features": features,
        "score": None,
    }


def drift_markdown(report: dict[str, Any]) -> str:
    """A drift.md in the style of the PR report: verdict, a table, a Mermaid chart per drifted feature."""
    verdict = f"**Drift** in {', '.join(report['drifted'])}" if report["drift"] else "**No drift**"
    lines = ["## Drift check", "", f"{verdict} ({report['window']['rows']} records).", "",
             "| feature | PSI | drift |", "|---|---:|---|"]  # fmt: skip
    lines += [f"| `{f['name']}` | {f['psi']:.3f} | {'yes' if f['drift'] else 'no'} |" for f in report["features"]]
    for name in report["drifted"]:
        lines += ["", "```mermaid", "xychart-beta", f'  title "{name}"', "  bar [0.5, 0.5]", "  line [0.2, 0.8]", "```"]
    return "\n".join(lines) + "\n"


def write_drift_reports(folder: Path, drift: bool, drifted: tuple[str, ...] = (), **facts: Any) -> Path:
    """Write ``drift.json`` and ``drift.md`` into ``folder`` (made if missing); return ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    report = drift_report(drift, drifted, **facts)
    (folder / "drift.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (folder / "drift.md").write_text(drift_markdown(report))
    return folder
