"""Stage ``validate``: check the raw data against the contract in ``params.yaml`` and write it typed.

The contract (a pandera schema) is built from the ``schema:`` section, so changing a range or adding a
category is a params change that DVC sees. Bad data stops the pipeline with one line per failing column and
check, with the number of bad rows, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from gitops_ml.config import ColumnSpec, ColumnType, SchemaParams
from gitops_ml.errors import DataContractError
from gitops_ml.io import atomic_write, write_json
from gitops_ml.vcs import file_md5

# Accepted spellings of a boolean; 1/0 as numbers are covered by True/False (equal hashes).
BOOL_SPELLINGS: dict[object, bool] = {True: True, False: False} | {
    spelling: value
    for value, spellings in ((True, ("true", "True", "TRUE", "1")), (False, ("false", "False", "FALSE", "0")))
    for spelling in spellings
}


@dataclass(frozen=True)
class Violation:
    """One failing check on one column, with the number of rows that break it."""

    column: str
    check: str
    bad_rows: int
    examples: list[str]

    def describe(self) -> str:
        shown = ", ".join(self.examples)
        return f"  {self.column}: {self.bad_rows} bad row(s), check {self.check} (e.g. {shown})"


def _column_checks(spec: ColumnSpec) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if spec.min is not None:
        checks.append(pa.Check.greater_than_or_equal_to(spec.min))
    if spec.max is not None:
        checks.append(pa.Check.less_than_or_equal_to(spec.max))
    if spec.categories is not None:
        checks.append(pa.Check.isin(spec.categories))
    if spec.type is ColumnType.INT:
        checks.append(pa.Check(lambda s: (s % 1) == 0, name="is_whole_number", error="is_whole_number"))
    return checks


def build_contract(schema: SchemaParams) -> pa.DataFrameSchema:
    """The pandera schema for ``schema`` (after :func:`coerce_types`): value rules and nullability.

    Every feature column plus the target (mapped to 0/1) is required; id columns pass through unchecked.
    """
    columns = {
        name: pa.Column(checks=_column_checks(spec), nullable=spec.nullable, required=True)
        for name, spec in schema.columns.items()
    }
    columns[schema.target] = pa.Column(checks=pa.Check.isin([0, 1]), nullable=False, required=True)
    return pa.DataFrameSchema(columns, strict=False, name="data contract")


def _examples(values: pd.Series) -> list[str]:
    return [repr(v) for v in values.drop_duplicates().head(3)]


def target_as_binary(column: pd.Series, schema: SchemaParams) -> pd.Series:
    """The target as 1 (``schema.positive_class``), 0 (``schema.negative_class``) or missing (anything else).

    Compared with ``==``, so 1 also matches ``True`` and ``1.0``: a 0/1 column read as booleans or floats still maps.
    """
    positive = (column == schema.positive_class).to_numpy(dtype=bool, na_value=False)
    negative = (column == schema.negative_class).to_numpy(dtype=bool, na_value=False)
    values = np.where(positive, 1.0, np.where(negative, 0.0, np.nan))
    return pd.Series(values, index=column.index, name=column.name)


def coerce_types(frame: pd.DataFrame, schema: SchemaParams) -> tuple[pd.DataFrame, list[Violation]]:
    """Convert each column to its schema type; values that do not convert become missing and are reported.

    Id columns come first, unchanged; the target is mapped to 0/1 by :func:`target_as_binary`.
    """
    coerced: dict[str, pd.Series] = {name: frame[name] for name in schema.ids}
    violations: list[Violation] = []
    target = frame[schema.target]
    coerced_target = target_as_binary(target, schema)
    bad = target.notna() & coerced_target.isna()
    if bad.any():
        expected = f"is {schema.positive_class!r} (positive) or {schema.negative_class!r} (negative)"
        violations.append(Violation(schema.target, expected, int(bad.sum()), _examples(target[bad])))
    kinds = {name: spec.type for name, spec in schema.columns.items()}
    for name, kind in kinds.items():
        column = frame[name]
        if kind is ColumnType.CATEGORY:
            coerced[name] = column.astype("string")
            continue
        if kind is ColumnType.BOOL and pd.api.types.is_bool_dtype(column):
            coerced[name] = column.astype("boolean")  # already booleans: skip the per-value map (1 s per 1M rows)
            continue
        if kind is ColumnType.BOOL:
            converted = column.map(lambda v: BOOL_SPELLINGS.get(v) if isinstance(v, str | bool | int) else None)
            converted = converted.astype("boolean")
            expected = "a boolean (true/false or 1/0)"
        else:
            converted = pd.to_numeric(column, errors="coerce").astype("float64")
            expected = "a number"
        bad = column.notna() & converted.isna()
        if bad.any():
            violations.append(Violation(name, f"is {expected}", int(bad.sum()), _examples(column[bad])))
        coerced[name] = converted
    coerced[schema.target] = coerced_target
    return pd.DataFrame(coerced, index=frame.index), violations


def _violations(errors: SchemaErrors, already_bad: set[str]) -> list[Violation]:
    cases = errors.failure_cases.copy()
    cases["column"] = cases["column"].fillna("(table)")
    found: list[Violation] = []
    for (column, check), group in cases.groupby(["column", "check"], sort=True, dropna=False):
        if check == "not_nullable" and column in already_bad:
            group = group[group["failure_case"].notna()]  # nulls we made from unconvertible values
            if group.empty:
                continue
        bad_rows = int(group["index"].nunique()) if group["index"].notna().any() else len(group)
        found.append(Violation(str(column), str(check), bad_rows, _examples(group["failure_case"])))
    return found


def check_frame(frame: pd.DataFrame, schema: SchemaParams) -> pd.DataFrame:
    """Validate ``frame`` against the contract; return it typed, or raise :class:`DataContractError`."""
    missing = [c for c in [*schema.ids, *schema.columns, schema.target] if c not in frame.columns]
    if missing:
        raise DataContractError(
            "the data is missing column(s) the schema requires: "
            + ", ".join(missing)
            + ". Add them to the data, or remove them from schema.columns (or schema.ids) in params.yaml."
        )
    typed, violations = coerce_types(frame, schema)
    try:
        build_contract(schema).validate(typed, lazy=True)
    except SchemaErrors as errors:
        violations += _violations(errors, {v.column for v in violations})
    if violations:
        lines = "\n".join(v.describe() for v in sorted(violations, key=lambda v: (v.column, v.check)))
        raise DataContractError(
            f"the data breaks the contract in params.yaml (schema:):\n{lines}\n"
            "Fix the rows, or widen the column's rule under schema.columns in params.yaml."
        )
    typed = _final_types(typed, schema)
    _check_table(typed, schema)
    return typed


def _final_types(frame: pd.DataFrame, schema: SchemaParams) -> pd.DataFrame:
    out = frame.copy()
    for name in schema.names_of(ColumnType.INT):
        out[name] = out[name].astype("Int64")
    out[schema.target] = out[schema.target].astype("int64")
    return out.reset_index(drop=True)


def _check_table(frame: pd.DataFrame, schema: SchemaParams) -> None:
    if len(frame) < schema.min_rows:
        raise DataContractError(
            f"the data has {len(frame)} rows; schema.min_rows in params.yaml requires at least {schema.min_rows}"
        )
    rate = float(frame[schema.target].mean())
    if not schema.min_target_rate <= rate <= schema.max_target_rate:
        raise DataContractError(
            f"{schema.target}: positive rate {rate:.4f} is outside [{schema.min_target_rate}, "
            f"{schema.max_target_rate}] (schema.min_target_rate / schema.max_target_rate in params.yaml)"
        )


PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: Path, dtype_backend: Literal["numpy_nullable"] | None = None) -> pd.DataFrame:
    """Read a CSV file, or a parquet file (by its suffix: ``.parquet``/``.pq``), with pyarrow.

    ``dtype_backend="numpy_nullable"`` keeps integer and boolean columns with missing values as such (``init-data``
    infers types from it); the default gives what the pipeline has always validated. An unreadable file raises
    :class:`DataContractError`.
    """
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    try:
        if parquet:
            return pd.read_parquet(path, dtype_backend=dtype_backend) if dtype_backend else pd.read_parquet(path)
        if dtype_backend:
            return pd.read_csv(path, engine="pyarrow", dtype_backend=dtype_backend)
        return pd.read_csv(path, engine="pyarrow")
    except Exception as exc:  # pyarrow raises several unrelated types for malformed files
        kind = "parquet" if parquet else "CSV"
        raise DataContractError(f"{path} is not a readable {kind} file: {exc}") from None


def read_raw(path: Path) -> pd.DataFrame:
    """Read the raw data (:func:`read_table`); a missing or unreadable file raises :class:`DataContractError`."""
    if not path.exists():
        raise DataContractError(
            f"{path} does not exist: run `make data` (pulls it from the DVC remote or generates the sample)"
        )
    return read_table(path)


def data_summary(frame: pd.DataFrame, schema: SchemaParams, raw_path: Path) -> dict[str, Any]:
    """Facts about the validated data that reports compare between branches: size, balance, nulls, hash."""
    return {
        "path": str(raw_path),
        "md5": file_md5(raw_path),
        "rows": len(frame),
        "positives": int(frame[schema.target].sum()),
        "positive_rate": round(float(frame[schema.target].mean()), 6),
        "columns": {name: spec.type.value for name, spec in schema.columns.items()},
        "missing": {name: int(frame[name].isna().sum()) for name in schema.columns},
    }


def run_validate(raw_path: Path, schema: SchemaParams, out_path: Path, summary_path: Path) -> dict[str, Any]:
    """Validate ``raw_path`` and write the typed parquet and a JSON summary (both or neither)."""
    typed = check_frame(read_raw(raw_path), schema)
    summary = data_summary(typed, schema, raw_path)
    with atomic_write(out_path) as tmp:
        typed.to_parquet(tmp, index=False)
        write_json(summary_path, summary)
    return summary
