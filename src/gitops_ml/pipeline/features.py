"""Turning validated rows into the frame the model sees, and the preprocessing inside the model.

Training, evaluation, the release gate and the service all call :func:`model_frame`, so a model never sees
features prepared two different ways. A ``datetime`` column becomes its calendar parts (``<column>_year``,
``<column>_month``, ... as numbers, the column's ``parts`` in the schema); the date itself is no feature, as a model
cannot extrapolate from a point in time it never saw.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from gitops_ml.config import ColumnSpec, ColumnType, DatePart, SchemaParams

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

MISSING_CATEGORY = "__missing__"
DATETIME_DTYPE: Final = "datetime64[us]"
"""How the validated data holds a ``datetime`` column: naive (UTC for a value that had an offset), microseconds."""


def parse_datetimes(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``column`` as ISO 8601 dates or datetimes (:data:`DATETIME_DTYPE`), and the mask of values that are not.

    Accepts datetime values and text such as ``2012-01-01``, ``2012-01-01 08:30:00`` or ``2012-01-01T08:30:00Z``;
    a value with an offset is converted to UTC. A missing value stays missing (NaT) and is not bad; a number, or text
    in another format, is bad (NaT in the result).
    """
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        parsed = column
        if getattr(column.dtype, "tz", None) is not None:
            parsed = column.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed.astype(DATETIME_DTYPE), pd.Series(False, index=column.index)
    present = column.notna()
    values = column.astype(object)
    # Numbers would be read as offsets from 1970, booleans as 0 and 1: neither is a date.
    kind_ok = values.map(lambda v: isinstance(v, str | datetime.date | np.datetime64))
    candidates = values.where(present & kind_ok)
    parsed = pd.to_datetime(candidates, format="ISO8601", errors="coerce", utc=True)
    parsed = parsed.dt.tz_localize(None).astype(DATETIME_DTYPE)
    return parsed, present & parsed.isna()


def part_name(column: str, part: DatePart) -> str:
    """The feature a calendar part of a ``datetime`` column becomes: ``<column>_<part>``."""
    return f"{column}_{part.value}"


def date_part_columns(schema: SchemaParams) -> list[str]:
    """The calendar-part features of the schema's ``datetime`` columns, in schema order."""
    return [part_name(name, part) for name, spec in schema.columns.items() for part in spec.date_parts]


def feature_name_clashes(schema: SchemaParams) -> list[str]:
    """Calendar-part features whose name another feature column already has (each must be renamed)."""
    return [name for name in date_part_columns(schema) if name in schema.columns]


QUICK_DATES_MAX = 64
"""A column of at most this many values (a request's) whose values are all plain ISO 8601 text (or missing) is read
value by value (:func:`plain_dates`): pandas takes about a millisecond for one value, this a few microseconds."""
PLAIN_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?")
"""``2012-01-31``, optionally with ``08:30``, seconds, up to 6 decimals and ``Z`` or an offset: text Python's
``fromisoformat`` and pandas' ISO 8601 parser read alike. Anything else goes to :func:`parse_datetimes`."""
PLAIN_RANGE = (datetime.datetime(1677, 9, 22), datetime.datetime(2262, 4, 11))
"""Dates pandas parses (its nanosecond timestamps' range): any other is left to :func:`parse_datetimes`."""
PART_OF_DATETIME: dict[DatePart, Callable[[datetime.datetime], int]] = {
    DatePart.YEAR: lambda d: d.year,
    DatePart.MONTH: lambda d: d.month,
    DatePart.DAY: lambda d: d.day,
    DatePart.DAY_OF_WEEK: lambda d: d.weekday(),  # Monday 0, as pandas' dayofweek
    DatePart.HOUR: lambda d: d.hour,
}


def plain_dates(values: Iterable[Any]) -> list[datetime.datetime | None] | None:
    """Each value as a naive UTC datetime (None where missing) if every value is plain ISO 8601 text
    (:data:`PLAIN_ISO`) or missing, read as :func:`parse_datetimes` reads it; else None."""
    out: list[datetime.datetime | None] = []
    for value in values:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
            continue
        if not isinstance(value, str) or not PLAIN_ISO.fullmatch(value):
            return None
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:  # e.g. 2012-02-30: pandas' parser says it is bad
            return None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
        if not PLAIN_RANGE[0] <= parsed <= PLAIN_RANGE[1]:
            return None
        out.append(parsed)
    return out


def date_parts(name: str, spec: ColumnSpec, column: pd.Series | Sequence[Any]) -> dict[str, np.ndarray]:
    """The calendar-part features of ``datetime`` column ``name``: ``<name>_<part>`` -> float64 (NaN where the date
    is missing), for each of ``spec.date_parts``. The service's model call computes them here too.

    Raises ValueError naming the column and a value that is not an ISO 8601 date or datetime.
    """
    plain = plain_dates(column) if len(column) <= QUICK_DATES_MAX else None
    if plain is not None:
        return {
            part_name(name, part): np.array(
                [math.nan if d is None else PART_OF_DATETIME[part](d) for d in plain], dtype=np.float64
            )
            for part in spec.date_parts
        }
    series = column if isinstance(column, pd.Series) else pd.Series(list(column), dtype=object)
    dates, bad = parse_datetimes(series)
    if bad.any():
        example = series[bad].iloc[0]
        raise ValueError(f"{name}: {example!r} is not an ISO 8601 date or datetime (e.g. 2012-01-31)")
    return {part_name(name, part): _date_part(dates, part) for part in spec.date_parts}


def _date_part(dates: pd.Series, part: DatePart) -> np.ndarray:
    accessor = dates.dt
    values = {
        DatePart.YEAR: accessor.year,
        DatePart.MONTH: accessor.month,
        DatePart.DAY: accessor.day,
        DatePart.DAY_OF_WEEK: accessor.dayofweek,
        DatePart.HOUR: accessor.hour,
    }[part]
    return np.asarray(values, dtype=np.float64)


def model_frame(frame: pd.DataFrame, schema: SchemaParams) -> pd.DataFrame:
    """The schema's features in order: numbers as float64 (NaN for missing), categories as object, each
    ``datetime`` column as its calendar parts (float64, NaN for a missing date).

    Raises ValueError naming a ``datetime`` column that holds something other than an ISO 8601 date (the validated
    data never does; the service checks requests before scoring them).
    """
    columns: dict[str, np.ndarray] = {}
    for name, spec in schema.columns.items():
        column = frame[name]
        if spec.type is ColumnType.CATEGORY:
            columns[name] = column.astype(object).where(column.notna(), np.nan).to_numpy(dtype=object)
        elif spec.type is ColumnType.DATETIME:
            columns |= date_parts(name, spec, column)
        else:
            columns[name] = pd.to_numeric(column, errors="raise").astype("float64").to_numpy()
    return pd.DataFrame(columns, index=frame.index)


def preprocessor(schema: SchemaParams, scale: bool = True) -> ColumnTransformer:
    """Imputation, scaling (if ``scale``) and one-hot encoding for the schema's columns (fitted inside the model).

    ``scale`` is the estimator's ``scale_numeric`` (``estimators.py``): trees split on raw values and need no
    scaler, and without one their compiled float32 scores stay equal to scikit-learn's (a scaled value rounded to
    float32 can cross a split the float64 value does not).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = schema.names_of(ColumnType.FLOAT, ColumnType.INT, ColumnType.BOOL) + date_part_columns(schema)
    categorical = schema.names_of(ColumnType.CATEGORY)
    numeric_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            *([("scale", StandardScaler())] if scale else []),
        ]
    )
    categorical_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            (
                "encode",
                OneHotEncoder(
                    categories=[[*(schema.columns[c].categories or []), MISSING_CATEGORY] for c in categorical],
                    handle_unknown="ignore",
                    sparse_output=False,
                    dtype=np.float64,
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        remainder="drop",
        verbose_feature_names_out=True,
    )
