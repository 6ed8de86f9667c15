"""The prediction log's JSON lines: one per scored record, holding only the schema's id and feature columns.

Each line is exactly what ``json.dumps`` would write for::

    {"timestamp": ..., "request_id": ..., "model_version": ..., "score": ..., "label": ...,
     "ids": {<id column>: value, ...}, "features": {<feature column>: value, ...}}

with compact separators, but it is assembled column by column into a ``%`` template built once per batch, which
is about four times faster than ``json.dumps`` per record (measured: 5 against 20 microseconds per record). That
is the difference between a writer thread that costs the service well under 5% of its throughput and one that
does not. Values are encoded by their exact type, the way the ``json`` module encodes them (``float.__repr__``,
``int.__repr__``, ``true``/``false``/``null``, ``json`` for strings); any other type goes through ``json`` itself.
A non-finite float, which the request model never lets through, is written as ``null`` so a line stays JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from numpy.typing import NDArray

Scores: TypeAlias = "Sequence[float] | NDArray[Any]"
"""One score per record: a list, or the numpy array the model returned."""

_encode_json: Callable[[Any], str] = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


def _float(value: float) -> str:
    return float.__repr__(value) if value - value == 0 else "null"  # inf - inf and nan - nan are nan


_ENCODERS: dict[type, Callable[[Any], str]] = {
    float: _float,
    int: int.__repr__,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): lambda _: "null",
    str: _encode_json,
}


def encode_values(values: Sequence[Any]) -> list[str]:
    """Each value as JSON text (as ``json.dumps(value)`` writes it, non-finite floats as ``null``)."""
    encoders = _ENCODERS
    return [encoders.get(type(value), _encode_json)(value) for value in values]


def _key(name: str) -> str:
    """A column name as a JSON object key inside a ``%`` template."""
    return _encode_json(name).replace("%", "%%")


@dataclass(frozen=True, slots=True)
class ScoredBatch:
    """The scored records of one request, as queued for the writer (lines are built on the writer thread)."""

    time: float
    request_id: str
    records: Sequence[Any]
    scores: Scores

    def __len__(self) -> int:
        return len(self.records)


class LineRenderer:
    """Turns a :class:`ScoredBatch` into JSON lines (see the module's docstring for the format)."""

    def __init__(
        self,
        model_version: str,
        features: Mapping[str, str],
        ids: Mapping[str, str],
        threshold: float,
        negative_class: Any,
        positive_class: Any,
    ) -> None:
        """``features`` and ``ids`` map the record model's attribute names to the schema's column names;
        ``label`` is ``positive_class`` for a score at or above ``threshold``, else ``negative_class``."""
        self.model_version = model_version
        self.features = dict(features)
        self.ids = dict(ids)
        self.threshold = threshold
        self._positive = _encode_json(positive_class)
        self._negative = _encode_json(negative_class)
        ids_part = ",".join(f"{_key(column)}:%s" for column in self.ids.values())
        features_part = ",".join(f"{_key(column)}:%s" for column in self.features.values())
        self._tail = f'"score":%s,"label":%s,"ids":{{{ids_part}}},"features":{{{features_part}}}}}\n'

    def __call__(self, batch: ScoredBatch) -> str:
        """One JSON line per record, each ending in a newline."""
        if not batch.records:
            return ""
        timestamp = datetime.fromtimestamp(batch.time, UTC).isoformat(timespec="milliseconds")
        head = _encode_json(
            {"timestamp": timestamp, "request_id": batch.request_id, "model_version": self.model_version}
        )
        template = head[:-1].replace("%", "%%") + "," + self._tail
        scores = [float(score) for score in batch.scores]
        if len(scores) != len(batch.records):
            raise ValueError(f"{len(batch.records)} records but {len(scores)} scores")
        threshold, positive, negative = self.threshold, self._positive, self._negative
        columns = [
            [_float(score) for score in scores],
            [positive if score >= threshold else negative for score in scores],
        ]
        records = batch.records
        for name in [*self.ids, *self.features]:
            columns.append(encode_values([getattr(record, name) for record in records]))
        return "".join([template % row for row in zip(*columns, strict=True)])
