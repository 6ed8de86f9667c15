"""The data contract: good data passes typed; each kind of bad data is named with its column and row count."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.config import Params
from gitops_ml.pipeline.validate import DataContractError, check_frame, read_raw, run_validate


def contract_error(frame: pd.DataFrame, params: Params) -> str:
    with pytest.raises(DataContractError) as info:
        check_frame(frame, params.schema)
    return str(info.value)


def test_good_data_passes_with_schema_types(typed_frame: pd.DataFrame, params: Params) -> None:
    assert list(typed_frame.columns) == [*params.schema.feature_names, "is_fraud"]
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
    assert "transactions_last_24h: 1 bad row(s), check is_whole_number" in message
    assert "is_fraud: 2 bad row(s), check isin([0, 1])" in message


def test_missing_column_is_named(raw_frame: pd.DataFrame, params: Params) -> None:
    message = contract_error(raw_frame.drop(columns=["country"]), params)
    assert "missing column(s) the schema requires: country" in message


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
