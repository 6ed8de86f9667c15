"""The prediction log's lines: only the schema's fields, and byte for byte what ``json.dumps`` would write."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from gitops_ml.config import Params, load_params
from gitops_ml.serving.log_lines import LineRenderer, ScoredBatch, encode_values
from tests.support.fixture_project import FIXTURE_PARAMS
from tests.support.serving import make_records, record_parts

KEYS = {"timestamp", "request_id", "model_version", "score", "label", "ids", "features"}


@pytest.fixture(scope="module")
def params() -> Params:
    return load_params(FIXTURE_PARAMS)


def test_a_line_holds_only_the_schemas_fields(params: Params) -> None:
    _, features, ids = record_parts(params)
    render = LineRenderer("model-v3", features, ids, threshold=0.5, negative_class=0, positive_class=1)
    records = make_records(params, 2)
    text = render(ScoredBatch(1_750_000_000.25, "00000000000000ab", records, [0.25, 0.75]))
    assert text.endswith("\n") and text.count("\n") == 2
    entries = [json.loads(line) for line in text.splitlines()]
    for entry, record, score, label in zip(entries, records, [0.25, 0.75], [0, 1], strict=True):
        assert set(entry) == KEYS
        assert entry["timestamp"] == "2025-06-15T15:06:40.250+00:00"
        assert entry["request_id"] == "00000000000000ab"
        assert entry["model_version"] == "model-v3"
        assert entry["score"] == score
        assert entry["label"] == label
        assert entry["ids"] == {"transaction_id": record.model_dump(by_alias=True)["transaction_id"]}
        assert entry["features"] == {
            k: v for k, v in record.model_dump(by_alias=True).items() if k in features.values()
        }
        assert list(entry["features"]) == params.schema.feature_names


def test_labels_are_the_schemas_class_values_and_missing_ids_are_null(params: Params) -> None:
    _, features, ids = record_parts(params)
    render = LineRenderer("dev", features, ids, threshold=0.3, negative_class="no", positive_class="yes")
    records = make_records(params, 3, with_ids=False)
    entries = [json.loads(line) for line in render(ScoredBatch(0.0, "r", records, [0.1, 0.3, 0.9])).splitlines()]
    assert [e["label"] for e in entries] == ["no", "yes", "yes"]  # the threshold itself is positive, as served
    assert all(e["ids"] == {"transaction_id": None} for e in entries)


TRICKY_VALUES = [
    0.1, 1e-7, 1e22, -0.0, 12345678901234567.0, 5e-324, 3, -2**70, 0, True, False, None,
    "plain", 'quote " and \\ backslash', "percent %s %% %(x)s", "unicode \u00e7\u00e9 \u2603 \U0001f600",
    "line\nbreak\ttab\x00",
]  # fmt: skip


def test_values_are_encoded_as_json_encodes_them() -> None:
    assert encode_values(TRICKY_VALUES) == [json.dumps(value) for value in TRICKY_VALUES]
    assert encode_values([float("nan"), float("inf"), -float("inf")]) == ["null", "null", "null"]
    assert encode_values([{"a": [1, 2]}]) == ['{"a":[1,2]}']  # any other type goes through json


def test_a_line_is_what_json_dumps_writes_even_for_awkward_names_and_values() -> None:
    columns = ["amount", "per%cent", 'quote"d', "uni \u00e7", "back\\slash", "%(x)s"]
    features = {f"col_{i}": column for i, column in enumerate(columns)}
    ids = {"id_0": "id%s"}
    values = TRICKY_VALUES[: len(columns) * 2]
    records = [
        SimpleNamespace(id_0=values[i], **{f"col_{j}": values[(i + j) % len(values)] for j in range(len(columns))})
        for i in range(len(values))
    ]
    scores = np.linspace(0, 1, len(records))
    render = LineRenderer('v"%s', features, ids, 0.5, negative_class="no %s", positive_class=True)
    lines = render(ScoredBatch(1_750_000_000.0, 'req%d"', records, scores)).splitlines(keepends=True)
    expected = [
        json.dumps(
            {
                "timestamp": "2025-06-15T15:06:40.000+00:00",
                "request_id": 'req%d"',
                "model_version": 'v"%s',
                "score": float(score),
                "label": True if score >= 0.5 else "no %s",
                "ids": {"id%s": record.id_0},
                "features": {column: getattr(record, name) for name, column in features.items()},
            },
            separators=(",", ":"),
        )
        + "\n"
        for record, score in zip(records, scores, strict=True)
    ]
    assert lines == expected


def test_an_empty_batch_is_no_text_and_mismatched_scores_are_refused(params: Params) -> None:
    _, features, ids = record_parts(params)
    render = LineRenderer("v", features, ids, 0.5, 0, 1)
    assert render(ScoredBatch(0.0, "r", [], [])) == ""
    with pytest.raises(ValueError, match="2 records but 1 scores"):
        render(ScoredBatch(0.0, "r", make_records(params, 2), [0.5]))


def test_no_ids_in_the_schema_is_an_empty_object() -> None:
    render = LineRenderer("v", {"a": "a"}, {}, 0.5, 0, 1)
    line: dict[str, Any] = json.loads(render(ScoredBatch(0.0, "r", [SimpleNamespace(a=1.5)], [0.9])))
    assert line["ids"] == {} and line["features"] == {"a": 1.5} and line["label"] == 1
