"""The data contract: good data passes typed; each kind of bad data is named with its column and row count."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.config import Params, SchemaParams
from gitops_ml.pipeline.validate import (
    DataContractError,
    check_frame,
    check_rows,
    check_window,
    dataset_files,
    describe_summary,
    read_raw,
    run_validate,
)
from tests.support.task_data import WEATHER_CLASSES, cars_table, weather_table


def contract_error(frame: pd.DataFrame, params: Params) -> str:
    with pytest.raises(DataContractError) as info:
        check_frame(frame, params.schema)
    return str(info.value)


def test_good_data_passes_with_schema_types(typed_frame: pd.DataFrame, params: Params) -> None:
    assert list(typed_frame.columns) == [*params.schema.ids, *params.schema.feature_names, "is_fraud"]
    assert str(typed_frame["hour"].dtype) == "Int64"
    assert str(typed_frame["card_present"].dtype) == "boolean"
    assert typed_frame["customer_tenure_days"].isna().any()


def test_each_bad_column_is_reported_with_its_count(raw_frame: pd.DataFrame, params: Params) -> None:
    bad = raw_frame.copy()
    bad.loc[:4, "amount"] = -5.0
    bad["hour"] = bad["hour"].astype(object)
    bad.loc[10:12, "hour"] = "noon"
    bad.loc[20, "channel"] = "carrier pigeon"
    bad["card_present"] = bad["card_present"].astype(object)
    bad.loc[30, "card_present"] = "maybe"
    bad.loc[31:40, "country"] = None
    message = contract_error(bad, params)
    assert "amount: 5 bad row(s), check greater_than_or_equal_to(0.0)" in message
    assert "hour: 3 bad row(s), check is a number" in message
    assert "channel: 1 bad row(s), check isin" in message and "'carrier pigeon'" in message
    assert "card_present: 1 bad row(s), check is a boolean" in message
    assert "country: 10 bad row(s), check not_nullable" in message
    assert "schema.columns in params.yaml" in message


def test_fractional_int_and_bad_target(raw_frame: pd.DataFrame, params: Params) -> None:
    bad = raw_frame.copy()
    bad["transactions_last_24h"] = bad["transactions_last_24h"].astype(float)
    bad.loc[0, "transactions_last_24h"] = 2.5
    bad.loc[1:2, "is_fraud"] = 7
    message = contract_error(bad, params)
    assert "transactions_last_24h: 1 bad row(s), check is_whole_number (e.g. 2.5)" in message
    assert "is_fraud: 2 bad row(s), check is 1 (positive) or 0 (negative) (e.g. 7)" in message


def test_missing_column_is_named(raw_frame: pd.DataFrame, params: Params) -> None:
    message = contract_error(raw_frame.drop(columns=["country"]), params)
    assert "missing column(s) the schema requires: country" in message


def test_whole_number_floats_pass_as_integers(raw_frame: pd.DataFrame, params: Params) -> None:
    """A client's pandas holds an int column with gaps as floats: 1175.0 is the integer 1175, in training too."""
    floats = raw_frame.assign(customer_tenure_days=raw_frame["customer_tenure_days"].astype("float64"))
    floats.loc[0, "customer_tenure_days"] = 1175.0
    typed = check_frame(floats, params.schema)
    assert typed.loc[0, "customer_tenure_days"] == 1175
    assert str(typed["customer_tenure_days"].dtype) == "Int64"
    floats.loc[0, "customer_tenure_days"] = 1175.5
    assert "customer_tenure_days: 1 bad row(s), check is_whole_number (e.g. 1175.5)" in contract_error(floats, params)


def test_ids_are_required_and_kept_but_never_checked(raw_frame: pd.DataFrame, params: Params) -> None:
    assert params.schema.ids == ["transaction_id"]
    message = contract_error(raw_frame.drop(columns=["transaction_id"]), params)
    assert "missing column(s) the schema requires: transaction_id" in message
    odd_ids = raw_frame.assign(transaction_id=[f"tx-{i}" if i % 2 else None for i in range(len(raw_frame))])
    typed = check_frame(odd_ids, params.schema)
    assert typed["transaction_id"].tolist() == odd_ids["transaction_id"].tolist()


@pytest.mark.parametrize(
    ("positive", "negative", "raw"),
    [("yes", "no", ["no", "yes"]), (True, False, [False, True]), (1, 0, [0.0, 1.0])],
    ids=["labels", "booleans", "floats"],
)
def test_target_classes_map_to_0_and_1(
    raw_frame: pd.DataFrame, params: Params, positive: object, negative: object, raw: list
) -> None:
    schema = params.schema.model_copy(update={"positive_class": positive, "negative_class": negative})
    frame = raw_frame.assign(is_fraud=[raw[v] for v in raw_frame["is_fraud"]])
    typed = check_frame(frame, schema)
    assert typed["is_fraud"].tolist() == raw_frame["is_fraud"].tolist()
    assert str(typed["is_fraud"].dtype) == "int64"
    frame["is_fraud"] = frame["is_fraud"].astype(object)
    frame.loc[3, "is_fraud"] = "maybe"
    message = contract_error_for(frame, schema)
    assert f"is_fraud: 1 bad row(s), check is {positive!r} (positive) or {negative!r} (negative)" in message


def contract_error_for(frame: pd.DataFrame, schema: object) -> str:
    with pytest.raises(DataContractError) as info:
        check_frame(frame, schema)  # type: ignore[arg-type]
    return str(info.value)


def test_parquet_is_read_by_its_suffix(tmp_path: Path, raw_frame: pd.DataFrame, params: Params) -> None:
    raw = tmp_path / "raw.parquet"
    raw_frame.to_parquet(raw, index=False)
    summary = run_validate(raw, params.schema, tmp_path / "v.parquet", tmp_path / "s.json")
    assert summary["rows"] == len(raw_frame)
    (tmp_path / "bad.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataContractError, match="not a readable parquet file"):
        read_raw(tmp_path / "bad.parquet")


def test_too_few_rows_and_wrong_balance(raw_frame: pd.DataFrame, params: Params) -> None:
    assert "requires at least 1000" in contract_error(raw_frame.head(50), params)
    no_fraud = raw_frame.assign(is_fraud=0)
    assert "positive rate 0.0000 is outside" in contract_error(no_fraud, params)


def test_failed_validation_writes_nothing(tmp_path: Path, raw_frame: pd.DataFrame, params: Params) -> None:
    raw = tmp_path / "raw.csv"
    raw_frame.assign(amount=-1.0).to_csv(raw, index=False)
    out, summary = tmp_path / "out" / "validated.parquet", tmp_path / "out" / "summary.json"
    with pytest.raises(DataContractError):
        run_validate(raw, params.schema, out, summary)
    assert not out.exists() and not summary.exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_successful_validation_writes_data_and_summary(tmp_path: Path, raw_frame: pd.DataFrame, params: Params) -> None:
    raw = tmp_path / "raw.csv"
    raw_frame.to_csv(raw, index=False)
    summary = run_validate(raw, params.schema, tmp_path / "v.parquet", tmp_path / "s.json")
    assert summary["rows"] == len(raw_frame)
    assert summary["positives"] == int(raw_frame["is_fraud"].sum())
    assert summary["missing"]["customer_tenure_days"] == int(raw_frame["customer_tenure_days"].isna().sum())
    assert len(pd.read_parquet(tmp_path / "v.parquet")) == len(raw_frame)


def test_unreadable_or_absent_file(tmp_path: Path) -> None:
    with pytest.raises(DataContractError, match="does not exist: run `make data`"):
        read_raw(tmp_path / "nope.csv")
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"a,b\n1,2,3,4\n\x00\xff")
    with pytest.raises(DataContractError, match="not a readable CSV"):
        read_raw(garbage)


def test_windows_beside_the_data_are_validated_with_it_in_name_order(
    tmp_path: Path, raw_frame: pd.DataFrame, params: Params
) -> None:
    raw = tmp_path / "data" / "transactions.csv"
    raw.parent.mkdir()
    raw_frame.iloc[:4000].to_csv(raw, index=False)
    alone = run_validate(raw, params.schema, tmp_path / "v.parquet", tmp_path / "s.json")
    assert "windows" not in alone, "without windows the summary is what it always was"
    windows = raw.parent / "windows"
    windows.mkdir()
    raw_frame.iloc[5000:].to_parquet(windows / "2026-02-01-feb.parquet", index=False)
    raw_frame.iloc[4000:5000].to_csv(windows / "2026-01-01-jan.csv", index=False)
    (windows / ".gitkeep").touch()
    assert [p.name for p in dataset_files(raw)] == ["transactions.csv", "2026-01-01-jan.csv", "2026-02-01-feb.parquet"]
    summary = run_validate(raw, params.schema, tmp_path / "v.parquet", tmp_path / "s.json")
    assert summary["rows"] == len(raw_frame)
    assert summary["positives"] == int(raw_frame["is_fraud"].sum())
    assert summary["windows"] == [str(windows / "2026-01-01-jan.csv"), str(windows / "2026-02-01-feb.parquet")]
    assert summary["md5"] != alone["md5"]
    ids = pd.read_parquet(tmp_path / "v.parquet")["transaction_id"].tolist()
    assert ids == raw_frame["transaction_id"].tolist(), "the data first, then the windows by name"


def test_a_bad_window_is_named(tmp_path: Path, raw_frame: pd.DataFrame, params: Params) -> None:
    raw = tmp_path / "transactions.csv"
    raw_frame.iloc[:4000].to_csv(raw, index=False)
    windows = tmp_path / "windows"
    windows.mkdir()
    out = tmp_path / "v.parquet"
    (windows / "notes.txt").write_text("hi")
    with pytest.raises(DataContractError, match=r"notes.txt is not a CSV or parquet file.*make retrain"):
        run_validate(raw, params.schema, out, tmp_path / "s.json")
    (windows / "notes.txt").unlink()
    raw_frame.iloc[4000:].drop(columns=["hour"]).to_csv(windows / "2026-01-01-x.csv", index=False)
    with pytest.raises(DataContractError, match=r"the window .*2026-01-01-x.csv lacks column\(s\) the data has: hour"):
        run_validate(raw, params.schema, out, tmp_path / "s.json")
    raw_frame.iloc[4000:].assign(amount=-1.0).to_csv(windows / "2026-01-01-x.csv", index=False)
    with pytest.raises(DataContractError, match=r"amount: 2000 bad row\(s\)"):
        run_validate(raw, params.schema, out, tmp_path / "s.json")
    assert not out.exists()


def test_rows_are_checked_without_the_tables_size_and_balance(raw_frame: pd.DataFrame, params: Params) -> None:
    small = raw_frame.head(20).assign(is_fraud=0)
    assert len(check_rows(small, params.schema)) == 20
    assert "requires at least 1000" in contract_error(small, params)
    with pytest.raises(DataContractError, match="amount: 20 bad row"):
        check_rows(small.assign(amount=-1.0), params.schema)


# --- unlabelled rows, the tasks, dates -------------------------------------------------------------------------

WEATHER = SchemaParams.model_validate(
    {
        "task": "multiclass",
        "target": "weather",
        "classes": WEATHER_CLASSES,
        "min_rows": 100,
        "columns": {
            "date": {"type": "datetime"},
            "precipitation": {"type": "float", "min": 0, "max": 100},
            "temp_max": {"type": "float"},
            "temp_min": {"type": "float"},
            "wind": {"type": "float", "nullable": True},
        },
    }
)
CARS = SchemaParams.model_validate(
    {
        "task": "regression",
        "target": "mpg",
        "target_min": 5,
        "target_max": 60,
        "min_rows": 100,
        "columns": {
            "origin": {"type": "category", "categories": ["europe", "japan", "usa"]},
            "cylinders": {"type": "int", "min": 3, "max": 12},
            "horsepower": {"type": "float", "nullable": True},
            "weight": {"type": "float"},
            "year": {"type": "datetime", "parts": ["year"]},
        },
    }
)


def test_unlabelled_rows_are_left_out_and_counted(tmp_path: Path, raw_frame: pd.DataFrame, params: Params) -> None:
    raw = raw_frame.assign(is_fraud=raw_frame["is_fraud"].astype(object))
    raw.loc[:40, "is_fraud"] = None
    raw.loc[41:42, "is_fraud"] = ["", "  "]  # blank text is no label either (and makes pyarrow read text)
    raw.loc[42, "amount"] = -5.0  # an unlabelled row is not checked: it is not used
    path = tmp_path / "raw.csv"
    raw.to_csv(path, index=False)
    summary = run_validate(path, params.schema, tmp_path / "v.parquet", tmp_path / "s.json")
    assert summary["unlabelled_rows"] == 43 and summary["rows"] == len(raw_frame) - 43
    assert json.loads((tmp_path / "s.json").read_text())["unlabelled_rows"] == 43
    validated = pd.read_parquet(tmp_path / "v.parquet")
    assert validated["transaction_id"].tolist() == raw_frame["transaction_id"].iloc[43:].tolist()
    assert validated["is_fraud"].tolist() == raw_frame["is_fraud"].iloc[43:].tolist()
    assert describe_summary(summary).startswith(
        f"validate: {len(raw_frame) - 43} labelled rows pass the contract (43 unlabelled rows left out), "
        "positive rate 0."
    )
    raw.loc[42, "is_fraud"] = 1
    assert "amount: 1 bad row(s)" in contract_error(raw, params)


def test_only_unlabelled_rows_is_one_message_and_writes_nothing(
    tmp_path: Path, raw_frame: pd.DataFrame, params: Params
) -> None:
    path = tmp_path / "raw.csv"
    raw_frame.assign(is_fraud=None).to_csv(path, index=False)
    out = tmp_path / "v.parquet"
    with pytest.raises(DataContractError) as info:
        run_validate(path, params.schema, out, tmp_path / "s.json")
    message = str(info.value)
    assert f"is_fraud: the target is missing in all {len(raw_frame)} row(s)" in message
    assert "fill in the target column (is_fraud)" in message
    assert not out.exists() and not (tmp_path / "s.json").exists()


def test_the_binary_summary_keeps_its_keys(tmp_path: Path, raw_frame: pd.DataFrame, params: Params) -> None:
    path = tmp_path / "raw.csv"
    raw_frame.to_csv(path, index=False)
    summary = run_validate(path, params.schema, tmp_path / "v.parquet", tmp_path / "s.json")
    assert {"md5", "rows", "unlabelled_rows", "columns", "task", "positives", "positive_rate"} <= set(summary)
    assert "class_rows" not in summary and "target_mean" not in summary
    assert summary["task"] == "binary" and summary["unlabelled_rows"] == 0
    assert summary["positive_rate"] == pytest.approx(raw_frame["is_fraud"].mean(), abs=1e-6)


def test_multiclass_target_is_encoded_as_the_class_index(tmp_path: Path) -> None:
    raw = weather_table()
    path = tmp_path / "weather.csv"
    raw.to_csv(path, index=False)
    summary = run_validate(path, WEATHER, tmp_path / "v.parquet", tmp_path / "s.json")
    labelled = raw[raw["weather"].notna()]
    validated = pd.read_parquet(tmp_path / "v.parquet")
    assert validated["weather"].dtype == "int64"
    assert [WEATHER_CLASSES[i] for i in validated["weather"]] == labelled["weather"].tolist()
    assert str(validated["date"].dtype) == "datetime64[us]"
    assert validated["date"].dt.strftime("%Y-%m-%d").tolist() == labelled["date"].tolist()
    counts = labelled["weather"].value_counts()
    assert summary["class_rows"] == {label: int(counts[label]) for label in WEATHER_CLASSES}
    assert list(summary["class_rows"]) == WEATHER_CLASSES  # the class index order
    assert summary["task"] == "multiclass" and summary["unlabelled_rows"] == raw["weather"].isna().sum()
    assert "positives" not in summary
    assert summary["columns"]["date"] == "datetime"
    shares = ", ".join(f"{c} {100 * counts[c] / len(labelled):.0f}%" for c in WEATHER_CLASSES)
    assert describe_summary(summary) == (
        f"validate: {len(labelled)} labelled rows pass the contract ({len(raw) - len(labelled)} unlabelled rows "
        f"left out), classes: {shares}"
    )


def test_a_value_outside_the_classes_breaks_the_contract() -> None:
    raw = weather_table()
    raw.loc[[5, 9], "weather"] = "hail"
    message = contract_error_for(raw, WEATHER)
    assert "weather: 2 bad row(s), check is one of schema.classes" in message
    assert "add the class to schema.classes in params.yaml" in message and "'hail'" in message


def test_a_class_with_too_few_rows_breaks_the_contract() -> None:
    raw = weather_table()
    snow = raw.index[raw["weather"] == "snow"]
    raw.loc[snow[3:], "weather"] = "rain"
    message = contract_error_for(raw, WEATHER)
    assert "weather: too few labelled rows of a class ('snow' has 3)" in message
    assert f"schema.min_class_rows in params.yaml requires at least {WEATHER.min_class_rows}" in message
    relaxed = WEATHER.model_copy(update={"min_class_rows": 3})
    assert len(check_frame(raw, relaxed)) == raw["weather"].notna().sum()


def test_regression_target_is_a_float_within_its_range(tmp_path: Path) -> None:
    raw = cars_table()
    path = tmp_path / "cars.parquet"
    raw.to_parquet(path, index=False)
    summary = run_validate(path, CARS, tmp_path / "v.parquet", tmp_path / "s.json")
    labelled = raw[raw["mpg"].notna()]
    validated = pd.read_parquet(tmp_path / "v.parquet")
    assert validated["mpg"].dtype == "float64" and validated["mpg"].tolist() == labelled["mpg"].tolist()
    assert summary["unlabelled_rows"] == raw["mpg"].isna().sum()
    assert (summary["target_min"], summary["target_max"]) == (labelled["mpg"].min(), labelled["mpg"].max())
    assert summary["target_mean"] == pytest.approx(labelled["mpg"].mean(), abs=1e-6)
    assert "positives" not in summary and "class_rows" not in summary
    assert describe_summary(summary).endswith(
        f"target from {labelled['mpg'].min():g} to {labelled['mpg'].max():g}, mean {summary['target_mean']:g}"
    )


def test_regression_target_with_text_or_out_of_range_breaks_the_contract() -> None:
    raw = cars_table().assign(mpg=lambda f: f["mpg"].astype(object))
    raw.loc[0, "mpg"] = "about 20"
    raw.loc[1, "mpg"] = 3.5
    raw.loc[2:3, "mpg"] = 75.0
    message = contract_error_for(raw, CARS)
    assert "mpg: 1 bad row(s), check is a number: the target of a regression" in message and "'about 20'" in message
    assert "mpg: 1 bad row(s), check at least schema.target_min (5.0) (e.g. 3.5)" in message
    assert "mpg: 2 bad row(s), check at most schema.target_max (60.0) (e.g. 75.0)" in message


def test_a_date_that_does_not_parse_is_named() -> None:
    raw = cars_table()
    raw.loc[[4, 8], "year"] = ["1975-13-01", "seventy-six"]
    message = contract_error_for(raw, CARS)
    assert "year: 2 bad row(s), check is an ISO 8601 date or datetime" in message
    assert "'1975-13-01'" in message and "'seventy-six'" in message


def test_a_window_of_text_labels_joins_the_data(tmp_path: Path) -> None:
    """The combined check reads the raw rows: a label target (not 0/1) passes as the data alone does."""
    raw = weather_table(rows=800)
    path = tmp_path / "weather.csv"
    raw.iloc[:600].to_csv(path, index=False)
    window = tmp_path / "window.csv"
    raw.iloc[600:].to_csv(window, index=False)
    facts = check_window(path, window, WEATHER, "window.csv")
    window_rows = raw.iloc[600:]
    assert facts.rows == window_rows["weather"].notna().sum()
    assert facts.unlabelled == window_rows["weather"].isna().sum()
    assert facts.target["class_rows"]["sun"] == (window_rows["weather"] == "sun").sum()
    assert facts.positives == 0 and "positives" not in facts.target
    raw.iloc[600:].assign(weather=None).to_csv(window, index=False)
    with pytest.raises(DataContractError, match=r"the new window w has no labelled rows \(200 unlabelled row\(s\)"):
        check_window(path, window, WEATHER, "w")
