"""The rules init-data infers a contract by: types, ranges, ids, left-out columns, the target, table rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import ColumnType
from gitops_ml.errors import InitDataError
from gitops_ml.pipeline.infer_contract import (
    CATEGORY_CAP,
    MIN_ROWS,
    infer_contract,
    infer_target,
    numeric_range,
)
from tests.support.own_data import customer_table, numeric_table


def error_of(frame: pd.DataFrame, target: str, positive: str | None = None) -> str:
    with pytest.raises(InitDataError) as info:
        infer_contract(frame, target, positive)
    return str(info.value)


def test_numeric_table_types_and_ranges() -> None:
    frame = numeric_table()
    contract = infer_contract(frame, "converted")
    assert list(contract.columns) == ["pages_viewed", "seconds_on_site", "ad_score", "returning"]
    pages, seconds, score, flag = contract.columns.values()
    assert (pages.type, seconds.type, score.type, flag.type) == (ColumnType.INT,) + (ColumnType.FLOAT,) * 2 + (
        ColumnType.INT,
    )
    assert (flag.min, flag.max) == (0, 1)  # a 0/1 flag keeps its range
    for name, spec in contract.columns.items():
        assert spec.min <= frame[name].min() and frame[name].max() <= spec.max
        assert spec.min >= 0 or frame[name].min() < 0  # non-negative data keeps a non-negative range
        assert not spec.nullable
    assert contract.ids == [] and contract.excluded == {}
    assert contract.target.positive == 1 and contract.target.negative == 0


def test_customer_table_ids_categories_gaps_and_left_out_columns() -> None:
    contract = infer_contract(customer_table(), "churn")
    assert contract.ids == ["customer_id"]
    assert set(contract.excluded) == {"signup_date", "country", "comment", "referrer"}
    assert "constant" in contract.excluded["country"]
    assert "no values" in contract.excluded["referrer"]
    assert f"more than {CATEGORY_CAP}" in contract.excluded["comment"]
    assert "derive features" in contract.excluded["signup_date"]
    columns = contract.columns
    assert columns["plan"].type is ColumnType.CATEGORY and columns["plan"].nullable
    assert columns["plan"].categories == ["basic", "plus", "premium"]
    assert not columns["region"].nullable
    assert columns["tenure_months"].type is ColumnType.INT and columns["tenure_months"].nullable
    assert columns["autopay"].type is ColumnType.BOOL and columns["autopay"].nullable
    assert contract.target.positive == "yes" and contract.target.negative == "no"
    assert "missing" in contract.notes["tenure_months"]


@pytest.mark.parametrize(
    ("values", "integer", "expected"),
    [
        ([10, 20, 30], True, (8, 32)),  # width 20, 10% = 2 on each side
        ([0, 5, 100], True, (0, 110)),  # not below 0 for non-negative data
        ([-5, 5], True, (-6, 6)),
        ([0.0, 1.0], False, (0.0, 1.1)),
        ([0.123, 0.456], False, (0.089, 0.49)),  # floats outward to 3 significant digits of the width
        ([1000.0, 51000.0], False, (0.0, 56000.0)),
    ],
)
def test_numeric_range_rule(values: list[float], integer: bool, expected: tuple[float, float]) -> None:
    assert numeric_range(pd.Series(values, dtype="float64"), integer) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "values", "is_id"),
    [
        ("customer_id", ["a", "a", "b"] * 40, True),  # an id word, repeated values (a grouping key)
        ("CustomerID", list(range(120)), True),
        ("orderId", list(range(120)), True),
        ("row", list(range(120)), True),  # unique and monotonic integers: a row number
        ("email", [f"u{i}@x.org" for i in range(120)], True),  # unique text
        ("paid", list(np.random.default_rng(0).permutation(120)), False),  # unique but shuffled numbers, no id word
        ("valid", ["x", "y", "z"] * 40, False),  # "id" inside a word is not an id word
    ],
)
def test_id_rule(name: str, values: list, is_id: bool) -> None:
    frame = pd.DataFrame({name: values, "y": [0, 1] * 60, "x": np.arange(120) % 7})
    contract = infer_contract(frame, "y")
    assert (name in contract.ids) is is_id
    assert (name in contract.columns) is not is_id


@pytest.mark.parametrize(
    ("values", "positive", "negative"),
    [
        ([0, 1, 1, 0], 1, 0),
        ([True, False, False, False], True, False),
        ([-1, 1, 1], 1, -1),
        (["yes", "no", "no"], "yes", "no"),
        (["N", "Y", "Y", "Y"], "Y", "N"),
        (["stayed", "churned", "stayed"], "churned", "stayed"),  # the rarer label
        (["cat", "dog", "cat", "dog"], "dog", "cat"),  # equally common: the last alphabetically
    ],
)
def test_positive_class_rule(values: list, positive: object, negative: object) -> None:
    facts = infer_target(pd.Series(values, name="t"))
    assert (facts.positive, facts.negative) == (positive, negative)
    assert type(facts.positive) is type(positive)
    assert facts.positives == values.count(positive)


def test_positive_can_be_chosen() -> None:
    facts = infer_target(pd.Series(["stayed", "churned", "stayed"], name="t"), positive="Stayed")
    assert (facts.positive, facts.reason) == ("stayed", "chosen with --positive")
    with pytest.raises(InitDataError, match="'maybe' is not a value of target 't'"):
        infer_target(pd.Series(["a", "b"], name="t"), positive="maybe")


def test_table_rules_follow_the_data() -> None:
    frame = pd.DataFrame({"x": np.arange(1000) % 13, "y": (np.arange(1000) % 20 == 0).astype(int)})  # 5% positive
    contract = infer_contract(frame, "y")
    assert contract.min_rows == 500
    assert contract.target_rate_bounds == (0.0166, 0.15)
    assert contract.floors == {"roc_auc": 0.55, "average_precision": 0.05}
    half = infer_contract(frame.assign(y=np.arange(1000) % 2), "y")
    assert half.target_rate_bounds == (0.1666, 0.8334)  # symmetric for the negative class
    assert infer_contract(frame.head(MIN_ROWS).assign(y=np.arange(MIN_ROWS) % 2), "y").min_rows == MIN_ROWS // 2


def test_missing_target_lists_the_columns() -> None:
    message = error_of(numeric_table(), "label")
    assert "no column 'label'" in message
    assert "pages_viewed, seconds_on_site, ad_score, returning, converted" in message


def test_non_binary_target_shows_up_to_ten_values() -> None:
    frame = numeric_table().assign(converted=np.arange(300) % 12)
    message = error_of(frame, "converted")
    assert "not binary: it has 12 distinct value(s) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...)" in message
    assert "0/1, true/false" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"converted": np.where(np.arange(300) < 5, np.nan, 1.0)}, "has no value in 5 row(s)"),
        ({"converted": np.arange(300) % 2 + 0.5}, "numbers must be whole (0/1)"),
        ({"converted": (np.arange(300) < 4).astype(int)}, "only 4 row(s) in one class"),
    ],
)
def test_unusable_target(change: dict, expected: str) -> None:
    assert expected in error_of(numeric_table().assign(**change), "converted")


def test_too_few_rows_says_the_minimum() -> None:
    message = error_of(numeric_table(rows=MIN_ROWS - 1), "converted")
    assert f"has {MIN_ROWS - 1} rows; init-data needs at least {MIN_ROWS}" in message


def test_names_that_cannot_be_fields_are_refused() -> None:
    frame = numeric_table().rename(columns={"pages_viewed": "pages viewed", "ad_score": "2nd_score"})
    message = error_of(frame, "converted")
    assert "'pages viewed'" in message and "e.g. pages_viewed" in message
    assert "'2nd_score'" in message and "e.g. col_2nd_score" in message
    assert "Rename them in the file" in message


def test_an_id_named_like_a_prediction_field_is_refused() -> None:
    frame = numeric_table().assign(label=[f"row-{i}" for i in range(300)])
    assert "collide with the prediction's 'label' field" in error_of(frame, "converted")


def test_a_table_without_usable_features_is_refused() -> None:
    frame = pd.DataFrame({"id": range(200), "note": ["same"] * 200, "y": [0, 1] * 100})
    message = error_of(frame, "y")
    assert "no column can be a feature" in message and "note (constant" in message and "ids: id" in message
