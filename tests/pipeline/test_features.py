"""The model's frame: datetime columns become calendar parts, parsed from ISO text or datetime values alike."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import ColumnSpec, ColumnType, DatePart, SchemaParams
from gitops_ml.pipeline.features import (
    QUICK_DATES_MAX,
    date_part_columns,
    date_parts,
    feature_name_clashes,
    model_frame,
    parse_datetimes,
    plain_dates,
    preprocessor,
)


def schema_with(**columns: ColumnSpec) -> SchemaParams:
    return SchemaParams(target="y", columns=columns)


def test_iso_text_dates_datetimes_and_offsets_parse_the_same_way() -> None:
    raw = pd.Series(
        ["2012-01-31", "2012-01-31 08:30:00", "2012-01-31T08:30:00Z", "2012-01-31T10:30:00+02:00", None, ""],
        dtype=object,
    )
    parsed, bad = parse_datetimes(raw)
    assert str(parsed.dtype) == "datetime64[us]"
    expected = ["2012-01-31 00:00", "2012-01-31 08:30", "2012-01-31 08:30", "2012-01-31 08:30"]
    assert [t.strftime("%Y-%m-%d %H:%M") for t in parsed[:4]] == expected  # offsets in UTC
    assert parsed[4:].isna().all()
    assert bad.tolist() == [False] * 4 + [False, True]  # missing is allowed; empty text is not a date


@pytest.mark.parametrize("value", ["31/01/2012", "2012-02-30", "yesterday", 20120131, 1.5, True])
def test_anything_but_an_iso_date_is_bad(value: object) -> None:
    parsed, bad = parse_datetimes(pd.Series(["2012-01-01", value], dtype=object))
    assert bad.tolist() == [False, True]
    assert pd.isna(parsed[1])


def test_datetime_values_pass_as_they_are() -> None:
    """pyarrow reads a CSV's dates as datetime.date objects and its datetimes as datetime64 (with a zone, too)."""
    dates = pd.Series([datetime.date(2012, 1, 31), None], dtype=object)
    stamps = pd.Series(pd.to_datetime(["2012-01-31 10:30", None]).tz_localize("Europe/Amsterdam"))
    for column, hour in ((dates, 0), (stamps, 9)):
        parsed, bad = parse_datetimes(column)
        assert not bad.any()
        assert parsed[0] == pd.Timestamp(2012, 1, 31, hour, 30 if hour else 0) and pd.isna(parsed[1])


def test_a_datetime_column_becomes_its_calendar_parts() -> None:
    schema = schema_with(
        amount=ColumnSpec(type=ColumnType.FLOAT),
        when=ColumnSpec(type=ColumnType.DATETIME, nullable=True, parts=[DatePart.DAY_OF_WEEK, DatePart.HOUR]),
        day=ColumnSpec(type=ColumnType.DATETIME),
    )
    frame = pd.DataFrame(
        {
            "amount": [1.5, 2.0],
            "when": ["2024-03-04 17:45:00", None],  # a Monday
            "day": pd.to_datetime(["2023-12-31", "2024-02-29"]),
        }
    )
    features = model_frame(frame, schema)
    assert list(features.columns) == [
        "amount", "when_day_of_week", "when_hour", "day_year", "day_month", "day_day", "day_day_of_week",
    ]  # fmt: skip
    assert features.dtypes.unique().tolist() == [np.dtype("float64")]
    assert features.loc[0, ["when_day_of_week", "when_hour"]].tolist() == [0.0, 17.0]
    assert features.loc[1, ["when_day_of_week", "when_hour"]].isna().all()
    assert features.loc[1, ["day_year", "day_month", "day_day", "day_day_of_week"]].tolist() == [2024, 2, 29, 3]
    assert date_part_columns(schema) == list(features.columns[1:])


def test_a_request_with_a_bad_date_names_the_column() -> None:
    schema = schema_with(day=ColumnSpec(type=ColumnType.DATETIME))
    with pytest.raises(ValueError, match=r"day: '31/12/2023' is not an ISO 8601 date"):
        model_frame(pd.DataFrame({"day": ["31/12/2023"]}), schema)


PLAIN = [
    "2012-01-31", "2024-02-29 17:45", "2024-03-04T08:30:15", "2024-03-04T08:30:15.5", "2019-12-31T23:59:59.999999",
    "2012-01-31T08:30:00Z", "2012-01-31T23:30:00-05:30", "2012-01-01T00:30:00+02:00", "1700-01-01", "2262-04-10",
    None, float("nan"), pd.NA,
]  # fmt: skip
ALL_PARTS = ColumnSpec(type=ColumnType.DATETIME, nullable=True, parts=list(DatePart))


def test_a_few_plain_dates_are_read_value_by_value_exactly_as_pandas_reads_them() -> None:
    """The service's one-record calls take the quick reading; training's large frames pandas': the parts agree."""
    assert plain_dates(PLAIN) is not None
    quick = date_parts("d", ALL_PARTS, PLAIN)
    many = PLAIN * (QUICK_DATES_MAX // len(PLAIN) + 1)  # over the bound: pandas reads it
    assert len(many) > QUICK_DATES_MAX
    by_pandas = date_parts("d", ALL_PARTS, pd.Series(many, dtype=object))
    assert list(quick) == [f"d_{part.value}" for part in DatePart]
    for name, values in quick.items():
        np.testing.assert_array_equal(values, by_pandas[name][: len(PLAIN)], err_msg=name)
    assert quick["d_hour"][6:8].tolist() == [5.0, 22.0]  # offsets read in UTC, across midnight


@pytest.mark.parametrize(
    "value", ["2012-W01-1", "20120131", "2012-01-31T08", "1500-01-01", "2012-02-30", " 2012-01-31", 20120131]
)
def test_anything_but_plain_iso_text_is_left_to_pandas(value: object) -> None:
    """What pandas reads otherwise than Python (week dates, years it cannot hold) or refuses is its to decide."""
    assert plain_dates(["2012-01-31", value]) is None
    column = pd.Series(["2012-01-31", value], dtype=object)
    parsed, bad = parse_datetimes(column)
    if bad.any():
        with pytest.raises(ValueError, match=r"^d: .* is not an ISO 8601 date"):
            date_parts("d", ALL_PARTS, column)
    else:
        assert date_parts("d", ALL_PARTS, column)["d_year"].tolist() == parsed.dt.year.astype(float).tolist()


def test_the_preprocessor_scales_the_parts_with_the_numbers() -> None:
    schema = schema_with(
        amount=ColumnSpec(type=ColumnType.FLOAT),
        day=ColumnSpec(type=ColumnType.DATETIME, parts=[DatePart.MONTH]),
        kind=ColumnSpec(type=ColumnType.CATEGORY, categories=["a", "b"]),
    )
    frame = pd.DataFrame({"amount": [1.0, 2.0, 3.0], "day": ["2024-01-01", "2024-06-01", None], "kind": list("aba")})
    transformed = preprocessor(schema).fit(model_frame(frame, schema)).get_feature_names_out().tolist()
    assert "numeric__day_month" in transformed and "numeric__missingindicator_day_month" in transformed
    assert "categorical__kind_a" in transformed


def test_a_part_named_like_another_column_is_a_clash() -> None:
    schema = schema_with(
        day=ColumnSpec(type=ColumnType.DATETIME), day_year=ColumnSpec(type=ColumnType.INT, min=0, max=3000)
    )
    assert feature_name_clashes(schema) == ["day_year"]


def test_parts_belong_to_datetime_columns_once_each() -> None:
    with pytest.raises(ValueError, match="'parts' only applies to 'datetime' columns"):
        ColumnSpec(type=ColumnType.INT, parts=[DatePart.YEAR])
    with pytest.raises(ValueError, match="each calendar part once"):
        ColumnSpec(type=ColumnType.DATETIME, parts=[DatePart.YEAR, DatePart.YEAR])
    with pytest.raises(ValueError, match="'min'/'max' only apply to numeric columns"):
        ColumnSpec(type=ColumnType.DATETIME, min=0)
    assert ColumnSpec(type=ColumnType.DATETIME).date_parts == (
        DatePart.YEAR, DatePart.MONTH, DatePart.DAY, DatePart.DAY_OF_WEEK,
    )  # fmt: skip
