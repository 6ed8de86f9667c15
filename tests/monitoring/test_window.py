"""Reading a window (prediction logs, globs, CSV, parquet) and checking it against the schema: every problem is one
message naming the file, line or column."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import ColumnSpec, ColumnType, SchemaParams
from gitops_ml.errors import DriftInputError
from gitops_ml.monitoring.window import Window, check_window, read_window
from gitops_ml.tasks import Task

SCHEMA = SchemaParams(
    target="y",
    ids=["id"],
    columns={
        "amount": ColumnSpec(type=ColumnType.FLOAT, nullable=True),
        "count": ColumnSpec(type=ColumnType.INT),
        "channel": ColumnSpec(type=ColumnType.CATEGORY, categories=["web", "shop"]),
        "flag": ColumnSpec(type=ColumnType.BOOL),
    },
)


def features(i: int) -> dict[str, Any]:
    return {"amount": 10.0 + i, "count": i % 5, "channel": "web" if i % 3 else "shop", "flag": i % 2 == 0}


def record(i: int, **changes: Any) -> dict[str, Any]:
    body = {
        "timestamp": f"2026-03-0{1 + i % 3}T12:00:00Z",
        "request_id": f"r{i}",
        "model_version": "model-v2",
        "score": 0.01 * (i % 100),
        "label": 0,
        "ids": {"id": i},
        "features": features(i),
    }
    return body | changes


def as_request(records: list[dict[str, Any]]) -> dict[str, Any]:
    """``records`` as the service logs one request: a line whose fields hold one list element per record."""
    first = records[0]
    return {
        "timestamp": first["timestamp"],
        "request_id": first["request_id"],
        "model_version": first["model_version"],
        "score": [r["score"] for r in records],
        "label": [r["label"] for r in records],
        "ids": {name: [r["ids"][name] for r in records] for name in first["ids"]},
        "features": {name: [r["features"][name] for r in records] for name in first["features"]},
    }


def requests(records: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    return [as_request(records[start : start + size]) for start in range(0, len(records), size)]


def write_log(path: Path, records: list[dict[str, Any]], tail: str = "") -> Path:
    text = "".join(json.dumps(r) + "\n" for r in records) + tail
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def checked(path: Path | str, min_rows: int = 1) -> Window:
    return check_window(read_window(str(path), SCHEMA.columns), SCHEMA, min_rows)


def refused(path: Path | str, min_rows: int = 1) -> str:
    with pytest.raises(DriftInputError) as error:
        checked(path, min_rows)
    return str(error.value)


def test_a_directory_of_plain_and_gzipped_logs_is_one_window(tmp_path: Path) -> None:
    logs = tmp_path / "logs"  # a line per request of 7 records, as the service writes; then a record per line
    write_log(logs / "predictions-20260301T000000-1.jsonl", requests([record(i) for i in range(30)], 7))
    write_log(logs / "predictions-20260302T000000-1.jsonl.gz", [record(i) for i in range(30, 50)])
    (logs / "notes.txt").write_text("not a log")  # a directory's other files are not part of the window
    window = checked(logs)
    assert window.rows == 50 and window.files == 2 and window.skipped_lines == 0
    assert window.features.columns.tolist() == ["amount", "count", "channel", "flag"]
    assert window.features["amount"].tolist() == [10.0 + i for i in range(50)]
    assert window.features["flag"].tolist() == [1.0 if i % 2 == 0 else 0.0 for i in range(50)]
    assert window.features["channel"].iloc[0] == "shop"
    assert window.prediction is not None and window.prediction[:3].tolist() == [0.0, 0.01, 0.02]
    assert window.model_versions == ["model-v2"]
    assert window.first_timestamp == "2026-03-01T12:00:00+00:00"
    assert window.last_timestamp == "2026-03-03T12:00:00+00:00"


def test_a_glob_picks_the_files_it_matches(tmp_path: Path) -> None:
    write_log(tmp_path / "predictions-a.jsonl", [record(i) for i in range(10)])
    write_log(tmp_path / "predictions-b.jsonl", [record(i) for i in range(5)])
    write_log(tmp_path / "other.jsonl", [record(i) for i in range(7)])
    assert checked(tmp_path / "predictions-*.jsonl").rows == 15


def test_the_request_being_written_is_skipped_and_counted(tmp_path: Path) -> None:
    half = json.dumps(as_request([record(10), record(11)]))[:-20]
    path = write_log(tmp_path / "live.jsonl", requests([record(i) for i in range(10)], 4), tail=half)
    window = checked(path)
    assert window.rows == 10 and window.skipped_lines == 1


def test_a_malformed_record_names_its_file_and_line(tmp_path: Path) -> None:
    path = write_log(tmp_path / "bad.jsonl", [record(0)], tail="{oops\n" + json.dumps(record(2)) + "\n")
    message = refused(path)
    assert f"{path}:2: not a JSON line" in message
    no_features = write_log(tmp_path / "nofeatures.jsonl", [record(0), {"score": 0.5}])
    assert f"{no_features}:2: a prediction-log line needs a 'features' object" in refused(no_features)


def test_a_request_line_whose_columns_do_not_match_its_scores_names_the_column(tmp_path: Path) -> None:
    short = as_request([record(i) for i in range(3)])
    short["features"]["count"] = short["features"]["count"][:2]
    path = write_log(tmp_path / "short.jsonl", [as_request([record(9)]), short])
    message = refused(path)
    assert f"{path}:2: 'features.count' must be a list of 3 values, one per record" in message
    scalar = as_request([record(i) for i in range(2)])
    scalar["ids"]["id"] = 7
    assert "'ids.id' must be a list of 2 values" in refused(write_log(tmp_path / "scalar.jsonl", [scalar]))


def test_csv_and_parquet_windows_with_and_without_a_score(tmp_path: Path) -> None:
    frame = pd.DataFrame([features(i) for i in range(20)])
    frame.to_csv(tmp_path / "window.csv", index=False)
    csv = checked(tmp_path / "window.csv")
    assert csv.rows == 20 and csv.prediction is None and csv.model_versions == []
    frame.assign(score=np.linspace(0, 1, 20), model_version="model-v3").to_parquet(tmp_path / "window.parquet")
    parquet = checked(tmp_path / "window.parquet")
    assert parquet.prediction is not None and parquet.prediction[-1] == 1.0
    assert parquet.model_versions == ["model-v3"]
    assert parquet.features["flag"].tolist() == csv.features["flag"].tolist()


def test_boolean_spellings_and_null_values_are_accepted(tmp_path: Path) -> None:
    spellings = ["true", "False", 1, 0, "1", True]
    records = [record(i, features=features(i) | {"flag": f, "amount": None}) for i, f in enumerate(spellings)]
    window = checked(write_log(tmp_path / "w.jsonl", records))
    assert window.features["flag"].tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    assert window.features["amount"].isna().all()


def test_values_outside_the_schema_are_drift_not_errors(tmp_path: Path) -> None:
    records = [record(i, features=features(i) | {"channel": "kiosk", "amount": -1e6}) for i in range(5)]
    window = checked(write_log(tmp_path / "w.jsonl", records))
    assert window.features["channel"].tolist() == ["kiosk"] * 5
    assert window.features["amount"].tolist() == [-1e6] * 5


def test_wrong_types_are_refused_column_by_column(tmp_path: Path) -> None:
    records = [record(i) for i in range(10)]
    records[3]["features"]["amount"] = "lots"
    records[4]["features"]["count"] = True
    records[5]["features"]["flag"] = "maybe"
    records[6]["features"]["channel"] = {"nested": 1}
    records[7]["score"] = 1.5
    message = refused(write_log(tmp_path / "w.jsonl", records))
    assert "values of the wrong type for schema.columns in params.yaml" in message
    assert "amount: 1 value(s) is not a finite number: 'lots'" in message
    assert "count: 1 value(s) is not a finite number: True" in message
    assert "flag: 1 value(s) is not a boolean (true/false or 1/0): 'maybe'" in message
    assert "channel: 1 value(s) is not a category value (text): {'nested': 1}" in message
    assert "score: 1 value(s) are not a probability in [0, 1]: 1.5" in message


def test_missing_feature_columns_are_named(tmp_path: Path) -> None:
    pd.DataFrame([features(i) for i in range(5)]).drop(columns=["count", "flag"]).to_csv(tmp_path / "w.csv")
    message = refused(tmp_path / "w.csv")
    assert "lacks feature column(s) count, flag of schema.columns in params.yaml" in message


def test_a_window_under_the_minimum_is_refused(tmp_path: Path) -> None:
    path = write_log(tmp_path / "w.jsonl", [record(i) for i in range(9)])
    message = refused(path, min_rows=10)
    assert "has 9 record(s); monitor.min_window_rows in params.yaml requires at least 10" in message


def test_unreadable_and_absent_windows(tmp_path: Path) -> None:
    assert "does not exist" in refused(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert "holds no files" in refused(tmp_path / "empty")
    assert "matches no files" in refused(tmp_path / "*.jsonl")
    (tmp_path / "w.txt").write_text("hello")
    assert "unknown kind of file" in refused(tmp_path / "w.txt")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    assert "broken.parquet: cannot be read as parquet" in refused(tmp_path / "broken.parquet")
    (tmp_path / "broken.jsonl.gz").write_bytes(b"not gzip")
    assert "broken.jsonl.gz: cannot be read as a prediction log" in refused(tmp_path / "broken.jsonl.gz")
    assert "cannot open the window 'nope://x'" in refused("nope://x")


# --- the prediction of each task, and datetime columns ---


def task_window(tmp_path: Path, schema: SchemaParams, lines: list[dict[str, Any]]) -> Window | str:
    """The checked window of ``lines`` for ``schema``, or the refusal's message."""
    path = write_log(tmp_path / f"{schema.task.value}.jsonl", lines)
    try:
        return check_window(read_window(str(path), [*schema.columns, schema.target]), schema, 1)
    except DriftInputError as error:
        return str(error)


def columnar(records: list[dict[str, Any]], **prediction: Any) -> dict[str, Any]:
    """A line of ``records`` (made by :func:`record`) with the given prediction fields instead of score and label."""
    line = {key: value for key, value in as_request(records).items() if key not in ("score", "label")}
    return line | prediction


def test_a_multiclass_window_predicts_classes_compared_as_text(tmp_path: Path) -> None:
    schema = SCHEMA.model_copy(update={"task": Task.MULTICLASS, "classes": [3, 7, 9], "positive_class": None,
                                       "negative_class": None})  # fmt: skip
    probabilities = {"3": [0.2, 0.7, 0.1], "7": [0.5, 0.2, 0.1], "9": [0.3, 0.1, 0.8]}
    lines = [
        columnar([record(i) for i in range(3)], label=[7, 3, 9], probabilities=probabilities),
        record(3, label=7, score=None),  # a hand-written line: one record
    ]
    window = task_window(tmp_path, schema, lines)
    assert isinstance(window, Window) and window.prediction is not None
    assert window.prediction.tolist() == ["7", "3", "9", "7"]
    lines[1] = record(3, label=8)
    assert "label: 1 value(s) are not a class of schema.classes (3, 7, 9): 8" in task_window(tmp_path, schema, lines)
    unlabelled = [columnar([record(i) for i in range(3)], label=[None, None, None])]
    assert task_window(tmp_path, schema, unlabelled).prediction is None  # type: ignore[union-attr]  # model scores


def test_a_regression_window_predicts_finite_values(tmp_path: Path) -> None:
    schema = SCHEMA.model_copy(update={"task": Task.REGRESSION, "positive_class": None, "negative_class": None})
    window = task_window(tmp_path, schema, [columnar([record(i) for i in range(3)], value=[1.5, -2.0, 1e6])])
    assert isinstance(window, Window) and window.prediction is not None
    assert window.prediction.tolist() == [1.5, -2.0, 1e6]
    bad = [columnar([record(i) for i in range(3)], value=[1.5, "high", None])]
    assert "value: 2 value(s) are not a finite number: 'high', None" in task_window(tmp_path, schema, bad)
    short = [columnar([record(i) for i in range(3)], value=[1.5])]
    assert "'value' must be a list of 3 values, one per record" in task_window(tmp_path, schema, short)


def test_a_tables_prediction_column_follows_the_task_and_never_takes_the_target(tmp_path: Path) -> None:
    multiclass = SCHEMA.model_copy(update={"task": Task.MULTICLASS, "classes": ["a", "b", "c"],
                                           "positive_class": None, "negative_class": None})  # fmt: skip
    frame = pd.DataFrame([features(i) for i in range(6)]).assign(label=list("abcabc"), score=0.5)
    frame.to_csv(tmp_path / "predicted.csv", index=False)
    read = read_window(str(tmp_path / "predicted.csv"), [*multiclass.columns, multiclass.target])
    assert check_window(read, multiclass, 1).prediction.tolist() == list("abcabc")  # type: ignore[union-attr]
    named_label = multiclass.model_copy(update={"target": "label"})  # a labelled window: the true class, not one
    read = read_window(str(tmp_path / "predicted.csv"), [*named_label.columns, named_label.target])
    assert check_window(read, named_label, 1).prediction is None


def test_datetime_columns_must_hold_iso_dates_and_are_kept_as_read(tmp_path: Path) -> None:
    schema = SCHEMA.model_copy(update={"columns": SCHEMA.columns | {"signup": ColumnSpec(type=ColumnType.DATETIME,
                                                                                          nullable=True)}})  # fmt: skip
    dates = ["2026-03-01", "2026-03-01 12:30:00", "2026-03-01T12:30:00Z", None]
    lines = [record(i, features=features(i) | {"signup": d}) for i, d in enumerate(dates)]
    window = task_window(tmp_path, schema, lines)
    assert isinstance(window, Window)
    assert window.features["signup"].tolist()[:3] == dates[:3] and pd.isna(window.features["signup"].iloc[3])
    lines[0]["features"]["signup"] = "01/03/2026"
    lines[1]["features"]["signup"] = 20260301
    message = task_window(tmp_path, schema, lines)
    assert "signup: 2 value(s) is not an ISO 8601 date or date and time: '01/03/2026', 20260301" in message
    table = pd.DataFrame([features(i) for i in range(3)]).assign(signup=pd.to_datetime(["2026-03-01"] * 3))
    table.to_parquet(tmp_path / "dated.parquet")
    assert checked_against(schema, tmp_path / "dated.parquet").features["signup"].notna().all()


def checked_against(schema: SchemaParams, path: Path) -> Window:
    return check_window(read_window(str(path), schema.columns), schema, 1)
