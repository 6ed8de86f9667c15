"""Drift-check benchmark: false alarms on unshifted windows and detection of shifted ones, at the default thresholds.

In a temporary copy of the project on the built-in sample (``gitops-ml ensure-data``, ``dvc repro``, so the
reference is the one the DVC stage writes), windows are drawn with replacement from the test split: rows the
model never trained on, from the same distribution as the training split. Each window is checked in process by
the functions ``gitops-ml drift`` calls, with the thresholds of the project's params.yaml, and its scores are the
model's scores of its rows, as the service would log them.

- False-alarm rate: the share of unshifted windows the check calls drifted, at ``monitor.min_window_rows`` (the
  noisiest window the check accepts) and at a larger window. The goal is at most 5%.
- Detection rate: for each kind of shift and size, the share of shifted windows the check calls drifted *and*
  whose drifted features include the shifted one; also how many other features were named per window
  (the predicted score is not counted: it moves with its inputs).
- The command itself: ``gitops-ml drift`` on the whole test split written as gzipped prediction-log files.
"""

from __future__ import annotations

import gzip
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import WORK, copy_project, measure, sh
from gitops_ml import paths
from gitops_ml.config import Params, load_params
from gitops_ml.monitoring.drift import PreparedReference, compare
from gitops_ml.monitoring.reference import read_reference
from gitops_ml.monitoring.window import RawWindow, check_window
from gitops_ml.pipeline.interface import score_frame
from gitops_ml.serving.log_lines import LineRenderer, ScoredBatch, plain_columns

TARGET_FALSE_ALARM_RATE = 0.05
NEW_CATEGORY = "crypto_kiosk"
RECORDS_PER_REQUEST = 20
"""Records per line of the logged window (the service writes one line per request)."""


@dataclass(frozen=True)
class Shift:
    """One kind of change applied to a window: which feature, the sizes tried, and how a size changes the rows."""

    name: str
    feature: str
    sizes: tuple[float, ...]
    label: Callable[[float], str]
    apply: Callable[[pd.DataFrame, float, np.random.Generator], pd.DataFrame]


def _scale(column: str) -> Callable[[pd.DataFrame, float, np.random.Generator], pd.DataFrame]:
    def apply(frame: pd.DataFrame, size: float, rng: np.random.Generator) -> pd.DataFrame:
        return frame.assign(**{column: frame[column] * size})

    return apply


def _set_value(column: str, value: object) -> Callable[[pd.DataFrame, float, np.random.Generator], pd.DataFrame]:
    def apply(frame: pd.DataFrame, share: float, rng: np.random.Generator) -> pd.DataFrame:
        chosen = rng.random(len(frame)) < share  # each row with probability ``share``
        return frame.assign(**{column: frame[column].astype(object).where(~chosen, value)})

    return apply


SHIFTS = (
    Shift("larger amounts", "amount", (1.1, 1.25, 1.5, 2.0), lambda s: f"x{s:g}", _scale("amount")),
    Shift(
        "newer customers", "customer_tenure_days", (0.9, 0.75, 0.5), lambda s: f"x{s:g}", _scale("customer_tenure_days")
    ),
    Shift(
        "new category",
        "channel",
        (0.005, 0.01, 0.02, 0.05),
        lambda s: f"{s:.1%} {NEW_CATEGORY}",
        _set_value("channel", NEW_CATEGORY),
    ),
    Shift(
        "category mix",
        "merchant_category",
        (0.05, 0.1, 0.2),
        lambda s: f"{s:.0%} to electronics",
        _set_value("merchant_category", "electronics"),
    ),
    Shift(
        "more missing",
        "distance_from_home_km",
        (0.02, 0.05, 0.1),
        lambda s: f"+{s:.0%} missing",
        _set_value("distance_from_home_km", np.nan),
    ),
)


@dataclass
class Checker:
    """The project's reference, test split and model, and the check of one window of test rows."""

    params: Params
    reference: PreparedReference
    test: pd.DataFrame
    model: Any

    def check(self, rows: pd.DataFrame) -> tuple[bool, list[str]]:
        """(drift found, drifted names) for a window of raw rows, scored by the model as the service would."""
        schema = self.params.schema
        window = check_window(RawWindow(rows.reset_index(drop=True), "benchmark", 1), schema, 1)
        scores = score_frame(self.model, window.features, schema)
        report = compare(self.reference, window, self.params.monitor, scores, "model")
        return report.drift, report.drifted

    def sample(self, rows: int, rng: np.random.Generator) -> pd.DataFrame:
        """``rows`` rows of the test split, drawn with replacement."""
        return self.test.iloc[rng.integers(0, len(self.test), size=rows)]


def load_checker(project: Path) -> Checker:
    """The checker of a project whose pipeline (with the stage drift_reference) has run."""
    from gitops_ml.model_io import load_model

    params = load_params(project / "params.yaml")
    frame = read_reference(project / paths.DRIFT_REFERENCE, params.schema)
    reference = PreparedReference(frame, params.schema, params.monitor.bins, str(paths.DRIFT_REFERENCE))
    return Checker(params, reference, pd.read_parquet(project / paths.TEST), load_model(project / paths.MODEL))


def false_alarms(checker: Checker, rows: int, windows: int, seed: int) -> dict[str, Any]:
    """How often unshifted windows of ``rows`` test rows are called drifted, and by which features."""
    rng = np.random.default_rng(seed)
    alarms, named = 0, Counter[str]()
    for _ in range(windows):
        drift, drifted = checker.check(checker.sample(rows, rng))
        alarms += drift
        named.update(drifted)
    return {
        "window_rows": rows,
        "windows": windows,
        "alarms": alarms,
        "rate": alarms / windows,
        "by_feature": dict(named.most_common()),
    }


def detection(checker: Checker, shift: Shift, size: float, rows: int, windows: int, seed: int) -> dict[str, Any]:
    """How often windows with ``shift`` of ``size`` are called drifted with the shifted feature named."""
    rng = np.random.default_rng(seed)
    detected = flagged = others = 0
    for _ in range(windows):
        drift, drifted = checker.check(shift.apply(checker.sample(rows, rng), size, rng))
        flagged += drift
        detected += shift.feature in drifted
        others += len([n for n in drifted if n not in (shift.feature, "predicted score")])
    return {
        "shift": shift.name,
        "feature": shift.feature,
        "size": size,
        "label": shift.label(size),
        "window_rows": rows,
        "windows": windows,
        "detected": detected,
        "rate": detected / windows,
        "flagged_rate": flagged / windows,
        "other_features_per_window": others / windows,
    }


def write_log_window(rows: pd.DataFrame, params: Params, scores: np.ndarray, directory: Path, files: int) -> int:
    """Write ``rows`` (features, ids, scores) as gzipped prediction-log files, rendered by the service's own
    :class:`LineRenderer` in requests of :data:`RECORDS_PER_REQUEST` rows."""
    directory.mkdir(parents=True, exist_ok=True)
    schema = params.schema
    render = LineRenderer(
        "bench", schema.feature_names, schema.ids, params.evaluate.threshold, schema.negative_class,
        schema.positive_class,
    )  # fmt: skip
    for part, chunk in enumerate(np.array_split(np.arange(len(rows)), files)):
        name = directory / f"predictions-20260101T{part:06d}-1.jsonl.gz"
        with gzip.open(name, "wt", encoding="utf-8") as handle:
            for start in range(0, len(chunk), RECORDS_PER_REQUEST):
                at = chunk[start : start + RECORDS_PER_REQUEST]
                request = rows.iloc[at]
                features, ids = plain_columns(request[schema.feature_names]), plain_columns(request[schema.ids])
                handle.write(
                    render(ScoredBatch(1_767_225_600.0 + int(at[0]), f"bench-{at[0]}", scores[at], features, ids))
                )
    return len(rows)


def bench(quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    """Set up the project, then measure false alarms, detection and the command's wall time."""
    base = WORK / "drift"
    project = copy_project(base / "project", base / "cache")
    say("drift: ensure-data and dvc repro (the reference is the stage's output)")
    sh(["gitops-ml", "ensure-data"], project)
    sh(["dvc", "repro"], project)
    checker = load_checker(project)
    monitor = checker.params.monitor
    null_windows = 200 if quick else 500
    shifted_windows = 25 if quick else 100
    sizes = [monitor.min_window_rows] if quick else [monitor.min_window_rows, 4 * monitor.min_window_rows]
    started = time.perf_counter()
    alarms = []
    for i, rows in enumerate(sizes):
        say(f"drift: {null_windows} unshifted windows of {rows} rows")
        alarms.append(false_alarms(checker, rows, null_windows, seed=i))
    say(f"drift: {sum(len(s.sizes) for s in SHIFTS)} shifts x {shifted_windows} windows of {sizes[0]} rows")
    detections = [
        detection(checker, shift, size, sizes[0], shifted_windows, seed=100 + j)
        for j, (shift, size) in enumerate((s, z) for s in SHIFTS for z in s.sizes)
    ]
    checks = null_windows * len(sizes) + shifted_windows * len(detections)
    per_check_s = (time.perf_counter() - started) / checks
    log_dir = base / "window"
    log_rows = checker.test if quick else checker.sample(10 * len(checker.test), np.random.default_rng(7))
    scores = score_frame(checker.model, log_rows, checker.params.schema)
    records = write_log_window(log_rows.reset_index(drop=True), checker.params, scores, log_dir, files=5)
    say(f"drift: gitops-ml drift on {records} logged records")
    command = measure(["gitops-ml", "drift", "--current", str(log_dir), "--out-dir", str(base / "reports")], project)
    first = alarms[0]
    return {
        "reference_rows": checker.reference.rows,
        "test_rows": len(checker.test),
        "thresholds": monitor.model_dump(mode="json"),
        "false_alarms": alarms,
        "detection": detections,
        "in_process_check_ms": round(per_check_s * 1000, 1),
        "command": {
            "records": records,
            "files": 5,
            "wall_s": round(command.wall_s, 2),
            "stdout": command.stdout[-300:],
        },
        "target": {
            "window_rows": first["window_rows"],
            "windows": first["windows"],
            "rate": first["rate"],
            "limit": TARGET_FALSE_ALARM_RATE,
            "met": first["rate"] <= TARGET_FALSE_ALARM_RATE,
        },
    }
