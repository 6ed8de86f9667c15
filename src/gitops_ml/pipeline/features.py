"""Turning validated rows into the frame the model sees, and the preprocessing inside the model.

Training, evaluation, the release gate and the service all call :func:`model_frame`, so a model never sees
features prepared two different ways. A ``datetime`` column becomes its calendar parts (``<column>_year``,
``<column>_month``, ... as numbers, the column's ``parts`` in the schema); the date itself is no feature, as a model
cannot extrapolate from a point in time it never saw.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from gitops_ml.config import ColumnType, DatePart, SchemaParams

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
            dates, bad = parse_datetimes(column)
            if bad.any():
                example = column[bad].iloc[0]
                raise ValueError(f"{name}: {example!r} is not an ISO 8601 date or datetime (e.g. 2012-01-31)")
            for part in spec.date_parts:
                columns[part_name(name, part)] = _date_part(dates, part)
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
