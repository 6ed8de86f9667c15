"""Inferring a data contract (``schema:`` in params.yaml) from a table, for ``gitops-ml init-data``.

Every rule is here, in one place, so that a team can read why a column got its type or was left out:

- **Target.** Exactly two distinct values and no missing ones. The positive class (validated as 1) is: ``true``
  for booleans; the larger number for numbers (1 of 0/1); for labels, the one spelled like a yes (``yes``, ``y``,
  ``true``, ``t``, ``1``, ``positive``, ``pos``, any case) if exactly one is, otherwise the rarer label (the class
  a model is usually built to find), and on a tie the alphabetically last. ``--positive`` overrides.
- **Left out** (reported, not features): columns with no values, columns with one value (constant), numbers with
  infinite values, text with more than :data:`CATEGORY_CAP` distinct values, and any other type (dates, times,
  nested values): derive numeric or categorical columns from them.
- **Ids** (``schema.ids``: kept with the rows, echoed by the service, never features): integer or text columns
  whose name has an ``id`` word (``id``, ``customer_id``, ``CustomerID``, ``orderId``; also ``uuid``/``guid``),
  text columns unique in every row, and integer columns unique in every row and monotonic (a row number).
- **Types.** Booleans -> ``bool``; integers (the file holds whole numbers only) -> ``int``; other numbers ->
  ``float``; text with at most :data:`CATEGORY_CAP` distinct values -> ``category`` listing them. ``nullable``
  when any value is missing.
- **Ranges** of numbers: the observed [min, max] widened by :data:`HEADROOM` (10%) of its width on each side, not
  below 0 when no value is negative; integers rounded outward to whole numbers (a 0/1 column keeps [0, 1]), floats
  outward to three significant digits of the width.
- **Table rules.** ``min_rows`` = max(50, half the rows); the positive rate may fall to a third or rise
  threefold, and so may the negative rate: ``[max(r/3, 1-3(1-r)), min(3r, 1-(1-r)/3)]`` rounded outward to 4
  decimals; ``gate.floors``: ``roc_auc`` :data:`ROC_AUC_FLOOR` (better than chance), ``average_precision`` the
  positive rate (the score of a model with no skill).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.config import PREDICTION_FIELDS, ColumnSpec, ColumnType
from gitops_ml.errors import InitDataError

MIN_ROWS = 100
"""init-data refuses a table with fewer rows: too few to split, train and score with any confidence."""
MIN_CLASS_ROWS = 10
"""... or with fewer rows than this in either class."""
CATEGORY_CAP = 50
HEADROOM = 0.10
ROC_AUC_FLOOR = 0.55
ID_WORDS = frozenset({"id", "ids", "uuid", "guid"})
YES_SPELLINGS = frozenset({"yes", "y", "true", "t", "1", "positive", "pos"})
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SHOWN_VALUES = 10

TargetValue = bool | int | str


@dataclass(frozen=True)
class TargetFacts:
    """The binary target: which raw value is positive, and how often it occurs."""

    name: str
    positive: TargetValue
    negative: TargetValue
    positives: int
    rows: int
    reason: str
    """Why this value is the positive class (for the command's output)."""

    @property
    def rate(self) -> float:
        """Share of rows in the positive class."""
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

    @property
    def rows(self) -> int:
        """Rows in the table."""
        return self.target.rows

    @property
    def min_rows(self) -> int:
        """``schema.min_rows``: half the rows, at least 50."""
        return max(MIN_ROWS // 2, self.rows // 2)

    @property
    def target_rate_bounds(self) -> tuple[float, float]:
        """``schema.min_target_rate`` and ``max_target_rate`` (see the module docstring)."""
        rate = self.target.rate
        low = max(rate / 3, 1 - 3 * (1 - rate))
        high = min(3 * rate, 1 - (1 - rate) / 3)
        return _round4(low, math.floor), _round4(high, math.ceil)

    @property
    def floors(self) -> dict[str, float]:
        """``gate.floors``: better than chance on ROC AUC, better than no skill on average precision."""
        return {"roc_auc": ROC_AUC_FLOOR, "average_precision": _round4(self.target.rate, math.floor)}


def _round4(value: float, direction: Callable[[float], int]) -> float:
    """``value`` rounded to 4 decimals with ``math.floor`` or ``math.ceil`` (3 * 0.05 is 0.15, not 0.1501)."""
    return direction(round(value * 10_000, 6)) / 10_000


def _show(values: list[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as the plain Python value YAML and pydantic expect."""
    return value.item() if isinstance(value, np.generic) else value


def _numbers_first(value: Any) -> tuple[int, float, str]:
    """Sort key: numbers in numeric order (2 before 10), then everything else as text."""
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return 0, float(value), ""
    return 1, 0.0, str(value)


def infer_target(column: pd.Series, positive: str | None = None) -> TargetFacts:
    """The target's two classes and which is positive; raise :class:`InitDataError` if it is not binary."""
    name = str(column.name)
    missing = int(column.isna().sum())
    if missing:
        raise InitDataError(
            f"target '{name}' has no value in {missing} row(s); every row needs a label: drop or fill those rows"
        )
    counts = column.value_counts(dropna=True)  # most common first
    if len(counts) != 2:
        values = sorted((_plain(v) for v in counts.index), key=_numbers_first)
        shown = _show(values[:SHOWN_VALUES]) + (", ..." if len(values) > SHOWN_VALUES else "")
        raise InitDataError(
            f"target '{name}' is not binary: it has {len(values)} distinct value(s) ({shown}); init-data needs "
            "exactly two: 0/1, true/false, or two labels such as yes/no"
        )
    raw = [_plain(v) for v in counts.index]
    classes: dict[TargetValue, int]
    chosen: TargetValue
    if pd.api.types.is_bool_dtype(column.dtype):
        classes = {bool(v): int(n) for v, n in zip(raw, counts, strict=True)}
        chosen, reason = True, "true is positive"
    elif pd.api.types.is_numeric_dtype(column.dtype):
        if not all(float(v).is_integer() for v in raw):
            raise InitDataError(
                f"target '{name}' has the values {_show(sorted(raw))}; numbers must be whole (0/1): "
                "recode it, or write the two classes as labels"
            )
        classes = {int(v): int(n) for v, n in zip(raw, counts, strict=True)}
        chosen, reason = max(int(v) for v in classes), "the larger number is positive"
    else:
        classes = {str(v): int(n) for v, n in zip(raw, counts, strict=True)}
        labels = [str(v) for v in classes]
        yes = [v for v in labels if v.strip().lower() in YES_SPELLINGS]
        if len(yes) == 1:
            chosen, reason = yes[0], "it is spelled like a yes"
        elif classes[labels[1]] < classes[labels[0]]:
            chosen, reason = labels[1], "it is the rarer label"
        else:
            chosen, reason = max(labels), "both labels are equally common: the last one alphabetically"
    if positive is not None:
        matches = [v for v in classes if str(v).lower() == positive.strip().lower()]
        if not matches:
            raise InitDataError(
                f"--positive {positive!r} is not a value of target '{name}'; its values are {_show(list(classes))}"
            )
        chosen, reason = matches[0], "chosen with --positive"
    negative = next(v for v in classes if v != chosen)
    return TargetFacts(name, chosen, negative, classes[chosen], len(column), reason)


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
    if _is_text(column):
        distinct = sorted(values.astype(str).unique())
        if len(distinct) > CATEGORY_CAP:
            return None, f"text with {len(distinct)} distinct values (more than {CATEGORY_CAP} categories)"
        note = f"{len(distinct)} categories observed{missing}"
        return ColumnSpec(type=ColumnType.CATEGORY, nullable=nullable, categories=distinct), note
    held = type(values.iloc[0]).__name__
    return None, f"holds {held} values, not numbers, booleans or text: derive features from it"


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


def infer_contract(frame: pd.DataFrame, target: str, positive: str | None = None) -> InferredContract:
    """Infer the data contract of ``frame`` with ``target`` as the label; raise :class:`InitDataError` if unusable."""
    names = [str(name) for name in frame.columns]
    if target not in names:
        raise InitDataError(f"no column '{target}' to use as the target; the columns are: {', '.join(names)}")
    if len(frame) < MIN_ROWS:
        raise InitDataError(f"the file has {len(frame)} rows; init-data needs at least {MIN_ROWS}")
    facts = infer_target(frame[target], positive)
    smaller = min(facts.positives, facts.rows - facts.positives)
    if smaller < MIN_CLASS_ROWS:
        raise InitDataError(
            f"target '{target}' has only {smaller} row(s) in one class; init-data needs at least {MIN_CLASS_ROWS} "
            f"of each (and {MIN_ROWS} rows in all) to split, train and evaluate"
        )
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
        elif _is_id(column, values):
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
    return InferredContract(facts, columns, notes, ids, excluded)
