"""The prediction log's lines: one per request, its records as columns; only the schema's id and feature columns.

Each line is a JSON object (UTF-8, no spaces)::

    {"timestamp": ..., "request_id": ..., "model_version": ...,
     <the prediction's fields>,
     "ids": {<id column>: [...], ...}, "features": {<feature column>: [...], ...}}

The prediction's fields follow the task (:func:`LineRenderer.prediction_fields`): binary ``"score": [...]`` (the
positive class's probability) and ``"label": [...]`` (the predicted class as the schema names it); multiclass
``"label": [...]`` and ``"probabilities": {<class>: [...], ...}``; regression ``"value": [...]``.

Record ``i`` of the request is element ``i`` of every list (docs/prediction-log.md). The writer thread shares the
service's CPU, so the line is cheap to build: the feature columns are the ones the request path already built for
the model, and orjson encodes the whole object in one call, about ten times faster than the standard ``json``
module and thirty times faster than a line per record (measured on ten features: 0.12, 1.4 and 3.4 microseconds
per record; docs/performance.md section 4). A value orjson refuses (an integer beyond 64 bits) sends the line
through the standard ``json`` module instead. A non-finite score, probability or value is written as ``null`` so
a line stays JSON; a non-finite feature value never gets past the request model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import orjson

from gitops_ml.serving.outputs import TaskOutput
from gitops_ml.tasks import Task

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

Scores: TypeAlias = "Sequence[Any] | NDArray[Any]"
"""The task-shaped prediction of each record (:mod:`~gitops_ml.serving.outputs`): a list, or the numpy array the
model returned (multiclass: one row of probabilities per record)."""

Columns: TypeAlias = Mapping[str, Sequence[Any]]
"""Values by column name, one per record."""

_encode_json: Callable[[Any], str] = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class ScoredBatch:
    """The scored records of one request, as queued for the writer (the line is built on the writer thread).

    ``scores`` is the model's task-shaped prediction of the records; ``features`` and ``ids`` hold one list per
    column of the schema, each as long as ``scores``.
    """

    time: float
    request_id: str
    scores: Scores
    features: Columns
    ids: Columns

    def __len__(self) -> int:
        return len(self.scores)


class LineRenderer:
    """Turns a :class:`ScoredBatch` into one JSON line (see the module's docstring for the format)."""

    def __init__(
        self,
        model_version: str,
        features: Sequence[str],
        ids: Sequence[str],
        threshold: float = 0.5,
        negative_class: Any = 0,
        positive_class: Any = 1,
        *,
        output: TaskOutput | None = None,
    ) -> None:
        """``features`` and ``ids`` are the schema's column names, in the order a line lists them. ``output`` says
        how to read the prediction (:meth:`TaskOutput.of` the schema); without it, a binary model's: ``label`` is
        ``positive_class`` for a score at or above ``threshold``, else ``negative_class``."""
        self.model_version = model_version
        self.features = list(features)
        self.ids = list(ids)
        self.output = output or TaskOutput(Task.BINARY, (negative_class, positive_class), threshold)

    def prediction_fields(self, predicted: Scores) -> dict[str, Any]:
        """The line's prediction fields for the records' task-shaped ``predicted`` (non-finite numbers as NaN)."""
        output = self.output
        if output.task is Task.BINARY:
            scores = [float(score) for score in predicted]
            threshold, (negative, positive) = output.threshold, output.classes
            return {"score": scores, "label": [positive if score >= threshold else negative for score in scores]}
        if output.task is Task.MULTICLASS:
            matrix = output.probabilities(np.asarray(predicted, dtype=np.float64).reshape(len(predicted), -1))
            columns = matrix.T.tolist()
            return {
                "label": output.labels(matrix),
                "probabilities": dict(zip(output.class_names, columns, strict=True)),
            }
        return {"value": [float(value) for value in predicted]}

    def __call__(self, batch: ScoredBatch) -> str:
        """The batch's line, ending in a newline (no text for an empty batch).

        Raises ``ValueError`` when a column is missing or its length differs from the number of records.
        """
        records = len(batch.scores)
        if not records:
            return ""
        entry = {
            "timestamp": datetime.fromtimestamp(batch.time, UTC).isoformat(timespec="milliseconds"),
            "request_id": batch.request_id,
            "model_version": self.model_version,
            **self.prediction_fields(batch.scores),
            "ids": _columns(batch.ids, self.ids, records, "id"),
            "features": _columns(batch.features, self.features, records, "feature"),
        }
        try:
            return orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE).decode()  # NaN and infinity: null
        except orjson.JSONEncodeError:
            for key in ("score", "value"):
                if key in entry:
                    entry[key] = _finite(entry[key])
            if "probabilities" in entry:
                entry["probabilities"] = {name: _finite(p) for name, p in entry["probabilities"].items()}
            return _encode_json(entry) + "\n"


def _finite(values: list[float]) -> list[float | None]:
    return [value if math.isfinite(value) else None for value in values]


def _columns(given: Columns, names: list[str], records: int, kind: str) -> dict[str, Sequence[Any]]:
    """``given``'s columns ``names`` in that order (nothing else), each checked to hold ``records`` values."""
    chosen = {}
    for name in names:
        values = given.get(name)
        if values is None:
            raise ValueError(f"the {kind} column {name!r} is missing from the batch")
        if len(values) != records:
            raise ValueError(f"{records} predictions but {len(values)} values of {name!r}")
        chosen[name] = values
    return chosen


def plain_columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """``frame``'s columns as a :class:`ScoredBatch` holds them: lists of plain Python values, ``None`` for a
    missing one (for writing a table as a prediction log, as the benchmarks and tests do)."""
    values = frame.astype(object)
    return {str(column): values[column].where(values[column].notna(), None).tolist() for column in values}
