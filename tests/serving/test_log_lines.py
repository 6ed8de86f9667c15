"""The prediction log's lines: one per request, records as columns, only the schema's fields, valid JSON; the
prediction's fields follow the task."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gitops_ml.config import Params, load_params
from gitops_ml.monitoring.window import log_records
from gitops_ml.serving.log_lines import LineRenderer, ScoredBatch, plain_columns
from gitops_ml.serving.outputs import TaskOutput
from gitops_ml.tasks import Task
from tests.support.fixture_project import FIXTURE_PARAMS
from tests.support.serving import make_records, request_columns
from tests.support.task_models import task_schema

KEYS = {"timestamp", "request_id", "model_version", "score", "label", "ids", "features"}


@pytest.fixture(scope="module")
def params() -> Params:
    return load_params(FIXTURE_PARAMS)


def renderer(params: Params, threshold: float = 0.5, negative: object = 0, positive: object = 1) -> LineRenderer:
    schema = params.schema
    return LineRenderer("model-v3", schema.feature_names, schema.ids, threshold, negative, positive)


def test_a_line_holds_one_requests_records_as_columns_of_the_schemas_fields(params: Params) -> None:
    records = make_records(params, 2)
    features, ids = request_columns(params, records)
    text = renderer(params)(ScoredBatch(1_750_000_000.25, "00000000000000ab", [0.25, 0.75], features, ids))
    assert text.endswith("\n") and text.count("\n") == 1
    entry = json.loads(text)
    assert set(entry) == KEYS
    assert entry["timestamp"] == "2025-06-15T15:06:40.250+00:00"
    assert entry["request_id"] == "00000000000000ab"
    assert entry["model_version"] == "model-v3"
    assert entry["score"] == [0.25, 0.75]
    assert entry["label"] == [0, 1]
    assert entry["ids"] == {"transaction_id": ["t-0", "t-1"]}
    assert list(entry["features"]) == params.schema.feature_names
    assert entry["features"]["amount"] == [0.0, 1.0] and entry["features"]["hour"] == [0, 1]
    # Read back record by record, each is exactly what the request held.
    for record, logged in zip(records, log_records(entry), strict=True):
        dumped = record.model_dump(by_alias=True)
        assert logged["features"] == {k: v for k, v in dumped.items() if k in params.schema.columns}
        assert logged["ids"] == {"transaction_id": dumped["transaction_id"]}


def test_only_the_schemas_columns_are_written_in_schema_order(params: Params) -> None:
    features, ids = request_columns(params, make_records(params, 1))
    shuffled = dict(reversed(features.items())) | {"secret": ["do not log"]}
    entry = json.loads(renderer(params)(ScoredBatch(0.0, "r", [0.5], shuffled, ids | {"client_ip": ["10.0.0.1"]})))
    assert list(entry["features"]) == params.schema.feature_names
    assert "do not log" not in json.dumps(entry) and "10.0.0.1" not in json.dumps(entry)


def test_labels_are_the_schemas_class_values_and_missing_ids_are_null(params: Params) -> None:
    records = make_records(params, 3, with_ids=False)
    features, ids = request_columns(params, records)
    render = renderer(params, threshold=0.3, negative="no", positive="yes")
    entry = json.loads(render(ScoredBatch(0.0, "r", np.array([0.1, 0.3, 0.9]), features, ids)))
    assert entry["label"] == ["no", "yes", "yes"]  # the threshold itself is positive, as served
    assert entry["ids"] == {"transaction_id": [None, None, None]}


AWKWARD = [
    0.1, 1e-7, 1e22, -0.0, 5e-324, 3, -2**70, True, None, 'quote " and \\ backslash', "percent %s %(x)s",
    "unicode \u00e7\u00e9 \u2603 \U0001f600", "line\nbreak\ttab\x00",
]  # fmt: skip


def test_awkward_names_and_values_come_back_exactly() -> None:
    names = ["amount", "per%cent", 'quote"d', "uni \u00e7", "back\\slash", "new\nline"]
    features = {name: [AWKWARD[(i + j) % len(AWKWARD)] for i in range(len(AWKWARD))] for j, name in enumerate(names)}
    render = LineRenderer('v"%s', names, ["id%s"], 0.5, negative_class="no %s", positive_class=True)
    scores = list(np.linspace(0, 1, len(AWKWARD)))
    line = render(ScoredBatch(1_750_000_000.0, 'req%d"', scores, features, {"id%s": AWKWARD}))
    assert line.count("\n") == 1  # a newline inside a value is escaped
    entry = json.loads(line)
    assert entry["features"] == features and entry["ids"] == {"id%s": AWKWARD}
    assert entry["score"] == scores and entry["model_version"] == 'v"%s' and entry["request_id"] == 'req%d"'


def test_a_non_finite_score_is_null_so_the_line_stays_json(params: Params) -> None:
    features, ids = request_columns(params, make_records(params, 3))
    line = renderer(params)(ScoredBatch(0.0, "r", [math.nan, 0.5, math.inf], features, ids))
    assert json.loads(line)["score"] == [None, 0.5, None]
    # An id orjson cannot encode (beyond 64 bits) takes the standard library's path, with the same result.
    huge = {"transaction_id": [2**70, 1, 2]}
    line = renderer(params)(ScoredBatch(0.0, "r", [math.nan, 0.5, math.inf], features, huge))
    assert json.loads(line)["score"] == [None, 0.5, None] and json.loads(line)["ids"] == huge


def test_an_empty_batch_is_no_text_and_a_short_or_missing_column_is_refused(params: Params) -> None:
    render = renderer(params)
    features, ids = request_columns(params, make_records(params, 2))
    assert render(ScoredBatch(0.0, "r", [], {}, {})) == ""
    with pytest.raises(ValueError, match="1 predictions but 2 values of 'transaction_id'"):
        render(ScoredBatch(0.0, "r", [0.5], features, ids))
    with pytest.raises(ValueError, match="the feature column 'hour' is missing"):
        render(ScoredBatch(0.0, "r", [0.5, 0.6], {k: v for k, v in features.items() if k != "hour"}, ids))


def test_no_ids_in_the_schema_is_an_empty_object() -> None:
    entry = json.loads(LineRenderer("v", ["a"], [], 0.5, 0, 1)(ScoredBatch(0.0, "r", [0.9], {"a": [1.5]}, {})))
    assert entry["ids"] == {} and entry["features"] == {"a": [1.5]} and entry["label"] == [1]


def test_a_tables_columns_become_plain_values_with_none_for_missing() -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1.5, np.nan], "n": [1, 2], "c": pd.Categorical(["a", None]), "b": [True, False]})
    columns = plain_columns(frame)
    assert columns == {"x": [1.5, None], "n": [1, 2], "c": ["a", None], "b": [True, False]}
    assert [type(v) for v in columns["x"] + columns["n"] + columns["b"]] == [float, type(None), int, int, bool, bool]


def task_renderer(task: Task, **contract: object) -> tuple[LineRenderer, list[str]]:
    schema = task_schema(task, **contract)
    return LineRenderer("v", schema.feature_names, [], output=TaskOutput.of(schema, 0.5)), schema.feature_names


def features_of(names: list[str], records: int) -> dict[str, list[object]]:
    return {name: [None] * records for name in names}


def test_a_multiclass_line_holds_the_predicted_class_and_a_probability_column_per_class() -> None:
    render, names = task_renderer(Task.MULTICLASS, classes=[3, 7, 9])
    probabilities = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    entry = json.loads(render(ScoredBatch(0.0, "r", probabilities, features_of(names, 3), {})))
    assert set(entry) == {"timestamp", "request_id", "model_version", "label", "probabilities", "ids", "features"}
    assert entry["label"] == [7, 3, 9]  # the classes as the schema spells them
    assert entry["probabilities"] == {"3": [0.2, 0.6, 0.1], "7": [0.5, 0.3, 0.1], "9": [0.3, 0.1, 0.8]}
    records = log_records(entry)
    assert [(r["label"], r["probabilities"]) for r in records] == [
        (7, {"3": 0.2, "7": 0.5, "9": 0.3}),
        (3, {"3": 0.6, "7": 0.3, "9": 0.1}),
        (9, {"3": 0.1, "7": 0.1, "9": 0.8}),
    ]
    sampled = [probabilities[0], probabilities[2]]  # a sampled request: a list of the kept rows
    assert json.loads(render(ScoredBatch(0.0, "r", sampled, features_of(names, 2), {})))["label"] == [7, 9]


def test_a_regression_line_holds_the_value_and_a_non_finite_one_is_null() -> None:
    render, names = task_renderer(Task.REGRESSION)
    values = np.array([12.5, math.nan, -3.0])
    entry = json.loads(render(ScoredBatch(0.0, "r", values, features_of(names, 3), {})))
    assert set(entry) == {"timestamp", "request_id", "model_version", "value", "ids", "features"}
    assert entry["value"] == [12.5, None, -3.0]
    assert [r["value"] for r in log_records(entry)] == [12.5, None, -3.0]
    render_ids = LineRenderer("v", names, ["id"], output=render.output)  # beyond 64 bits: the standard library
    huge = json.loads(render_ids(ScoredBatch(0.0, "r", values, features_of(names, 3), {"id": [2**70, 1, 2]})))
    assert huge["value"] == [12.5, None, -3.0] and huge["ids"] == {"id": [2**70, 1, 2]}


def test_a_multiclass_line_with_a_huge_id_keeps_null_for_a_non_finite_probability() -> None:
    render, names = task_renderer(Task.MULTICLASS, ids=["id"])
    render = LineRenderer("v", names, ["id"], output=render.output)
    batch = ScoredBatch(0.0, "r", np.array([[math.nan, 0.5, 0.5]]), features_of(names, 1), {"id": [2**70]})
    assert json.loads(render(batch))["probabilities"] == {"low": [None], "mid": [0.5], "high": [0.5]}


def test_the_binary_output_gives_the_same_line_as_the_class_arguments(params: Params) -> None:
    features, ids = request_columns(params, make_records(params, 3))
    batch = ScoredBatch(1.0, "r", np.array([0.1, 0.3, 0.9]), features, ids)
    schema = params.schema.model_copy(update={"positive_class": "yes", "negative_class": "no"})
    by_output = LineRenderer("v", schema.feature_names, schema.ids, output=TaskOutput.of(schema, 0.3))
    by_classes = LineRenderer("v", schema.feature_names, schema.ids, 0.3, "no", "yes")
    assert by_output(batch) == by_classes(batch)
    assert json.loads(by_output(batch))["label"] == ["no", "yes", "yes"]
