"""The data contract: good data passes typed; each kind of bad data is named with its column and row count."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.config import Params
from gitops_ml.pipeline.validate import (
    DataContractError,
    check_frame,
    check_rows,
    dataset_files,
    read_raw,
    run_validate,
)


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
    frame.loc[3, "is_fraud"] = "maybe" if isinstance(positive, str) else None
    message = contract_error_for(frame, schema)
    if isinstance(positive, str):
        assert f"is_fraud: 1 bad row(s), check is {positive!r} (positive) or {negative!r} (negative)" in message
    else:
        assert "is_fraud: 1 bad row(s), check not_nullable" in message


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
