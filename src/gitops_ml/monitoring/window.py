"""The current window the drift check judges: read it, then check it against the schema.

A window is a directory of prediction-log files (``*.jsonl``, ``*.jsonl.gz``; the format is in
``docs/prediction-log.md``), a glob of such files, or a CSV or parquet file with the schema's feature columns and
optionally the prediction (:data:`PREDICTION_FIELDS`: ``score`` for a binary model, ``label`` for a multiclass one,
``value`` for a regression). Paths may be fsspec URLs (``s3://...``, ``gs://...``: the DVC remote's kinds) when the
matching fsspec driver is installed. ``datetime`` columns must be there (the model may need them to score the
window) and hold ISO dates, but are not compared.

Every problem (no files, an unreadable file, a malformed record, a missing feature column, a value of the
wrong type, too few rows) raises :class:`~gitops_ml.errors.DriftInputError` naming the file, line or column and
the fix. The one thing forgiven is an incomplete last line of a log file, which is the request the service is
writing at that moment: it is skipped and counted.
"""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.config import ColumnType, SchemaParams
from gitops_ml.errors import DriftInputError
from gitops_ml.pipeline.interface import parse_datetimes
from gitops_ml.serving.outputs import TaskOutput, class_name
from gitops_ml.tasks import Task

LOG_SUFFIXES = (".jsonl", ".jsonl.gz")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
SCORE = "score"
"""Binary: the predicted score's field in a log record and its (optional) column in a CSV or parquet window."""
PREDICTION_FIELDS = {Task.BINARY: SCORE, Task.MULTICLASS: "label", Task.REGRESSION: "value"}
"""The field of a log record (and the optional column of a table) holding the prediction the drift check compares:
the positive class's probability, the predicted class, the predicted value."""
PER_RECORD = ("score", "label", "value")
"""The prediction fields a log line holds one value of per record (``probabilities`` holds a list per class)."""
META_FIELDS = ("score", "label", "value", "model_version", "timestamp")
"""The log's fields a flattened record keeps (as ``__<name>__``) besides the features."""
MAX_EXAMPLES = 3

# The spellings validate accepts for a boolean (pipeline/validate.py), as 1.0 / 0.0 like the model's frame.
BOOL_VALUES: dict[object, float] = {True: 1.0, False: 0.0} | {
    spelling: value
    for value, spellings in ((1.0, ("true", "True", "TRUE", "1")), (0.0, ("false", "False", "FALSE", "0")))
    for spelling in spellings
}


@dataclass(frozen=True)
class RawWindow:
    """A window as read, before its columns are checked: one row per record."""

    frame: pd.DataFrame
    source: str
    files: int
    skipped_lines: int = 0


@dataclass(frozen=True)
class Window:
    """A checked window: its features typed like the reference, its prediction if it has one, and where it came from.

    ``prediction`` is as the reference holds it (:func:`~gitops_ml.monitoring.reference.prediction_values`): scores
    or values as float64, or predicted class names as text (multiclass); None when the window has none.
    """

    features: pd.DataFrame
    prediction: np.ndarray | None
    source: str
    files: int
    skipped_lines: int
    model_versions: list[str]
    first_timestamp: str | None
    last_timestamp: str | None

    @property
    def rows(self) -> int:
        """Records in the window."""
        return len(self.features)


# --- finding the files ---


def _has_magic(path: str) -> bool:
    return any(char in path for char in "*?[")


def window_files(path: str) -> tuple[Any, list[str]]:
    """The filesystem and the sorted files a window path names: a file, a glob, or a directory of log files."""
    from fsspec.core import url_to_fs

    try:
        fs, root = url_to_fs(path)
    except (ImportError, ValueError) as exc:
        raise DriftInputError(f"cannot open the window {path!r}: {exc}") from None
    if _has_magic(path):
        files = sorted(str(p) for p in fs.glob(root) if not fs.isdir(p))
        what = "matches"
    elif fs.isdir(root):
        files = sorted(str(p) for p in fs.ls(root, detail=False) if str(p).endswith(LOG_SUFFIXES))
        what = "holds"
    elif fs.exists(root):
        return fs, [root]
    else:
        raise DriftInputError(f"the window {path!r} does not exist; pass a directory, a glob, or a CSV/parquet file")
    if not files:
        raise DriftInputError(
            f"the window {path!r} {what} no files; a window is a directory or glob of prediction-log files "
            f"({', '.join(LOG_SUFFIXES)}) or a CSV/parquet file"
        )
    return fs, files


# --- reading ---


def _log_lines(fs: Any, name: str) -> list[str]:
    with fs.open(name, "rb") as raw:
        if name.endswith(".gz"):
            with gzip.open(raw, "rt", encoding="utf-8") as stream:
                return list(stream)
        with io.TextIOWrapper(raw, "utf-8") as text:
            return list(text)


def _read_log(fs: Any, name: str) -> tuple[list[dict[str, Any]], int]:
    """The records of one prediction-log file as flat rows, and the count of skipped incomplete last lines.

    Read line by line with :mod:`json` rather than ``pandas.read_json``, so a malformed line is reported with
    its file and line number, and a half-written last line (the service is writing it) can be told apart.
    """
    rows: list[dict[str, Any]] = []
    try:
        lines = _log_lines(fs, name)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DriftInputError(f"{name}: cannot be read as a prediction log ({exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not line.endswith("\n"):
                return rows, 1  # the line being written right now
            raise DriftInputError(f"{name}:{number}: not a JSON line ({exc.msg})") from None
        rows += [_flatten(record) for record in log_records(entry, f"{name}:{number}")]
    return rows, 0


def log_records(entry: Any, where: str = "a prediction-log line") -> list[dict[str, Any]]:
    """The records of one prediction-log line, one dict each in the shape of a single record.

    The service writes a line per request with its records as columns (``"score": [...]``, ``"label": [...]``,
    ``"probabilities": {"a": [...]}``, ``"value": [...]``, ``"features": {"amount": [...]}``;
    docs/prediction-log.md): record ``i`` takes element ``i`` of every list. A line whose prediction fields are not
    lists is one record (``"score": 0.3``, ``"features": {"amount": 12.5}``), the form a hand-written window may
    use. ``where`` (file and line) starts every error message, naming the field whose list is not one value per
    record.
    """
    features = entry.get("features") if isinstance(entry, dict) else None
    if not isinstance(features, dict):
        raise DriftInputError(
            f"{where}: a prediction-log line needs a 'features' object (the format is in docs/prediction-log.md)"
        )
    lists = [v for v in features.values() if isinstance(v, list)] + [
        entry[key] for key in PER_RECORD if isinstance(entry.get(key), list)
    ]
    if not lists:
        return [entry]
    records = Counter(len(values) for values in lists).most_common(1)[0][0]  # the odd list out is the one to name
    probabilities = entry.get("probabilities")
    ids = entry.get("ids") or {}
    columns = {
        "features": features,
        "ids": ids if isinstance(ids, dict) else {},
        "probabilities": probabilities if isinstance(probabilities, dict) else {},
    }
    per_record = {key: entry[key] for key in PER_RECORD if key in entry}
    checked = list(per_record.items()) + [
        (f"{part}.{column}", values) for part, by_name in columns.items() for column, values in by_name.items()
    ]
    for name, values in checked:
        if not isinstance(values, list) or len(values) != records:
            raise DriftInputError(
                f"{where}: '{name}' must be a list of {records} values, one per record: a line holds the records "
                "of one request as columns (docs/prediction-log.md)"
            )
    meta = {key: entry.get(key) for key in ("timestamp", "request_id", "model_version")}
    parts = {part: by_name for part, by_name in columns.items() if part != "probabilities" or by_name}
    return [
        meta
        | {key: values[i] for key, values in per_record.items()}
        | {part: {column: values[i] for column, values in by_name.items()} for part, by_name in parts.items()}
        for i in range(records)
    ]


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    row = dict(record["features"])
    for key in META_FIELDS:
        row[f"__{key}__"] = record.get(key)
    return row


def _read_table(fs: Any, name: str) -> pd.DataFrame:
    try:
        with fs.open(name, "rb") as handle:
            if name.lower().endswith(".csv"):
                return pd.read_csv(handle, engine="pyarrow")
            return pd.read_parquet(handle)
    except Exception as exc:  # pyarrow raises several unrelated types for a malformed file
        raise DriftInputError(f"{name}: cannot be read as {name.rsplit('.', 1)[-1]} ({exc})") from None


def read_window(path: str, columns: Collection[str] = ()) -> RawWindow:
    """Read every file of the window ``path`` into one frame (log records flattened to their features).

    A table's ``score``, ``label``, ``value``, ``model_version`` and ``timestamp`` columns are read as the log's
    fields of those names, unless the schema has a column of that name (``columns``: its features and target).
    """
    fs, files = window_files(path)
    parts: list[pd.DataFrame] = []
    skipped = 0
    for name in files:
        lower = name.lower()
        if lower.endswith(LOG_SUFFIXES):
            rows, incomplete = _read_log(fs, name)
            parts.append(pd.DataFrame.from_records(rows) if rows else pd.DataFrame())
            skipped += incomplete
        elif lower.endswith(TABLE_SUFFIXES):
            table = _read_table(fs, name)
            meta = [c for c in META_FIELDS if c not in columns]
            parts.append(table.rename(columns={c: f"__{c}__" for c in meta}))
        else:
            raise DriftInputError(
                f"{name}: unknown kind of file; a window holds {', '.join(LOG_SUFFIXES)} prediction logs or "
                f"{', '.join(TABLE_SUFFIXES)} tables"
            )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return RawWindow(frame, path, len(files), skipped)


# --- checking against the schema ---


def _examples(values: pd.Series) -> str:
    shown: dict[str, None] = {}
    for value in values:  # by repr: a bad value may be a dict or a list, which pandas cannot deduplicate
        shown.setdefault(repr(value)[:80], None)
        if len(shown) == MAX_EXAMPLES:
            break
    return ", ".join(shown)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | np.generic)


def _typed_column(column: pd.Series, kind: ColumnType) -> tuple[pd.Series, pd.Series, str]:
    """The column as the reference holds it, the mask of its values of the wrong type, and what was expected."""
    present = column.notna()
    if kind is ColumnType.CATEGORY:
        bad = present & ~column.map(_is_scalar)
        typed = column.where(present & ~bad, np.nan).astype(object)
        typed[present & ~bad] = column[present & ~bad].astype(str)
        return typed, bad, "is not a category value (text)"
    if kind is ColumnType.BOOL:
        typed = column.map(lambda v: BOOL_VALUES.get(v, np.nan) if _is_scalar(v) and pd.notna(v) else np.nan)
        typed = typed.astype("float64")
        return typed, present & typed.isna(), "is not a boolean (true/false or 1/0)"
    if kind is ColumnType.DATETIME:  # kept as read, for the model to score; the drift check does not compare it
        # The model's own parser: ISO text, and the dates or timestamps a CSV or parquet reader made of it.
        _, bad = parse_datetimes(column)
        return column, bad, "is not an ISO 8601 date or date and time"
    typed = _numbers(column)
    return typed, present & ~np.isfinite(typed), "is not a finite number"


def _numbers(column: pd.Series) -> pd.Series:
    """The column as float64; booleans, text and other values that are not numbers become NaN."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype("float64")  # the common case, without a Python call per value
    number = column.map(lambda v: _is_scalar(v) and not isinstance(v, bool | np.bool_))
    return pd.to_numeric(column.where(number, np.nan), errors="coerce").astype("float64")


def check_window(raw: RawWindow, schema: SchemaParams, min_rows: int) -> Window:
    """The window's features typed like the reference; raise :class:`DriftInputError` naming every bad column.

    Values outside the schema's ranges or categories are accepted: telling how far a window moved from the
    reference is the drift check's job. Missing feature columns, values of the wrong type, a prediction that is not
    one of the task's (a score outside [0, 1], a class not in ``schema.classes``, a value that is not a finite
    number) and a window under ``min_rows`` records are refused.
    """
    frame = raw.frame
    missing = [name for name in schema.columns if name not in frame.columns]
    if missing:
        raise DriftInputError(
            f"the window {raw.source!r} lacks feature column(s) {', '.join(missing)} of schema.columns in "
            "params.yaml; a prediction log records every feature (null when missing), a CSV/parquet window needs "
            "a column for each"
        )
    problems: list[str] = []
    features: dict[str, pd.Series] = {}
    for name, spec in schema.columns.items():
        features[name], bad, expected = _typed_column(frame[name], spec.type)
        if bad.any():
            problems.append(f"  {name}: {int(bad.sum())} value(s) {expected}: {_examples(frame[name][bad])}")
    prediction = _prediction(frame, schema, problems)
    if problems:
        raise DriftInputError(
            f"the window {raw.source!r} has values of the wrong type for schema.columns in params.yaml:\n"
            + "\n".join(problems)
        )
    if len(frame) < min_rows:
        raise DriftInputError(
            f"the window {raw.source!r} has {len(frame)} record(s); monitor.min_window_rows in params.yaml requires "
            f"at least {min_rows}. Widen the window (more files, a longer period) or lower monitor.min_window_rows"
        )
    return Window(
        features=pd.DataFrame(features).reset_index(drop=True),
        prediction=prediction,
        source=raw.source,
        files=raw.files,
        skipped_lines=raw.skipped_lines,
        model_versions=model_versions(frame),
        first_timestamp=_timestamp(frame, min),
        last_timestamp=_timestamp(frame, max),
    )


def _prediction(frame: pd.DataFrame, schema: SchemaParams, problems: list[str]) -> np.ndarray | None:
    """The window's own prediction of ``schema.task`` (None when it has none: the model then scores the window)."""
    field = PREDICTION_FIELDS[schema.task]
    column = frame.get(f"__{field}__")
    if column is None or column.isna().all():
        return None
    if schema.task is Task.MULTICLASS:
        known = set(TaskOutput.of(schema).class_names)
        names = column.map(lambda v: class_name(v) if _is_scalar(v) and pd.notna(v) else None)
        bad = names.isna() | ~names.isin(known)
        expected = f"are not a class of schema.classes ({', '.join(sorted(known))})"
        values = names.to_numpy(dtype=object)
    else:
        numbers = _numbers(column)
        bad = ~numbers.between(0, 1) if schema.task is Task.BINARY else ~np.isfinite(numbers)
        expected = "are not a probability in [0, 1]" if schema.task is Task.BINARY else "are not a finite number"
        values = numbers.to_numpy(dtype=np.float64)
    if bad.any():
        problems.append(f"  {field}: {int(bad.sum())} value(s) {expected}: {_examples(column[bad])}")
        return None
    return values


def model_versions(frame: pd.DataFrame) -> list[str]:
    """The model versions a raw window's records name, the most frequent first."""
    column = frame.get("__model_version__")
    if column is None:
        return []
    counts = Counter(str(v) for v in column.dropna())
    return [version for version, _ in counts.most_common()]


def _timestamp(frame: pd.DataFrame, pick: Any) -> str | None:
    column = frame.get("__timestamp__")
    if column is None:
        return None
    parsed = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601").dropna()
    return pick(parsed).isoformat() if len(parsed) else None
