"""The rules init-data infers a contract by: the task, types, dates, ranges, ids, left-out columns, the target, table
rules and the gate's defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gitops_ml.adopt.infer_contract import (
    CATEGORY_CAP,
    MAX_INTEGER_CLASSES,
    MIN_CLASS_ROWS,
    MIN_ROWS,
    infer_contract,
    infer_target,
    numeric_range,
)
from gitops_ml.config import ColumnType, DatePart
from gitops_ml.errors import InitDataError
from gitops_ml.model_metrics import DEFAULT_PRIMARY_METRIC, data_guards, no_skill_floors
from gitops_ml.tasks import Task
from tests.support.own_data import customer_table, numeric_table
from tests.support.task_data import WEATHER_CLASSES, cars_table, weather_table


def error_of(frame: pd.DataFrame, target: str, positive: str | None = None, task: Task | None = None) -> str:
    with pytest.raises(InitDataError) as info:
        infer_contract(frame, target, positive, task)
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
    assert set(contract.excluded) == {"country", "comment", "referrer"}
    assert "constant" in contract.excluded["country"]
    assert "no values" in contract.excluded["referrer"]
    assert f"more than {CATEGORY_CAP}" in contract.excluded["comment"]
    columns = contract.columns
    assert columns["signup_date"].type is ColumnType.DATETIME  # a date is a feature, by its calendar parts
    assert columns["signup_date"].parts == [DatePart.YEAR, DatePart.MONTH, DatePart.DAY, DatePart.DAY_OF_WEEK]
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
    assert facts.positive == "stayed" and facts.reason.endswith("positive: chosen with --positive")
    with pytest.raises(InitDataError, match="'maybe' is not a value of target 't'"):
        infer_target(pd.Series(["a", "b"], name="t"), positive="maybe")


def test_table_rules_follow_the_data() -> None:
    frame = pd.DataFrame({"x": np.arange(1000) % 13, "y": (np.arange(1000) % 20 == 0).astype(int)})  # 5% positive
    contract = infer_contract(frame, "y")
    assert contract.min_rows == 500
    assert contract.target_rate_bounds == (0.0166, 0.15)
    assert contract.floors == {"roc_auc": 0.55, "average_precision": 0.05}
    assert contract.floors == no_skill_floors(Task.BINARY, frame["y"].to_numpy())
    assert contract.guards == data_guards(Task.BINARY, frame["y"].to_numpy())
    assert contract.primary_metric == DEFAULT_PRIMARY_METRIC[Task.BINARY]
    half = infer_contract(frame.assign(y=np.arange(1000) % 2), "y")
    assert half.target_rate_bounds == (0.1666, 0.8334)  # symmetric for the negative class
    assert infer_contract(frame.head(MIN_ROWS).assign(y=np.arange(MIN_ROWS) % 2), "y").min_rows == MIN_ROWS // 2


def test_missing_target_lists_the_columns() -> None:
    message = error_of(numeric_table(), "label")
    assert "no column 'label'" in message
    assert "pages_viewed, seconds_on_site, ad_score, returning, converted" in message


def test_a_target_that_is_not_binary_shows_up_to_ten_values() -> None:
    frame = numeric_table().assign(converted=np.arange(300) % 12)
    message = error_of(frame, "converted", task=Task.BINARY)
    assert "not binary: it has 12 distinct value(s) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...)" in message
    assert "0/1, true/false" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"converted": np.where(np.arange(300) < 5, np.nan, 1.0)}, "has one value (1.0) in every labelled row"),
        ({"converted": np.arange(300) % 2 + 0.5}, "numbers must be whole (0/1)"),
        ({"converted": (np.arange(300) < 4).astype(int)}, "too few labelled rows of a class (1 has 4)"),
        ({"converted": np.nan}, "has no value in any of the 300 row(s): every row is unlabelled"),
        ({"converted": pd.date_range("2024-01-01", periods=300)}, "target 'converted' holds dates"),
    ],
    ids=["one value", "fractions", "rare class", "no labels", "dates"],
)
def test_unusable_target(change: dict, expected: str) -> None:
    assert expected in error_of(numeric_table().assign(**change), "converted")


def test_too_few_rows_says_the_minimum() -> None:
    message = error_of(numeric_table(rows=MIN_ROWS - 1), "converted")
    assert f"has {MIN_ROWS - 1} labelled rows; init-data needs at least {MIN_ROWS}" in message
    unlabelled = numeric_table(rows=MIN_ROWS + 5).assign(converted=lambda f: f["converted"].where(f.index >= 6))
    message = error_of(unlabelled, "converted")
    assert f"has {MIN_ROWS - 1} labelled rows (6 more without a target)" in message


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


# --- the task --------------------------------------------------------------------------------------------------


def target_of(values: list, task: Task | None = None) -> object:
    return infer_target(pd.Series(values * (120 // len(values) + 1), name="t"), task=task)


@pytest.mark.parametrize(
    ("values", "task", "classes"),
    [
        ([0, 1], Task.BINARY, [0, 1]),
        ([True, False], Task.BINARY, [False, True]),
        (["no", "yes"], Task.BINARY, ["no", "yes"]),
        ([2, 1, 3], Task.MULTICLASS, [1, 2, 3]),  # small whole numbers: classes, in numeric order
        ([2.0, 1.0, 3.0], Task.MULTICLASS, [1, 2, 3]),
        (list(range(MAX_INTEGER_CLASSES)), Task.MULTICLASS, list(range(MAX_INTEGER_CLASSES))),
        (["sun", "fog", "rain"], Task.MULTICLASS, ["fog", "rain", "sun"]),  # labels: alphabetical
        (["10", "2", "1"], Task.MULTICLASS, ["1", "2", "10"]),  # labels that read as numbers: numeric order
        (list(range(MAX_INTEGER_CLASSES + 1)), Task.REGRESSION, []),  # more whole numbers: a quantity
        ([0.5, 1.5, 2.5], Task.REGRESSION, []),  # fractions
        ([f"{i / 7:.3f}" for i in range(60)], Task.REGRESSION, []),  # numbers written as text
    ],
)
def test_task_rule(values: list, task: Task, classes: list) -> None:
    facts = target_of(values)
    assert facts.task is task
    assert facts.classes == classes
    assert [type(c) for c in facts.classes] == [type(c) for c in classes]


def test_multiclass_encodes_class_indices_and_regression_values() -> None:
    labels = pd.Series(["sun", "fog", None, "rain", "sun", " "], name="t")
    facts = infer_target(labels)
    assert facts.encoded.tolist() == [2, 0, 1, 2] and facts.unlabelled == 2
    assert facts.class_rows == {"fog": 1, "rain": 1, "sun": 2}
    numbers = infer_target(pd.Series([1.5, np.nan, 2.25, 3.0, 7.0], name="t"), task=Task.REGRESSION)
    assert numbers.encoded.tolist() == [1.5, 2.25, 3.0, 7.0] and numbers.unlabelled == 1


@pytest.mark.parametrize(
    ("values", "task", "expected"),
    [
        ([0, 1, 2, 3, 4], Task.REGRESSION, None),  # TASK overrides: a rating as a number
        (list(range(12)), Task.MULTICLASS, None),
        ([0, 1], Task.MULTICLASS, "has 2 classes; multiclass needs at least 3: use TASK=binary"),
        (["a", "b", "c"], Task.REGRESSION, "target 't' holds text ('a', 'b', 'c' in 123 row(s)); a regression target"),
        ([0.5, 1.5, 2.5], Task.MULTICLASS, "holds numbers that are not whole (0.5, 1.5, 2.5); classes are whole"),
        ([True, False], Task.REGRESSION, "target 't' holds text"),
    ],
)
def test_task_can_be_chosen(values: list, task: Task, expected: str | None) -> None:
    if expected is None:
        assert target_of(values, task).task is task
    else:
        with pytest.raises(InitDataError) as info:
            target_of(values, task)
        assert expected in str(info.value)


def test_positive_is_for_binary_targets_only() -> None:
    with pytest.raises(InitDataError, match="--positive applies to a binary target only; target 't' is multiclass"):
        infer_target(pd.Series(["a", "b", "c"], name="t"), positive="a")


def test_text_among_many_numbers_is_refused_as_a_regression_target() -> None:
    values = [f"{i / 3:.2f}" for i in range(200)] + ["n/a?", "unknown"] * 3
    with pytest.raises(InitDataError) as info:
        infer_target(pd.Series(values, name="price"))
    message = str(info.value)
    assert "target 'price' holds numbers, but 6 row(s) hold text ('n/a?', 'unknown')" in message
    assert "fix those rows, or blank them" in message


def test_too_many_labels_are_refused() -> None:
    values = [f"label {i}" for i in range(CATEGORY_CAP + 1)] * 3
    with pytest.raises(InitDataError) as info:
        infer_target(pd.Series(values, name="t"))
    message = str(info.value)
    assert f"target 't' has {CATEGORY_CAP + 1} distinct labels, more than {CATEGORY_CAP} classes" in message


def test_multiclass_contract_from_weather() -> None:
    frame = weather_table()
    contract = infer_contract(frame, "weather")
    labelled = frame["weather"].dropna()
    assert contract.task is Task.MULTICLASS and contract.target.classes == WEATHER_CLASSES
    assert contract.rows == len(labelled) and contract.target.unlabelled == frame["weather"].isna().sum()
    assert contract.min_rows == len(labelled) // 2
    encoded = labelled.map(WEATHER_CLASSES.index).to_numpy()
    assert contract.target.encoded.tolist() == encoded.tolist()
    assert contract.floors == no_skill_floors(Task.MULTICLASS, encoded)
    assert contract.guards == data_guards(Task.MULTICLASS, encoded)
    assert contract.primary_metric == "macro_f1"
    date = contract.columns["date"]
    assert date.type is ColumnType.DATETIME and not date.nullable
    assert date.parts == [DatePart.YEAR, DatePart.MONTH, DatePart.DAY, DatePart.DAY_OF_WEEK]  # no times: no hour
    assert contract.notes["date"] == f"observed {frame['date'].iloc[0]} to {frame['date'].iloc[-1]}"


def test_a_rare_class_is_named() -> None:
    frame = weather_table()
    snow = frame.index[frame["weather"] == "snow"]
    frame.loc[snow[MIN_CLASS_ROWS - 1 :], "weather"] = "rain"
    message = error_of(frame, "weather")
    assert f"target 'weather': too few labelled rows of a class ('snow' has {MIN_CLASS_ROWS - 1})" in message
    assert "add rows of that class, merge it into another class, or drop its rows" in message


def test_regression_contract_from_cars() -> None:
    frame = cars_table()
    contract = infer_contract(frame, "mpg")
    mpg = frame["mpg"].dropna()
    assert contract.task is Task.REGRESSION and contract.target.classes == []
    assert contract.target_range == numeric_range(mpg, integer=False)
    low, high = contract.target_range
    assert low <= mpg.min() and mpg.max() <= high
    assert contract.guards == data_guards(Task.REGRESSION, mpg.to_numpy())
    assert contract.guards["mae"] > 0
    assert contract.floors == no_skill_floors(Task.REGRESSION, mpg.to_numpy())
    assert contract.primary_metric == "r2"
    assert contract.excluded == {"name": "text with 210 distinct values (more than 50 categories)"}
    assert contract.columns["year"].parts == [DatePart.YEAR]  # 1970-01-01, 1971-01-01: only the year varies
    assert contract.columns["horsepower"].nullable and contract.columns["origin"].type is ColumnType.CATEGORY


def test_times_add_the_hour_and_any_date_form_is_read() -> None:
    rows = 120
    stamps = pd.Series(pd.date_range("2024-03-01 06:00", periods=rows, freq="7h"))
    frame = pd.DataFrame(
        {
            "at": stamps,  # datetime64 values
            "at_text": stamps.dt.strftime("%Y-%m-%dT%H:%M:%S+01:00"),  # ISO text with an offset
            "on": [d.date() for d in stamps],  # date objects, as pyarrow reads a CSV's dates
            "y": np.arange(rows) % 2,
        }
    )
    contract = infer_contract(frame, "y")
    with_hour = [DatePart.MONTH, DatePart.DAY, DatePart.DAY_OF_WEEK, DatePart.HOUR]  # all in 2024: no year
    assert contract.columns["at"].parts == with_hour
    assert contract.columns["at_text"].parts == with_hour
    assert contract.columns["on"].parts == with_hour[:-1]
    assert contract.notes["at"].startswith("observed 2024-03-01 06:00:00 to ")


def test_a_date_that_does_not_parse_is_refused() -> None:
    frame = weather_table()
    frame.loc[[3, 10], "date"] = ["2012-02-30", "someday"]
    message = error_of(frame, "weather")
    assert "column 'date' holds dates, but 2 value(s) are not ISO 8601 dates ('2012-02-30', 'someday')" in message
    assert "write them as 2012-01-31" in message


def test_text_that_is_mostly_not_dates_stays_text() -> None:
    frame = numeric_table().assign(note=["2012-01-01", "later", "soon", "never"] * 75)
    contract = infer_contract(frame, "converted")
    assert contract.columns["note"].type is ColumnType.CATEGORY


def test_a_calendar_part_named_like_a_column_is_refused() -> None:
    frame = weather_table().assign(date_year=lambda f: np.arange(len(f)) % 5)
    message = error_of(frame, "weather")
    assert "column name(s) taken by a calendar feature: 'date_year' (a part of datetime column 'date')" in message


@pytest.mark.parametrize("form", ["%Y/%m/%d", "%d.%m.%Y", "%m/%d/%Y"])
def test_dates_in_another_form_are_left_out_with_the_fix(form: str) -> None:
    """Unique per row, they would pass for an id; which part is the day is a guess, so they are not parsed."""
    days = pd.date_range("2012-01-01", periods=300, freq="D").strftime(form)
    contract = infer_contract(numeric_table().assign(day=days), "converted")
    assert "day" not in contract.ids and "day" not in contract.columns
    assert contract.excluded["day"] == (
        f"dates not written as ISO 8601 (e.g. {days[0]!r}): rewrite them as 2012-01-31 to use them as a feature"
    )
