"""Stage ``validate``: check the raw data against the contract in ``params.yaml`` and write it typed.

The contract (a pandera schema) is built from the ``schema:`` section, so changing a range or adding a
category is a params change that DVC sees. Bad data stops the pipeline with one line per failing column and
check, with the number of bad rows, and nothing is written.

Rows whose target is missing (empty, null or blank text) are unlabelled: they are left out, counted in the
output and the data summary (``unlabelled_rows``), never an error unless no labelled row is left. The validated
data holds the target encoded by ``schema.task``: binary 1 (``positive_class``) or 0, multiclass the class's
position in ``schema.classes``, regression the value as a float. ``datetime`` columns hold naive datetimes
(:func:`gitops_ml.pipeline.features.parse_datetimes`).

The raw data is ``data.path`` followed by every window of labelled data in ``windows/`` beside it
(``data/windows/<date>-<name>.csv|parquet``, appended by ``make retrain``; docs/retraining.md), in name order.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from gitops_ml.config import ColumnSpec, ColumnType, SchemaParams, TargetValue
from gitops_ml.errors import DataContractError
from gitops_ml.io import atomic_write, write_json
from gitops_ml.pipeline.features import feature_name_clashes, parse_datetimes
from gitops_ml.tasks import Task
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


def _target_checks(schema: SchemaParams) -> list[pa.Check]:
    if schema.task is Task.REGRESSION:
        checks = []
        if schema.target_min is not None:
            checks.append(
                pa.Check.greater_than_or_equal_to(
                    schema.target_min, error=f"at least schema.target_min ({schema.target_min})"
                )
            )
        if schema.target_max is not None:
            checks.append(
                pa.Check.less_than_or_equal_to(
                    schema.target_max, error=f"at most schema.target_max ({schema.target_max})"
                )
            )
        return checks
    return [pa.Check.isin(list(range(len(schema.class_labels))))]


def build_contract(schema: SchemaParams) -> pa.DataFrameSchema:
    """The pandera schema for ``schema`` (after :func:`coerce_types`): value rules and nullability.

    Every feature column plus the target (encoded by the task, see the module docstring) is required; id columns
    pass through unchecked.
    """
    columns = {
        name: pa.Column(checks=_column_checks(spec), nullable=spec.nullable, required=True)
        for name, spec in schema.columns.items()
    }
    columns[schema.target] = pa.Column(checks=_target_checks(schema), nullable=False, required=True)
    return pa.DataFrameSchema(columns, strict=False, name="data contract")


def _examples(values: pd.Series) -> list[str]:
    return [repr(v) for v in values.drop_duplicates().head(3)]


def unlabelled_mask(column: pd.Series) -> np.ndarray:
    """True for each row whose target is missing: null, NaN, or text that is empty or only spaces."""
    missing: np.ndarray = column.isna().to_numpy(dtype=bool)
    if pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
        blank = column.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool, na_value=False)
        missing = missing | blank
    return missing


def _as_index(column: pd.Series, classes: list[TargetValue]) -> pd.Series:
    """Each value's position in ``classes`` (float, NaN for a value that is none of them).

    Compared with ``==``, so 1 also matches ``True`` and ``1.0``: a 0/1 column read as booleans or floats still maps.
    Numeric or boolean classes also match their spelling as text (``"1"``, ``"true"``): a CSV column with a stray
    blank is read as text.
    """
    readings = [column]
    if not all(isinstance(label, str) for label in classes) and (
        pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)
    ):
        text = column.map(lambda v: v.strip() if isinstance(v, str) else None)
        readings.append(pd.to_numeric(text, errors="coerce"))
        readings.append(text.map(lambda v: BOOL_SPELLINGS.get(v) if isinstance(v, str) else None))
    values = np.full(len(column), np.nan)
    for index, label in enumerate(classes):
        for reading in readings:
            values[(reading == label).to_numpy(dtype=bool, na_value=False) & np.isnan(values)] = index
    return pd.Series(values, index=column.index, name=column.name)


def encode_target(column: pd.Series, schema: SchemaParams) -> tuple[pd.Series, Violation | None]:
    """The labelled target as the validated data holds it (module docstring), as float with NaN for a bad value,
    and the violation that names the bad values (None when there are none)."""
    if schema.task is Task.REGRESSION:
        encoded = pd.to_numeric(column, errors="coerce").astype("float64")
        encoded = encoded.where(np.isfinite(encoded.to_numpy()))
        expected = "is a number: the target of a regression (fix the rows, or blank them to leave them out)"
    elif schema.task is Task.BINARY:
        encoded = _as_index(column, schema.class_labels)
        expected = f"is {schema.positive_class!r} (positive) or {schema.negative_class!r} (negative)"
    else:
        encoded = _as_index(column, schema.class_labels)
        expected = "is one of schema.classes (add the class to schema.classes in params.yaml, or fix the rows)"
    bad = column.notna() & encoded.isna()
    violation = Violation(schema.target, expected, int(bad.sum()), _examples(column[bad])) if bad.any() else None
    return encoded, violation


def coerce_types(frame: pd.DataFrame, schema: SchemaParams) -> tuple[pd.DataFrame, list[Violation]]:
    """Convert each column to its schema type; values that do not convert become missing and are reported.

    Id columns come first, unchanged; the target is encoded by :func:`encode_target`.
    """
    coerced: dict[str, pd.Series] = {name: frame[name] for name in schema.ids}
    violations: list[Violation] = []
    coerced_target, target_violation = encode_target(frame[schema.target], schema)
    if target_violation is not None:
        violations.append(target_violation)
    kinds = {name: spec.type for name, spec in schema.columns.items()}
    for name, kind in kinds.items():
        column = frame[name]
        if kind is ColumnType.CATEGORY:
            coerced[name] = column.astype("string")
            continue
        if kind is ColumnType.BOOL and pd.api.types.is_bool_dtype(column):
            coerced[name] = column.astype("boolean")  # already booleans: skip the per-value map (1 s per 1M rows)
            continue
        if kind is ColumnType.DATETIME:
            converted, bad = parse_datetimes(column)
            expected = "an ISO 8601 date or datetime (e.g. 2012-01-31 or 2012-01-31 08:30:00)"
        else:
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


@dataclass(frozen=True)
class Validated:
    """The labelled rows of the data, typed, and how many unlabelled rows were left out."""

    frame: pd.DataFrame
    unlabelled: int


def validate_frame(frame: pd.DataFrame, schema: SchemaParams) -> Validated:
    """Leave out the unlabelled rows, validate the rest against the contract (rows and table); raise
    :class:`DataContractError` when it fails or no labelled row is left."""
    checked = check_labelled_rows(frame, schema)
    _check_table(checked.frame, schema)
    return checked


def check_frame(frame: pd.DataFrame, schema: SchemaParams) -> pd.DataFrame:
    """Validate ``frame`` against the contract; return its labelled rows typed, or raise :class:`DataContractError`.

    Unlabelled rows are left out (:func:`validate_frame` also counts them).
    """
    return validate_frame(frame, schema).frame


def check_rows(frame: pd.DataFrame, schema: SchemaParams) -> pd.DataFrame:
    """Validate every labelled row of ``frame`` (columns, types, values), not the table's size and balance; return
    them typed (unlabelled rows left out; an empty frame when none is labelled).

    For a part of the data, such as a new window, which :func:`check_frame` then judges as part of the whole.
    """
    return check_labelled_rows(frame, schema, allow_empty=True).frame


def _check_columns(frame: pd.DataFrame, schema: SchemaParams) -> None:
    missing = [c for c in [*schema.ids, *schema.columns, schema.target] if c not in frame.columns]
    if missing:
        raise DataContractError(
            "the data is missing column(s) the schema requires: "
            + ", ".join(missing)
            + ". Add them to the data, or remove them from schema.columns (or schema.ids) in params.yaml."
        )
    clashes = feature_name_clashes(schema)
    if clashes:
        raise DataContractError(
            "schema.columns: the calendar part(s) "
            + ", ".join(clashes)
            + " of a datetime column have the name of another column; rename that column in the data and in "
            "schema.columns of params.yaml"
        )


def check_labelled_rows(frame: pd.DataFrame, schema: SchemaParams, *, allow_empty: bool = False) -> Validated:
    """Leave out the unlabelled rows and validate the others row by row; return them typed, with the count left out.

    Raises :class:`DataContractError` listing each failing column and check, or (unless ``allow_empty``) saying
    that no row is labelled.
    """
    _check_columns(frame, schema)
    unlabelled = unlabelled_mask(frame[schema.target])
    if unlabelled.all() and not allow_empty:
        raise DataContractError(
            f"{schema.target}: the target is missing in all {len(frame)} row(s), so no row is labelled; fill in the "
            f"target column ({schema.target}) of the rows to train on (rows without it are left out)"
        )
    labelled = frame[~unlabelled]
    typed, violations = coerce_types(labelled, schema)
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
    return Validated(_final_types(typed, schema), int(unlabelled.sum()))


def _final_types(frame: pd.DataFrame, schema: SchemaParams) -> pd.DataFrame:
    out = frame.copy()
    for name in schema.names_of(ColumnType.INT):
        out[name] = out[name].astype("Int64")
    out[schema.target] = out[schema.target].astype("float64" if schema.task is Task.REGRESSION else "int64")
    return out.reset_index(drop=True)


def class_rows(frame: pd.DataFrame, schema: SchemaParams) -> dict[str, int]:
    """Classification: labelled rows per class, by the class's label as text, in ``schema.class_labels`` order."""
    counts = np.bincount(frame[schema.target].to_numpy(dtype=np.int64), minlength=len(schema.class_labels))
    return {_label(label): int(n) for label, n in zip(schema.class_labels, counts, strict=True)}


def _label(value: TargetValue) -> str:
    """A class as text the way params.yaml spells it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_table(frame: pd.DataFrame, schema: SchemaParams) -> None:
    if len(frame) < schema.min_rows:
        raise DataContractError(
            f"the data has {len(frame)} labelled rows; schema.min_rows in params.yaml requires at least "
            f"{schema.min_rows}"
        )
    if schema.task is Task.BINARY:
        rate = float(frame[schema.target].mean())
        if not schema.min_target_rate <= rate <= schema.max_target_rate:
            raise DataContractError(
                f"{schema.target}: positive rate {rate:.4f} is outside [{schema.min_target_rate}, "
                f"{schema.max_target_rate}] (schema.min_target_rate / schema.max_target_rate in params.yaml)"
            )
    if not schema.task.is_classification:
        return
    rare = {label: n for label, n in class_rows(frame, schema).items() if n < schema.min_class_rows}
    if rare:
        shown = ", ".join(f"{label!r} has {n}" for label, n in rare.items())
        raise DataContractError(
            f"{schema.target}: too few labelled rows of a class ({shown}); schema.min_class_rows in params.yaml "
            f"requires at least {schema.min_class_rows} of each to split, train and score: add rows of that class, "
            "merge it into another class, or lower schema.min_class_rows"
        )


PARQUET_SUFFIXES = (".parquet", ".pq")
TABLE_SUFFIXES = (".csv", *PARQUET_SUFFIXES)
WINDOWS_DIR = "windows"


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


def windows_dir(raw_path: Path) -> Path:
    """Where windows of labelled data appended to ``data.path`` live: ``windows/`` in the same folder."""
    return raw_path.parent / WINDOWS_DIR


def dataset_files(raw_path: Path) -> list[Path]:
    """``raw_path`` (``data.path``), then the windows in :func:`windows_dir` by name (``<date>-<name>.<ext>``: by date).

    Hidden files are skipped; anything else that is not a CSV or parquet file raises :class:`DataContractError`.
    """
    folder = windows_dir(raw_path)
    windows = sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []
    for window in windows:
        if not window.is_file() or window.suffix.lower() not in TABLE_SUFFIXES:
            raise DataContractError(
                f"{window} is not a CSV or parquet file: {folder}/ holds only the windows of labelled data appended "
                "by `make retrain` (docs/retraining.md); move it out of data/"
            )
    return [raw_path, *windows]


def read_dataset(raw_path: Path) -> pd.DataFrame:
    """The raw data: ``raw_path`` and every window after it (:func:`dataset_files`), as one frame.

    A window must have the columns ``raw_path`` has that the contract needs; one that lacks any raises
    :class:`DataContractError` naming the window (not a wall of missing values in the combined data).
    """
    files = dataset_files(raw_path)
    frames = [read_raw(raw_path)]
    for window in files[1:]:
        frame = read_table(window)
        lacking = [c for c in frames[0].columns if c not in frame.columns]
        if lacking:
            raise DataContractError(f"the window {window} lacks column(s) the data has: {', '.join(lacking)}")
        frames.append(frame)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class WindowCheck:
    """A new window of labelled data that passed :func:`check_window`: its labelled rows and the data's before it.

    ``positives`` and ``positives_before`` count the positive class of a binary target (0 for other tasks);
    ``target`` and ``target_before`` hold the target's facts of every task, as the data summary states them
    (:func:`target_facts`).
    """

    rows: int
    positives: int
    rows_before: int
    positives_before: int
    unlabelled: int = 0
    """The window's rows without a target, left out as ``validate`` leaves them out."""
    target: dict[str, Any] = field(default_factory=dict)
    target_before: dict[str, Any] = field(default_factory=dict)


def check_window(raw_path: Path, window: Path, schema: SchemaParams, name: str) -> WindowCheck:
    """Check a new window (``name`` in messages) before it joins the data at ``raw_path`` and its windows.

    Every labelled row of the window must meet the contract (:func:`check_labelled_rows`; unlabelled rows are left
    out and counted), and the data with the window must meet it as a whole (:func:`check_frame`: size, classes) and
    be writable as the validate stage writes it (an id column with numbers on one side and text on the other is
    not). Raises :class:`DataContractError` saying which.
    """
    raw_window = read_table(window)
    try:
        checked = check_labelled_rows(raw_window, schema, allow_empty=True)
    except DataContractError as exc:
        raise DataContractError(f"the new window {name} breaks the data contract:\n{exc}") from None
    new = checked.frame
    if raw_window.empty:
        raise DataContractError(f"the new window {name} has no rows")
    if new.empty:
        raise DataContractError(
            f"the new window {name} has no labelled rows ({checked.unlabelled} unlabelled row(s), left out): "
            f"fill in its target column ({schema.target})"
        )
    raw_before = read_dataset(raw_path)
    before = check_frame(raw_before, schema)
    try:  # the raw rows together, as validate will read them (the typed target is no longer in the file's terms)
        combined = check_frame(pd.concat([raw_before, raw_window], ignore_index=True), schema)
    except DataContractError as exc:
        raise DataContractError(f"with the new window {name} the data breaks its contract:\n{exc}") from None
    try:  # what the stage writes: fails here, not in the next pipeline run
        combined.to_parquet(io.BytesIO(), index=False)
    except Exception as exc:  # pyarrow raises several unrelated types
        mixed = [c for c in schema.ids if pd.api.types.infer_dtype(combined[c], skipna=True).startswith("mixed")]
        which = f" (id column(s) {', '.join(mixed)}: numbers in one, text in the other)" if mixed else ""
        raise DataContractError(f"the new window {name} does not fit the data{which}: {exc}") from None
    new_facts, before_facts = target_facts(new, schema), target_facts(before, schema)
    return WindowCheck(
        len(new),
        int(new_facts.get("positives", 0)),
        len(before),
        int(before_facts.get("positives", 0)),
        checked.unlabelled,
        new_facts,
        before_facts,
    )


def target_facts(frame: pd.DataFrame, schema: SchemaParams) -> dict[str, Any]:
    """The validated target's facts by task: binary ``positives`` and ``positive_rate``; multiclass ``class_rows``
    (class label as text -> rows); regression ``target_min``, ``target_max`` and ``target_mean``."""
    target = frame[schema.target]
    if schema.task is Task.BINARY:
        return {"positives": int(target.sum()), "positive_rate": round(float(target.mean()), 6)}
    if schema.task is Task.MULTICLASS:
        return {"class_rows": class_rows(frame, schema)}
    return {
        "target_min": float(target.min()),
        "target_max": float(target.max()),
        "target_mean": round(float(target.mean()), 6),
    }


def data_summary(frame: pd.DataFrame, schema: SchemaParams, raw_path: Path, unlabelled: int = 0) -> dict[str, Any]:
    """Facts about the validated data that reports compare between branches: size, the target by task, unlabelled
    rows left out, nulls, hash.

    With windows, ``md5`` covers every file (name and content) and ``windows`` names them.
    """
    files = dataset_files(raw_path)
    digest = file_md5(raw_path)
    windows: dict[str, Any] = {}
    if len(files) > 1:
        listing = "".join(f"{path.name} {file_md5(path)}\n" for path in files)
        digest = hashlib.md5(listing.encode(), usedforsecurity=False).hexdigest()
        windows = {"windows": [str(path) for path in files[1:]]}
    return {
        **windows,
        "path": str(raw_path),
        "md5": digest,
        "task": schema.task.value,
        "rows": len(frame),
        "unlabelled_rows": unlabelled,
        **target_facts(frame, schema),
        "columns": {name: spec.type.value for name, spec in schema.columns.items()},
        "missing": {name: int(frame[name].isna().sum()) for name in schema.columns},
    }


def run_validate(raw_path: Path, schema: SchemaParams, out_path: Path, summary_path: Path) -> dict[str, Any]:
    """Validate ``raw_path`` and its windows; write the typed labelled rows (parquet) and a JSON summary (both or
    neither)."""
    validated = validate_frame(read_dataset(raw_path), schema)
    summary = data_summary(validated.frame, schema, raw_path, validated.unlabelled)
    with atomic_write(out_path) as tmp:
        validated.frame.to_parquet(tmp, index=False)
        write_json(summary_path, summary)
    return summary


def describe_summary(summary: dict[str, Any]) -> str:
    """The validate stage's line: labelled rows, unlabelled rows left out, and the target by task."""
    left_out = summary.get("unlabelled_rows", 0)
    line = f"validate: {summary['rows']} labelled rows pass the contract"
    if left_out:
        line += f" ({left_out} unlabelled row{'s' * (left_out != 1)} left out)"
    if "class_rows" in summary:
        shares = ", ".join(f"{label} {100 * n / summary['rows']:.0f}%" for label, n in summary["class_rows"].items())
        return f"{line}, classes: {shares}"
    if "positive_rate" in summary:
        return f"{line}, positive rate {summary['positive_rate']:.4f}"
    low, high, mean = summary["target_min"], summary["target_max"], summary["target_mean"]
    return f"{line}, target from {low:g} to {high:g}, mean {mean:g}"
