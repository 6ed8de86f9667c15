"""Inferring a data contract (``schema:`` in params.yaml) from a table, for ``gitops-ml init-data``.

Every rule is here, in one place, so that a team can read why a column got its type or was left out:

- **Unlabelled rows.** Rows whose target is missing (empty, null, blank text) are left out of everything the
  target decides (task, classes, range, table rules, gate) and counted; ``validate`` leaves them out the same way.
- **Task** (``schema.task``), from the target's labelled values unless ``--task`` names it: two distinct values
  (or booleans) -> ``binary``; whole numbers with at most :data:`MAX_INTEGER_CLASSES` distinct values, or text
  labels (at most :data:`CATEGORY_CAP`) -> ``multiclass``; other numbers -> ``regression``. Text that is all
  numbers is read as numbers. A target with one value, text mixed into numbers with too many values to be labels,
  and dates are refused.
- **Binary target.** The positive class (validated as 1) is: ``true`` for booleans; the larger number for numbers
  (1 of 0/1); for labels, the one spelled like a yes (``yes``, ``y``, ``true``, ``t``, ``1``, ``positive``,
  ``pos``, any case) if exactly one is, otherwise the rarer label (the class a model is usually built to find),
  and on a tie the alphabetically last. ``--positive`` overrides.
- **Multiclass target.** ``schema.classes``: every class, numbers in numeric order, labels alphabetically (the
  order is the class index the model's probabilities follow).
- **Classes** need :data:`MIN_CLASS_ROWS` labelled rows each; **regression** gets ``target_min``/``target_max``:
  the observed range widened as a feature's range is (below).
- **Left out** (reported, not features): columns with no values, columns with one value (constant), numbers with
  infinite values, text with more than :data:`CATEGORY_CAP` distinct values (free text, names), dates written
  another way than ISO 8601 (:data:`OTHER_DATE_START`: rewrite them), and any other type (nested values): derive
  numeric or categorical columns from them.
- **Ids** (``schema.ids``: kept with the rows, echoed by the service, never features): integer or text columns
  whose name has an ``id`` word (``id``, ``customer_id``, ``CustomerID``, ``orderId``; also ``uuid``/``guid``),
  text columns unique in every row, and integer columns unique in every row and monotonic (a row number).
- **Types.** Booleans -> ``bool``; integers (the file holds whole numbers only) -> ``int``; other numbers ->
  ``float``; dates and datetimes (date values, or text of which most values start like ``2012-01-31``) ->
  ``datetime``, every value of which must then be an ISO 8601 date; other text with at most
  :data:`CATEGORY_CAP` distinct values -> ``category`` listing them. ``nullable`` when any value is missing.
- **Calendar parts** of a ``datetime`` column (its ``parts``): year, month, day, day of week and hour, each only
  when it varies in the data (a date has no hour); the day of week only when the day of the month varies (for
  ``1970-01-01``, ``1971-01-01``, ... it only restates the year).
- **Ranges** of numbers: the observed [min, max] widened by :data:`HEADROOM` (10%) of its width on each side, not
  below 0 when no value is negative; integers rounded outward to whole numbers (a 0/1 column keeps [0, 1]), floats
  outward to three significant digits of the width.
- **Table rules.** ``min_rows`` = max(50, half the labelled rows); binary: the positive rate may fall to a third or
  rise threefold, and so may the negative rate: ``[max(r/3, 1-3(1-r)), min(3r, 1-(1-r)/3)]`` rounded outward to 4
  decimals. The gate's defaults for the task come from :mod:`gitops_ml.model_metrics`: ``DEFAULT_PRIMARY_METRIC``,
  ``data_guards`` and ``no_skill_floors`` of the encoded target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.config import PREDICTION_FIELDS, ColumnSpec, ColumnType, DatePart
from gitops_ml.errors import InitDataError
from gitops_ml.model_metrics import DEFAULT_PRIMARY_METRIC, data_guards, no_skill_floors
from gitops_ml.pipeline.interface import parse_datetimes, part_name, unlabelled_mask
from gitops_ml.tasks import Task

MIN_ROWS = 100
"""init-data refuses a table with fewer labelled rows: too few to split, train and score with any confidence."""
MIN_CLASS_ROWS = 10
"""... or a classification target with fewer labelled rows than this in a class."""
MAX_INTEGER_CLASSES = 10
"""Whole numbers with at most this many distinct values are classes (a rating, a digit); more are a quantity."""
CATEGORY_CAP = 50
"""The most distinct values of a text column that is a category (more: free text), and of a text target."""
HEADROOM = 0.10
ID_WORDS = frozenset({"id", "ids", "uuid", "guid"})
YES_SPELLINGS = frozenset({"yes", "y", "true", "t", "1", "positive", "pos"})
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ISO_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
OTHER_DATE_START = re.compile(r"^(\d{4}[/.]\d{1,2}[/.]\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})(\D|$)")
"""Dates written another way (``2012/01/31``, ``31.01.2012``, ``01/31/2012``): which is day and which month is a
guess, so they are left out with a request to write them as ISO dates."""
SHOWN_VALUES = 10

TargetValue = bool | int | str


@dataclass(frozen=True)
class TargetFacts:
    """The target: its task, its classes (classification) or range (regression), and its labelled values encoded
    as ``validate`` encodes them."""

    name: str
    task: Task
    classes: list[TargetValue]
    """Classification: the classes in index order (binary: negative, positive). Empty for regression."""
    encoded: np.ndarray
    """Each labelled row's target: class index (classification) or value (regression)."""
    unlabelled: int
    """Rows whose target is missing (left out)."""
    reason: str
    """Why this task (and, binary, why this positive class), for the command's output."""

    @property
    def rows(self) -> int:
        """Labelled rows."""
        return len(self.encoded)

    @property
    def positive(self) -> TargetValue:
        """Binary: the positive class."""
        return self.classes[1]

    @property
    def negative(self) -> TargetValue:
        """Binary: the negative class."""
        return self.classes[0]

    @property
    def class_rows(self) -> dict[TargetValue, int]:
        """Classification: labelled rows per class, in index order."""
        counts = np.bincount(self.encoded.astype(np.int64), minlength=len(self.classes))
        return {label: int(n) for label, n in zip(self.classes, counts, strict=True)}

    @property
    def positives(self) -> int:
        """Binary: labelled rows of the positive class."""
        return int(self.encoded.sum())

    @property
    def rate(self) -> float:
        """Binary: share of labelled rows in the positive class."""
        return self.positives / self.rows


@dataclass(frozen=True)
class InferredContract:
    """What init-data learned from the table: target, feature columns, ids, left-out columns, table rules."""

    target: TargetFacts
    columns: dict[str, ColumnSpec]
    notes: dict[str, str]
    """Observed facts per feature column (range, distinct values, missing), written as comments."""
    ids: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    """Column -> why it is not a feature."""
    target_range: tuple[float | int, float | int] | None = None
    """Regression: ``schema.target_min`` and ``target_max``."""

    @property
    def task(self) -> Task:
        """The task (``schema.task``)."""
        return self.target.task

    @property
    def rows(self) -> int:
        """Labelled rows in the table."""
        return self.target.rows

    @property
    def min_rows(self) -> int:
        """``schema.min_rows``: half the labelled rows, at least 50."""
        return max(MIN_ROWS // 2, self.rows // 2)

    @property
    def target_rate_bounds(self) -> tuple[float, float]:
        """Binary: ``schema.min_target_rate`` and ``max_target_rate`` (see the module docstring)."""
        rate = self.target.rate
        low = max(rate / 3, 1 - 3 * (1 - rate))
        high = min(3 * rate, 1 - (1 - rate) / 3)
        return _round4(low, math.floor), _round4(high, math.ceil)

    @property
    def primary_metric(self) -> str:
        """``gate.primary_metric``: the task's default."""
        return DEFAULT_PRIMARY_METRIC[self.task]

    @property
    def guards(self) -> dict[str, float]:
        """``gate.guards``: the task's, with the target's scale where a guard needs it."""
        return data_guards(self.task, self.target.encoded)

    @property
    def floors(self) -> dict[str, float]:
        """``gate.floors``: the scores a model with no skill on this target fails."""
        return no_skill_floors(self.task, self.target.encoded)


def _round4(value: float, direction: Callable[[float], int]) -> float:
    """``value`` rounded to 4 decimals with ``math.floor`` or ``math.ceil`` (3 * 0.05 is 0.15, not 0.1501)."""
    return direction(round(value * 10_000, 6)) / 10_000


def _show(values: list[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _show_some(values: list[Any]) -> str:
    return _show(values[:SHOWN_VALUES]) + (", ..." if len(values) > SHOWN_VALUES else "")


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as the plain Python value YAML and pydantic expect."""
    return value.item() if isinstance(value, np.generic) else value


def _numbers_first(value: Any) -> tuple[int, float, str]:
    """Sort key: numbers in numeric order (2 before 10), then everything else as text."""
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return 0, float(value), ""
    return 1, 0.0, str(value)


def _whole(values: pd.Series) -> bool:
    return bool(np.all(np.mod(values.to_numpy(dtype=np.float64), 1) == 0))


def _numbers_of(values: pd.Series) -> pd.Series | None:
    """The labelled target as float64 when every value is a number (text such as "3.5" included), else None."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return None
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    numbers = pd.to_numeric(values.astype(object), errors="coerce")
    return numbers.astype("float64") if numbers.notna().all() else None


def _pick_task(name: str, values: pd.Series, numbers: pd.Series | None, distinct: int) -> tuple[Task, str]:
    """The task the target's labelled values suggest, and why (module docstring)."""
    if distinct == 2:
        return Task.BINARY, "two distinct values"
    if numbers is not None:
        if _whole(numbers) and distinct <= MAX_INTEGER_CLASSES:
            return Task.MULTICLASS, f"{distinct} whole numbers (at most {MAX_INTEGER_CLASSES} are classes)"
        return Task.REGRESSION, f"numbers with {distinct} distinct values"
    if distinct <= CATEGORY_CAP:
        return Task.MULTICLASS, f"{distinct} labels"
    numeric = pd.to_numeric(values.astype(object), errors="coerce")
    if numeric.notna().mean() >= 0.5:
        text = values[numeric.isna()]
        raise InitDataError(
            f"target '{name}' holds numbers, but {len(text)} row(s) hold text ({_show_some(list(text.unique()))}); "
            "a regression target must be numbers only: fix those rows, or blank them (rows without a target are "
            "left out as unlabelled)"
        )
    raise InitDataError(
        f"target '{name}' has {distinct} distinct labels, more than {CATEGORY_CAP} classes; merge the rare ones into "
        "fewer classes, or choose another column as the target"
    )


def infer_target(column: pd.Series, positive: str | None = None, task: Task | None = None) -> TargetFacts:
    """The target's task, classes or values; raise :class:`InitDataError` when it cannot be a target (or not one
    of ``task``)."""
    name = str(column.name)
    unlabelled = unlabelled_mask(column)
    values = column[~unlabelled]
    if values.empty:
        raise InitDataError(
            f"target '{name}' has no value in any of the {len(column)} row(s): every row is unlabelled; fill in "
            f"the target of the rows to train on"
        )
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or values.map(lambda v: hasattr(v, "isoformat")).any():
        raise InitDataError(f"target '{name}' holds dates; a target is a class or a number: choose another column")
    counts = values.value_counts()
    distinct = len(counts)
    if distinct == 1:
        raise InitDataError(
            f"target '{name}' has one value ({_plain(counts.index[0])!r}) in every labelled row; a model needs at "
            "least two: choose another column as the target, or add rows of the other classes"
        )
    numbers = _numbers_of(values)
    if task is None:
        task, reason = _pick_task(name, values, numbers, distinct)
    else:
        reason = "chosen with --task"
    if positive is not None and task is not Task.BINARY:
        raise InitDataError(f"--positive applies to a binary target only; target '{name}' is {task.value}")
    count = int(unlabelled.sum())
    if task is Task.BINARY:
        return _binary(name, values, counts, positive, reason, count)
    if task is Task.MULTICLASS:
        return _multiclass(name, values, counts, numbers, reason, count)
    if numbers is None:
        text = values[pd.to_numeric(values.astype(object), errors="coerce").isna()]
        shown = _show_some(list(text.unique()))
        raise InitDataError(
            f"target '{name}' holds text ({shown} in {len(text)} row(s)); a regression target must be numbers: fix "
            "or blank those rows, or choose the task with TASK=binary|multiclass"
        )
    return TargetFacts(name, Task.REGRESSION, [], numbers.to_numpy(dtype=np.float64), count, reason)


def _binary(
    name: str, values: pd.Series, counts: pd.Series, positive: str | None, reason: str, unlabelled: int
) -> TargetFacts:
    if len(counts) != 2:
        shown = _show_some(sorted((_plain(v) for v in counts.index), key=_numbers_first))
        raise InitDataError(
            f"target '{name}' is not binary: it has {len(counts)} distinct value(s) ({shown}); a binary target has "
            "exactly two: 0/1, true/false, or two labels such as yes/no (or leave TASK out to infer the task)"
        )
    raw = [_plain(v) for v in counts.index]  # most common first
    classes: dict[TargetValue, int]
    chosen: TargetValue
    if pd.api.types.is_bool_dtype(values.dtype):
        classes = {bool(v): int(n) for v, n in zip(raw, counts, strict=True)}
        chosen, why = True, "true is positive"
    elif pd.api.types.is_numeric_dtype(values.dtype):
        if not all(float(v).is_integer() for v in raw):
            raise InitDataError(
                f"target '{name}' has the values {_show(sorted(raw))}; numbers must be whole (0/1): "
                "recode it, or write the two classes as labels"
            )
        classes = {int(v): int(n) for v, n in zip(raw, counts, strict=True)}
        chosen, why = max(int(v) for v in classes), "the larger number is positive"
    else:
        classes = {str(v): int(n) for v, n in zip(raw, counts, strict=True)}
        labels = [str(v) for v in classes]
        yes = [v for v in labels if v.strip().lower() in YES_SPELLINGS]
        if len(yes) == 1:
            chosen, why = yes[0], "it is spelled like a yes"
        elif classes[labels[1]] < classes[labels[0]]:
            chosen, why = labels[1], "it is the rarer label"
        else:
            chosen, why = max(labels), "both labels are equally common: the last one alphabetically"
    if positive is not None:
        matches = [v for v in classes if str(v).lower() == positive.strip().lower()]
        if not matches:
            raise InitDataError(
                f"--positive {positive!r} is not a value of target '{name}'; its values are {_show(list(classes))}"
            )
        chosen, why = matches[0], "chosen with --positive"
    negative = next(v for v in classes if v != chosen)
    encoded = (values == chosen).to_numpy(dtype=np.int64, na_value=0)
    return TargetFacts(name, Task.BINARY, [negative, chosen], encoded, unlabelled, f"{reason}; positive: {why}")


def _multiclass(
    name: str, values: pd.Series, counts: pd.Series, numbers: pd.Series | None, reason: str, unlabelled: int
) -> TargetFacts:
    if len(counts) < 3:
        raise InitDataError(
            f"target '{name}' has {len(counts)} classes; multiclass needs at least 3: use TASK=binary (or leave TASK "
            "out to infer the task)"
        )
    raw = [_plain(v) for v in counts.index]
    classes: list[TargetValue]
    if pd.api.types.is_bool_dtype(values.dtype) or numbers is None or not pd.api.types.is_numeric_dtype(values.dtype):
        classes = sorted((str(v) for v in raw), key=_numbers_first)
        if numbers is not None:  # labels that read as numbers ("1", "2"): numeric order, kept as the text they are
            classes = sorted(classes, key=float)
        lookup = values.astype(str)
    else:
        if not _whole(numbers):
            raise InitDataError(
                f"target '{name}' holds numbers that are not whole ({_show_some(sorted(raw))}); classes are whole "
                "numbers or labels: use TASK=regression, or recode the classes"
            )
        classes = sorted(int(v) for v in raw)
        lookup = numbers
    index = {label: i for i, label in enumerate(classes)}
    encoded = lookup.map(lambda v: index[int(v) if isinstance(v, float) else v]).to_numpy(dtype=np.int64)
    return TargetFacts(name, Task.MULTICLASS, classes, encoded, unlabelled, reason)


def _name_has_id_word(name: str) -> bool:
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return any(word.lower() in ID_WORDS for word in words)


def _is_text(column: pd.Series) -> bool:
    if isinstance(column.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(column.dtype):
        return bool(column.dropna().map(lambda v: isinstance(v, str)).all())
    return False


def _is_int(column: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)


def _is_id(column: pd.Series, values: pd.Series) -> bool:
    if not (_is_int(column) or _is_text(column)):
        return False
    if _name_has_id_word(str(column.name)):
        return True
    unique = len(values) == len(column) and values.nunique() == len(column)
    if _is_text(column):
        return unique
    return unique and (values.is_monotonic_increasing or values.is_monotonic_decreasing)


def numeric_range(values: pd.Series, integer: bool) -> tuple[float | int, float | int]:
    """The [min, max] a numeric column's contract allows: observed range plus headroom (module docstring)."""
    low, high = float(values.min()), float(values.max())
    if integer and low >= 0 and high <= 1:
        return 0, 1  # a 0/1 flag
    pad = HEADROOM * (high - low)
    wide_low, wide_high = low - pad, high + pad
    if low >= 0:
        wide_low = max(wide_low, 0.0)
    if integer:
        return math.floor(wide_low), math.ceil(wide_high)
    exponent = math.floor(math.log10(high - low)) - 2
    step = 10.0**exponent
    digits = max(0, -exponent)
    return round(math.floor(wide_low / step) * step, digits), round(math.ceil(wide_high / step) * step, digits)


def _fmt(value: float) -> str:
    return f"{value:g}"


def _looks_like_dates(column: pd.Series, values: pd.Series) -> bool:
    """Date values, or text most of whose values start like an ISO date (``2012-01-31``)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return True
    if pd.api.types.is_object_dtype(column.dtype) and values.map(lambda v: hasattr(v, "isoformat")).all():
        return True  # pyarrow reads a CSV's ISO dates as datetime.date objects
    return _is_text(column) and _share_matching(values, ISO_DATE_START) > 0.5


def _share_matching(values: pd.Series, pattern: re.Pattern[str]) -> float:
    return float(values.astype(str).str.strip().str.match(pattern).mean())


def _other_date_form(column: pd.Series, values: pd.Series) -> str | None:
    """Why a text column of dates not written as ISO 8601 is left out, or None when it is not one."""
    if not _is_text(column) or _share_matching(values, OTHER_DATE_START) <= 0.5:
        return None
    example = str(values.iloc[0]).strip()
    return f"dates not written as ISO 8601 (e.g. {example!r}): rewrite them as 2012-01-31 to use them as a feature"


def date_parts(dates: pd.Series) -> list[DatePart]:
    """The calendar parts that vary among ``dates`` (module docstring: the day of week only when the day does)."""
    accessor = dates.dt
    varying = {
        DatePart.YEAR: accessor.year.nunique() > 1,
        DatePart.MONTH: accessor.month.nunique() > 1,
        DatePart.DAY: accessor.day.nunique() > 1,
        DatePart.HOUR: accessor.hour.nunique() > 1,
    }
    varying[DatePart.DAY_OF_WEEK] = varying[DatePart.DAY]
    return [part for part in DatePart if varying[part]]


def _datetime_feature(column: pd.Series, nullable: bool, missing: str) -> tuple[ColumnSpec | None, str]:
    name = str(column.name)
    parsed, bad = parse_datetimes(column)
    if bad.any():
        examples = _show_some(list(column[bad].astype(str).unique()))
        raise InitDataError(
            f"column '{name}' holds dates, but {int(bad.sum())} value(s) are not ISO 8601 dates ({examples}); "
            "write them as 2012-01-31 or 2012-01-31 08:30:00, or blank them (a missing date is allowed)"
        )
    dates = parsed.dropna()
    parts = date_parts(dates)
    if not parts:
        return None, "dates that differ only within an hour: derive a feature from them"
    first, last = (pd.Timestamp(t) for t in (dates.min(), dates.max()))
    if DatePart.HOUR in parts:
        span = f"{first.isoformat(sep=' ')} to {last.isoformat(sep=' ')}"
    else:
        span = f"{first.date().isoformat()} to {last.date().isoformat()}"
    note = f"observed {span}{missing}"
    return ColumnSpec(type=ColumnType.DATETIME, nullable=nullable, parts=parts), note


def _feature(column: pd.Series, values: pd.Series) -> tuple[ColumnSpec | None, str]:
    """The column's spec and a note of what was observed, or (None, why it is left out)."""
    nullable = bool(column.isna().any())
    missing = f", {int(column.isna().sum())} missing" if nullable else ""
    if pd.api.types.is_bool_dtype(column.dtype):
        return ColumnSpec(type=ColumnType.BOOL, nullable=nullable), f"observed true/false{missing}"
    if pd.api.types.is_numeric_dtype(column.dtype):
        numbers = values.astype("float64")
        if not np.isfinite(numbers.to_numpy()).all():
            return None, "has infinite values"
        integer = _is_int(column)
        low, high = numeric_range(numbers, integer)
        kind = ColumnType.INT if integer else ColumnType.FLOAT
        note = f"observed {_fmt(numbers.min())} to {_fmt(numbers.max())}{missing}"
        return ColumnSpec(type=kind, nullable=nullable, min=low, max=high), note
    if _looks_like_dates(column, values):
        return _datetime_feature(column, nullable, missing)
    if _is_text(column):
        distinct = sorted(values.astype(str).unique())
        if len(distinct) > CATEGORY_CAP:
            return None, f"text with {len(distinct)} distinct values (more than {CATEGORY_CAP} categories)"
        note = f"{len(distinct)} categories observed{missing}"
        return ColumnSpec(type=ColumnType.CATEGORY, nullable=nullable, categories=distinct), note
    held = type(values.iloc[0]).__name__
    return None, f"holds {held} values, not numbers, booleans, dates or text: derive features from it"


def check_field_names(names: list[str], ids: list[str], all_columns: list[str]) -> None:
    """Refuse column names that cannot be fields of the contract and the service's request and response."""
    problems = []
    for name in names:
        if not FIELD_NAME.match(name):
            base = name.rsplit(".", 1)[0]
            hint = f" (a second column named '{base}'?)" if "." in name and base in all_columns else ""
            suggestion = re.sub(r"\W+", "_", name.strip()).strip("_").lower() or "a_name"
            suggestion = f"col_{suggestion}" if suggestion[0].isdigit() else suggestion
            problems.append(f"'{name}'{hint}: use letters, digits and _, not starting with a digit (e.g. {suggestion})")
    problems += [
        f"'{name}': an id column of that name would collide with the prediction's '{name}' field"
        for name in ids
        if name in PREDICTION_FIELDS
    ]
    if problems:
        raise InitDataError(
            "column name(s) that cannot be fields of the data contract:\n  "
            + "\n  ".join(problems)
            + "\nRename them in the file, then run init-data again."
        )


def _check_class_rows(facts: TargetFacts) -> None:
    rare = {label: n for label, n in facts.class_rows.items() if n < MIN_CLASS_ROWS}
    if rare:
        shown = ", ".join(f"{label!r} has {n}" for label, n in rare.items())
        raise InitDataError(
            f"target '{facts.name}': too few labelled rows of a class ({shown}); init-data needs at least "
            f"{MIN_CLASS_ROWS} of each to split, train and evaluate: add rows of that class, merge it into another "
            "class, or drop its rows"
        )


def _check_part_names(columns: dict[str, ColumnSpec]) -> None:
    clashes = [
        f"'{part_name(name, part)}' (a part of datetime column '{name}')"
        for name, spec in columns.items()
        for part in spec.date_parts
        if part_name(name, part) in columns
    ]
    if clashes:
        raise InitDataError(
            f"column name(s) taken by a calendar feature: {', '.join(clashes)}; rename those columns in the file, "
            "then run init-data again"
        )


def infer_contract(
    frame: pd.DataFrame, target: str, positive: str | None = None, task: Task | None = None
) -> InferredContract:
    """Infer the data contract of ``frame`` with ``target`` as the label (its task inferred unless ``task`` is
    given); raise :class:`InitDataError` if the table is unusable."""
    names = [str(name) for name in frame.columns]
    if target not in names:
        raise InitDataError(f"no column '{target}' to use as the target; the columns are: {', '.join(names)}")
    facts = infer_target(frame[target], positive, task)
    if facts.rows < MIN_ROWS:
        left_out = f" ({facts.unlabelled} more without a target)" if facts.unlabelled else ""
        raise InitDataError(
            f"the file has {facts.rows} labelled rows{left_out}; init-data needs at least {MIN_ROWS} rows with a "
            f"target ('{target}')"
        )
    target_range = None
    if facts.task.is_classification:
        _check_class_rows(facts)
    else:
        integer = _whole(pd.Series(facts.encoded)) and _is_int(frame[target].dropna())
        target_range = numeric_range(pd.Series(facts.encoded), integer)
    columns: dict[str, ColumnSpec] = {}
    notes: dict[str, str] = {}
    ids: list[str] = []
    excluded: dict[str, str] = {}
    for name in names:
        if name == target:
            continue
        column = frame[name]
        values = column.dropna()
        if values.empty:
            excluded[name] = "has no values"
        elif values.nunique() == 1:
            excluded[name] = f"constant ({_plain(values.iloc[0])!r} in every row that has a value)"
        elif other_form := _other_date_form(column, values):
            excluded[name] = other_form
        elif _is_id(column, values) and not _looks_like_dates(column, values):  # daily rows: unique dates
            ids.append(name)
        else:
            spec, note = _feature(column, values)
            if spec is None:
                excluded[name] = note
            else:
                columns[name], notes[name] = spec, note
    if not columns:
        raise InitDataError(
            f"no column can be a feature: {', '.join(f'{n} ({why})' for n, why in excluded.items()) or 'none left'}"
            + (f"; ids: {', '.join(ids)}" if ids else "")
        )
    check_field_names([target, *ids, *columns], ids, names)
    _check_part_names(columns)
    return InferredContract(facts, columns, notes, ids, excluded, target_range)
