"""``gitops-ml drift`` on a fixture project whose real ``dvc repro`` wrote the reference: the test split passes, a
shifted window written as prediction logs is flagged with the shifted features named, bad input writes nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitops_ml import paths
from gitops_ml.config import load_params
from tests.support.projects import run

SHIFTED = ["amount", "channel", "distance_from_home_km"]


def drift(project: Path, window: Path | str, out: Path, *extra: str) -> tuple[int, str, str]:
    result = run(["gitops-ml", "drift", "--current", str(window), "--out-dir", str(out), *extra], project, check=False)
    return result.returncode, result.stdout, result.stderr


def write_logs(frame: pd.DataFrame, project: Path, directory: Path, files: int = 3) -> None:
    """``frame``'s rows as gzipped prediction-log files in the format of docs/monitoring.md (no scores: the
    features alone, so the model scores them)."""
    schema = load_params(project / "params.yaml").schema
    features = frame[schema.feature_names].astype(object)
    records = features.where(features.notna(), None).to_dict("records")
    directory.mkdir(parents=True)
    for part, chunk in enumerate(np.array_split(np.arange(len(records)), files)):
        with gzip.open(directory / f"predictions-20260301T00000{part}-7.jsonl.gz", "wt") as handle:
            for i in chunk:
                plain = {k: v.item() if isinstance(v, np.generic) else v for k, v in records[i].items()}
                record = {"timestamp": "2026-03-01T00:00:00Z", "request_id": str(i), "model_version": "model-v1",
                          "score": None, "label": 0, "ids": {"transaction_id": int(i)}, "features": plain}  # fmt: skip
                handle.write(json.dumps(record) + "\n")


def shifted(test: pd.DataFrame) -> pd.DataFrame:
    """Larger amounts, a new channel for 5% of the rows and 20% more missing distances."""
    frame = test.copy()
    rng = np.random.default_rng(3)
    frame["amount"] = frame["amount"] * 3
    frame["channel"] = frame["channel"].astype(object).where(rng.random(len(frame)) > 0.05, "crypto_kiosk")
    frame["distance_from_home_km"] = frame["distance_from_home_km"].where(rng.random(len(frame)) > 0.2, np.nan)
    return frame


@pytest.mark.slow
def test_the_test_split_does_not_drift_and_a_shifted_log_window_does(pipeline_project: Path, tmp_path: Path) -> None:
    test = pd.read_parquet(pipeline_project / paths.TEST)
    test.to_csv(tmp_path / "unshifted.csv", index=False)
    code, stdout, stderr = drift(pipeline_project, tmp_path / "unshifted.csv", tmp_path / "calm")
    assert code == 0, stderr
    assert stdout.strip().splitlines()[-1] == "drift=false"
    calm = json.loads((tmp_path / "calm" / "drift.json").read_text())
    assert calm["drift"] is False and calm["drifted"] == []
    assert calm["window"]["rows"] == len(test) and calm["window"]["score_source"] == "model"
    assert "**✅ no drift**" in (tmp_path / "calm" / "drift.md").read_text()

    write_logs(shifted(test), pipeline_project, tmp_path / "logs")
    code, stdout, stderr = drift(pipeline_project, tmp_path / "logs", tmp_path / "alarm")
    assert code == 0, stderr  # drift is a finding, not a failure: the workflow decides
    assert stdout.strip().splitlines()[-1] == "drift=true"
    alarm = json.loads((tmp_path / "alarm" / "drift.json").read_text())
    assert alarm["drift"] is True
    drifted_features = [name for name in alarm["drifted"] if name != "predicted score"]
    assert drifted_features == SHIFTED
    by_name = {f["name"]: f for f in alarm["features"]}
    assert [u["category"] for u in by_name["channel"]["unseen"]] == ["crypto_kiosk"]
    assert {c["statistic"] for c in by_name["distance_from_home_km"]["crossed"]} == {"missing_rate"}
    assert alarm["window"]["files"] == 3 and alarm["model_version"] == "model-v1"
    markdown = (tmp_path / "alarm" / "drift.md").read_text()
    assert "**⚠️ drift**" in markdown and "- `channel`: `crypto_kiosk`" in markdown
    assert "drift in amount, channel, distance_from_home_km" in stderr


@pytest.mark.slow
def test_fail_on_drift_exits_3_after_writing_the_report(pipeline_project: Path, tmp_path: Path) -> None:
    frame = pd.read_parquet(pipeline_project / paths.TEST).head(1000)
    frame.assign(amount=frame["amount"] * 3, score=0.5).to_parquet(tmp_path / "window.parquet")
    code, stdout, _ = drift(pipeline_project, tmp_path / "window.parquet", tmp_path / "out", "--fail-on-drift")
    assert code == 3
    assert stdout.strip().splitlines()[-1] == "drift=true"
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert report["window"]["score_source"] == "window"  # the window's own scores, all 0.5: the score drifts too
    assert report["drifted"] == ["amount", "predicted score"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("small", "has 100 record(s); monitor.min_window_rows in params.yaml requires at least 500"),
        ("no hour", "lacks feature column(s) hour of schema.columns in params.yaml"),
        ("text amount", "amount: 1 value(s) is not a finite number: 'a lot'"),
        ("missing", "does not exist"),
    ],
)
def test_bad_input_says_why_and_writes_nothing(
    pipeline_project: Path, tmp_path: Path, change: str, message: str
) -> None:
    frame = pd.read_parquet(pipeline_project / paths.TEST).head(1000)
    if change == "small":
        frame = frame.head(100)
    elif change == "no hour":
        frame = frame.drop(columns=["hour"])
    elif change == "text amount":
        frame = frame.astype({"amount": object})
        frame.loc[5, "amount"] = "a lot"
    window = tmp_path / "window.csv"
    if change != "missing":
        frame.to_csv(window, index=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "drift.json").write_text("the previous report")
    code, stdout, stderr = drift(pipeline_project, window, out)
    assert code == 1
    assert message in stderr
    assert "Traceback" not in stderr and stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["drift.json"]  # no drift.md, no temporary files
    assert (out / "drift.json").read_text() == "the previous report"
