"""The whole comparison on constructed data: an unshifted window passes, each kind of shift is flagged on the
shifted feature only, thresholds switch checks on and off, and the report survives its JSON round trip; the
prediction of each task (real models) is compared, and datetime features are listed as not checked."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from gitops_ml.config import ColumnSpec, ColumnType, DriftThresholds, MonitorParams, SchemaParams
from gitops_ml.io import dump_json
from gitops_ml.monitoring.drift import (
    MAX_CATEGORIES,
    SCORE_NAME,
    DriftReport,
    PreparedReference,
    ReferenceOrigin,
    compare,
)
from gitops_ml.monitoring.reference import SCORE_COLUMN, build_reference, prediction_values
from gitops_ml.monitoring.window import RawWindow, check_window
from gitops_ml.pipeline.interface import score_frame
from gitops_ml.tasks import Task
from tests.support.task_models import CLASSES, fitted_model, task_rows, task_schema

SCHEMA = SchemaParams(
    target="y",
    columns={
        "amount": ColumnSpec(type=ColumnType.FLOAT, nullable=True),
        "count": ColumnSpec(type=ColumnType.INT),
        "channel": ColumnSpec(type=ColumnType.CATEGORY, categories=["web", "shop", "phone"]),
        "flag": ColumnSpec(type=ColumnType.BOOL),
    },
)
MONITOR = MonitorParams()


def rows(n: int, seed: int) -> pd.DataFrame:
    """Raw rows as a window holds them, from one fixed distribution."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3, 1, n)
    amount[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "amount": amount,
            "count": rng.poisson(2, n),
            "channel": rng.choice(["web", "shop", "phone"], size=n, p=[0.6, 0.3, 0.1]),
            "flag": rng.random(n) < 0.5,
        }
    )


def scores_of(frame: pd.DataFrame) -> np.ndarray:
    """A fixed stand-in for a model: the score rises with the amount and the count."""
    z = -4 + 0.01 * frame["amount"].fillna(20).to_numpy() + 0.3 * frame["count"].to_numpy()
    return 1 / (1 + np.exp(-z))


@pytest.fixture(scope="module")
def reference() -> PreparedReference:
    train = rows(10_000, seed=1)
    frame = check_window(RawWindow(train, "train", 1), SCHEMA, 1).features
    frame[SCORE_COLUMN] = scores_of(train)
    return PreparedReference(frame, SCHEMA, MONITOR.bins, "reference.parquet")


def check(
    reference: PreparedReference,
    frame: pd.DataFrame,
    monitor: MonitorParams = MONITOR,
    scores: np.ndarray | None = None,
) -> DriftReport:
    window = check_window(RawWindow(frame, "window.csv", 1), SCHEMA, monitor.min_window_rows)
    return compare(reference, window, monitor, scores_of(frame) if scores is None else scores, "window")


def crossed(report: DriftReport, name: str) -> set[str]:
    feature = next(f for f in [*report.features, report.score] if f is not None and f.name == name)
    return {c.statistic for c in feature.crossed}


def test_an_unshifted_window_does_not_drift(reference: PreparedReference) -> None:
    report = check(reference, rows(1000, seed=2))
    assert report.drift is False and report.drifted == []
    assert all(not f.drift and f.crossed == [] for f in report.features)
    assert report.score is not None and not report.score.drift
    assert [f.name for f in report.features] == ["amount", "count", "channel", "flag"]
    assert [f.kind for f in report.features] == ["numeric", "numeric", "category", "category"]


def test_larger_amounts_drift_on_amount_and_the_score(reference: PreparedReference) -> None:
    frame = rows(1000, seed=3)
    frame["amount"] *= 2
    report = check(reference, frame)
    assert report.drifted == ["amount", SCORE_NAME]
    assert {"psi", "wasserstein", "ks"} <= crossed(report, "amount")
    amount = report.features[0]
    assert amount.wasserstein is not None and amount.wasserstein > 0.2
    assert amount.missing_change == pytest.approx(amount.missing_window - amount.missing_reference, abs=1e-6)


def test_a_new_category_is_flagged_and_named(reference: PreparedReference) -> None:
    frame = rows(1000, seed=4)
    frame.loc[:49, "channel"] = "kiosk"
    report = check(reference, frame)
    assert report.drifted == ["channel"]
    channel = report.features[2]
    assert "unseen_share" in crossed(report, "channel")
    assert channel.unseen_share == pytest.approx(0.05)
    assert [(u.category, u.count) for u in channel.unseen] == [("kiosk", 50)]
    assert channel.unseen_total == 50
    assert channel.histogram.labels == ["web", "shop", "phone", "kiosk"]


def test_more_missing_values_drift_on_the_missing_share_alone(reference: PreparedReference) -> None:
    frame = rows(1000, seed=5)
    frame.loc[frame.index[:200], "amount"] = np.nan
    report = check(reference, frame)
    assert report.drifted == ["amount"]
    assert crossed(report, "amount") == {"missing_rate"}
    assert report.features[0].missing_change > 0.15


def test_a_changed_mix_of_a_boolean_drifts(reference: PreparedReference) -> None:
    frame = rows(1000, seed=6)
    frame["flag"] = np.arange(1000) % 10 != 0  # 90% true instead of 50%
    report = check(reference, frame)
    assert report.drifted == ["flag"]
    assert {"psi", "jensen_shannon"} <= crossed(report, "flag")
    assert sorted(report.features[3].histogram.labels) == ["false", "true"]


def test_the_score_drifts_on_its_own(reference: PreparedReference) -> None:
    frame = rows(1000, seed=7)
    report = check(reference, frame, scores=np.clip(scores_of(frame) * 3, 0, 1))
    assert report.drifted == [SCORE_NAME]
    assert report.score is not None and report.score.drift
    assert report.window.score_source == "window"


def test_thresholds_switched_off_are_not_checked(reference: PreparedReference) -> None:
    frame = rows(1000, seed=8)
    frame["amount"] *= 3
    off = DriftThresholds(
        psi=None, wasserstein=None, ks=None, jensen_shannon=None, missing_rate=None, unseen_share=None
    )
    report = check(reference, frame, MonitorParams(thresholds=off))
    assert report.drift is False
    assert report.features[0].psi is not None and report.features[0].psi > 0.5  # still measured and reported
    only_ks = MonitorParams(thresholds=off.model_copy(update={"ks": 0.15}))
    assert crossed(check(reference, frame, only_ks), "amount") == {"ks"}


def test_the_report_survives_its_json_round_trip(reference: PreparedReference) -> None:
    frame = rows(1000, seed=9)
    frame.loc[:9, "channel"] = ["a|b", "`tick`", "x" * 500, *["new"] * 7]
    report = check(reference, frame)
    text = dump_json(report.model_dump(mode="json"))
    again = DriftReport.model_validate_json(text)
    assert again == report
    data = json.loads(text)
    assert data["drift"] is True and data["window"]["rows"] == 1000
    assert data["thresholds"]["psi"] == MONITOR.thresholds.psi
    assert data["reference"] == {
        "path": "reference.parquet", "rows": 10_000, "chosen_by": "workspace", "commit": None, "model_version": None,
        "read_from": "workspace", "note": None,
    }  # fmt: skip
    assert max(len(u["category"]) for u in data["features"][2]["unseen"]) <= 60  # long values are shortened


def test_many_categories_are_summed_into_one_bar(reference: PreparedReference) -> None:
    frame = rows(1000, seed=10)
    frame["channel"] = [f"c{i % 40}" for i in range(1000)]
    channel = check(reference, frame).features[2]
    assert len(channel.histogram.labels) == MAX_CATEGORIES
    assert channel.histogram.labels[-1].endswith("others)")
    assert sum(channel.histogram.window) == pytest.approx(1.0, abs=1e-4)
    assert channel.unseen_total == 1000 and len(channel.unseen) == 10


def test_the_report_records_which_model_it_compared_with(reference: PreparedReference) -> None:
    window = check_window(RawWindow(rows(1000, seed=11), "window.csv", 1), SCHEMA, MONITOR.min_window_rows)
    origin = ReferenceOrigin(
        chosen_by="window", commit="a" * 40, model_version="model-v1", read_from="cache", note="why not"
    )
    report = compare(reference, window, MONITOR, None, "off", origin)
    assert report.reference.model_dump(exclude={"path", "rows"}) == origin.model_dump()
    with pytest.raises(ValidationError, match="commit"):  # a commit is 40 lowercase hex digits, nothing else
        ReferenceOrigin(chosen_by="window", commit="HEAD", model_version=None, read_from="cache")
    with pytest.raises(ValidationError, match="chosen_by"):
        ReferenceOrigin(chosen_by="newest", commit=None, model_version=None, read_from="cache")  # type: ignore[arg-type]


# --- the prediction of each task, and datetime columns ---


@pytest.fixture(scope="module")
def task_references() -> dict[Task, tuple[PreparedReference, Any]]:
    """Per task: the prepared reference of 3,000 training rows and the real model that scored them."""
    prepared = {}
    for task in (Task.MULTICLASS, Task.REGRESSION):
        schema = task_schema(task)
        train = task_rows(schema, 3000, seed=1)
        model = fitted_model(schema, train)
        prepared[task] = (PreparedReference(build_reference(train, model, schema), schema, MONITOR.bins), model)
    return prepared


def task_check(prepared: tuple[PreparedReference, Any], frame: pd.DataFrame) -> DriftReport:
    reference, model = prepared
    schema = reference.schema
    window = check_window(RawWindow(frame, "window.csv", 1), schema, MONITOR.min_window_rows)
    return compare(reference, window, MONITOR, score_frame(model, frame, schema), "model")


@pytest.mark.parametrize(("task", "name"), [(Task.MULTICLASS, "predicted class"), (Task.REGRESSION, "predicted value")])
def test_the_tasks_prediction_is_checked_and_drifts_with_its_inputs(
    task: Task, name: str, task_references: Any
) -> None:
    prepared = task_references[task]
    schema = prepared[0].schema
    calm = task_check(prepared, task_rows(schema, 1000, seed=2))
    assert calm.drift is False and calm.task == task.value
    assert calm.score is not None and calm.score.name == name and not calm.score.drift
    moved = task_rows(schema, 1000, seed=3)
    moved["amount"] *= 4  # larger amounts: the model predicts higher classes or values
    report = task_check(prepared, moved)
    assert report.drifted[-1] == name and "amount" in report.drifted
    assert report.score is not None and report.score.drift


def test_a_multiclass_prediction_compares_the_shares_of_every_class(task_references: Any) -> None:
    reference, model = task_references[Task.MULTICLASS]
    frame = task_rows(reference.schema, 1000, seed=4)
    window = check_window(RawWindow(frame, "window.csv", 1), reference.schema, MONITOR.min_window_rows)
    only_high = np.array(["high"] * 1000, dtype=object)  # the window's own predictions: one class, all of them
    report = compare(reference, window, MONITOR, only_high, "window")
    predicted = report.score
    assert predicted is not None and predicted.kind == "category"
    assert {"psi", "jensen_shannon"} <= {c.statistic for c in predicted.crossed}
    assert sorted(predicted.histogram.labels) == sorted(CLASSES) and predicted.unseen_total == 0
    assert predicted.histogram.window[predicted.histogram.labels.index("high")] == 1.0
    assert report.drifted == ["predicted class"]
    logged = prediction_values(reference.schema, score_frame(model, frame, reference.schema))  # as the log has it
    own = compare(reference, window, MONITOR, logged, "window")
    assert own.score is not None and not own.score.drift


def test_a_class_the_training_rows_never_got_is_not_unseen() -> None:
    schema = task_schema(Task.MULTICLASS)
    frame = pd.DataFrame({name: [1.0] * 600 for name in ("amount", "count", "flag")} | {"channel": ["web"] * 600})
    frame["__predicted_class__"] = ["low", "mid"] * 300  # the reference never predicted "high"
    reference = PreparedReference(frame, schema, MONITOR.bins)
    window = check_window(RawWindow(frame.drop(columns="__predicted_class__"), "w", 1), schema, 500)
    predicted = compare(reference, window, MONITOR, np.array(["low", "high"] * 300, dtype=object), "window").score
    assert predicted is not None and predicted.unseen_total == 0 and predicted.unseen_share == 0
    assert "high" in predicted.histogram.labels and predicted.drift  # its share moved from 0 to a half


def test_datetime_features_are_listed_as_not_checked(reference: PreparedReference) -> None:
    dated = SCHEMA.model_copy(update={"columns": SCHEMA.columns | {"signup": ColumnSpec(type=ColumnType.DATETIME)}})
    prepared = PreparedReference(reference.frame, dated, MONITOR.bins)  # the reference has no datetime column
    frame = rows(1000, seed=12).assign(signup="2031-01-01")  # every date new: no drift reported for it
    window = check_window(RawWindow(frame, "window.csv", 1), dated, MONITOR.min_window_rows)
    report = compare(prepared, window, MONITOR, scores_of(frame), "window")
    assert [f.name for f in report.features] == ["amount", "count", "channel", "flag"]
    assert [(n.name, n.reason.split(":")[0]) for n in report.not_checked] == [("signup", "datetime")]
    assert report.drift is False
    assert DriftReport.model_validate_json(report.model_dump_json()) == report


def test_a_version_2_report_still_reads_as_a_binary_one() -> None:
    from tests.support.drift_reports import drift_report

    old = DriftReport.model_validate(drift_report(True, ("amount",)))
    assert (old.schema_version, old.task, old.not_checked) == (2, "binary", [])
    assert DriftReport.model_validate_json(old.model_dump_json()) == old
