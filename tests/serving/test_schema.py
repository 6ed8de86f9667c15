"""The request model is generated from the data contract (strict types, ranges, categories, nulls, dates, limits),
and the response follows the task: checked in process with real models of each task."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from gitops_ml.config import Params, SchemaParams, load_params
from gitops_ml.model_call.scorer import column_scorer
from gitops_ml.pipeline.interface import score_frame
from gitops_ml.serving.schema import (
    Prediction,
    PredictResponse,
    Responder,
    columns_of,
    describe_answer,
    example_record,
    field_columns,
    record_model,
    request_model,
    response_model,
)
from gitops_ml.tasks import Task
from tests.support.fixture_project import FIXTURE_PARAMS
from tests.support.serving import to_records
from tests.support.task_models import CLASSES, fitted_model, task_rows, task_schema


@pytest.fixture(scope="module")
def params() -> Params:
    return load_params(FIXTURE_PARAMS)


def errors_of(model: Any, data: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(data))
    return [(tuple(e["loc"]), e["type"]) for e in caught.value.errors()]


def test_example_record_is_valid_and_complete(params: Params) -> None:
    _, request = request_model(params)
    example = example_record(params.schema)
    assert set(example) == set(params.schema.columns)
    request.model_validate_json(json.dumps({"records": [example]}))
    assert request.model_json_schema()["example"] == {"records": [example]}


def test_every_column_is_required_and_null_only_where_nullable(params: Params) -> None:
    record = record_model(params.schema)
    example = example_record(params.schema)
    for name, spec in params.schema.columns.items():
        missing = {k: v for k, v in example.items() if k != name}
        assert errors_of(record, missing) == [((name,), "missing")]
        if spec.nullable:
            record.model_validate_json(json.dumps(example | {name: None}))
        else:
            assert len(errors_of(record, example | {name: None})) >= 1


def test_a_different_contract_gives_a_different_model() -> None:
    schema = SchemaParams.model_validate(
        {
            "target": "churned",
            "columns": {
                "monthly-spend": {"type": "float", "min": 0, "max": 10},
                "class": {"type": "category", "categories": ["a", "b"]},
                "seats": {"type": "int", "nullable": True, "min": 1},
                "trial": {"type": "bool"},
            },
        }
    )
    record = record_model(schema)
    good = {"monthly-spend": 2.5, "class": "a", "seats": None, "trial": False}
    assert record.model_validate_json(json.dumps(good)).model_dump(by_alias=True) == good
    assert errors_of(record, good | {"monthly-spend": 11}) == [(("monthly-spend",), "less_than_equal")]
    assert errors_of(record, good | {"class": "c"}) == [(("class",), "literal_error")]
    assert errors_of(record, good | {"seats": 0}) == [(("seats",), "greater_than_equal")]
    assert errors_of(record, good | {"amount": 1.0}) == [(("amount",), "extra_forbidden")]
    assert set(record.model_json_schema(by_alias=True)["properties"]) == set(good)


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("amount", "12", "float_type"),
        ("amount", True, "float_type"),
        ("hour", 1.5, "int_from_float"),
        ("hour", "1", "int_type"),
        ("hour", True, "int_type"),
        ("card_present", 1, "bool_type"),
        ("card_present", "true", "bool_type"),
        ("channel", 3, "literal_error"),
    ],
)
def test_types_are_strict(params: Params, column: str, value: Any, kind: str) -> None:
    record = record_model(params.schema)
    assert errors_of(record, example_record(params.schema) | {column: value}) == [((column,), kind)]


def test_integers_are_accepted_for_floats(params: Params) -> None:
    record = record_model(params.schema)
    record.model_validate_json(json.dumps(example_record(params.schema) | {"amount": 12}))


def test_whole_number_floats_are_integers_as_in_validate(params: Params) -> None:
    """pandas holds an int column with gaps as floats; validate takes 1175.0 for 1175, so the service does too."""
    record = record_model(params.schema)
    example = example_record(params.schema)
    parsed = record.model_validate_json(json.dumps(example | {"customer_tenure_days": 1175.0, "hour": 3.0}))
    dumped = parsed.model_dump(by_alias=True)
    assert (dumped["customer_tenure_days"], dumped["hour"]) == (1175, 3)
    assert type(dumped["customer_tenure_days"]) is int
    errors = errors_of(record, example | {"customer_tenure_days": 1175.5})
    assert errors == [(("customer_tenure_days",), "int_from_float")]
    assert errors_of(record, example | {"hour": 30.0}) == [(("hour",), "less_than_equal")]


def test_ids_are_optional_in_a_record_and_echoed_in_its_prediction(params: Params) -> None:
    assert params.schema.ids == ["transaction_id"]
    record = record_model(params.schema)
    example = example_record(params.schema)
    assert "transaction_id" not in example  # optional: the example shows the features
    for sent, kept in [(17, 17), (17.0, 17), ("tx-17", "tx-17"), (None, None)]:
        parsed = record.model_validate_json(json.dumps(example | {"transaction_id": sent}))
        assert parsed.model_dump(by_alias=True)["transaction_id"] == kept
    assert record.model_validate_json(json.dumps(example)).model_dump(by_alias=True)["transaction_id"] is None
    assert errors_of(record, example | {"transaction_id": 1.5})
    prediction, response = response_model(params.schema)
    answer = response(
        predictions=[prediction(label=1, probability=0.75, col_transaction_id="tx-17")], model_version="v1"
    )
    assert json.loads(answer.model_dump_json()) == {
        "predictions": [{"label": 1, "probability": 0.75, "transaction_id": "tx-17"}],
        "model_version": "v1",
    }
    properties = response.model_json_schema()["$defs"]["Prediction"]["properties"]
    assert set(properties) == {"label", "probability", "transaction_id"}


def test_without_ids_predictions_are_label_and_probability(params: Params) -> None:
    schema = params.schema.model_copy(update={"ids": []})
    prediction, response = response_model(schema)
    assert (prediction, response) == (Prediction, PredictResponse)
    assert "transaction_id" not in record_model(schema).model_json_schema(by_alias=True)["properties"]


def test_request_size_limits_follow_params(params: Params) -> None:
    small = params.model_copy(update={"serving": params.serving.model_copy(update={"max_records": 2})})
    _, request = request_model(small)
    example = example_record(params.schema)
    request.model_validate_json(json.dumps({"records": [example, example]}))
    assert errors_of(request, {"records": [example] * 3}) == [(("records",), "too_long")]
    assert errors_of(request, {"records": []}) == [(("records",), "too_short")]
    assert errors_of(request, {"records": [example], "extra": 1}) == [(("extra",), "extra_forbidden")]


# --- the response of each task ---


def served(schema: SchemaParams, frame: pd.DataFrame, model: Any, threshold: float = 0.5) -> dict[str, Any]:
    """The service's answer to ``frame``'s rows, made as the service makes it: the request's record model, the
    model's scorer of raw columns, then the responder (ids ``r-<i>``)."""
    record = record_model(schema)
    features, ids = field_columns(record, schema)
    rows = [row | {"rid": f"r-{i}"} for i, row in enumerate(to_records(frame, schema))]
    records = [record.model_validate_json(json.dumps(row)) for row in rows]
    predicted = column_scorer(model, schema)(columns_of(records, features))
    responder = Responder.of(schema, threshold, ids)
    answer = responder.respond(predicted, columns_of(records, ids), "model-v7")
    body: dict[str, Any] = json.loads(answer.model_dump_json())
    assert responder.response.model_validate(body) == answer  # the answer meets its own (OpenAPI) model
    assert [p["rid"] for p in body["predictions"]] == [f"r-{i}" for i in range(len(frame))]
    assert body["model_version"] == "model-v7"
    return body


@pytest.fixture(scope="module")
def task_models() -> dict[Task, tuple[SchemaParams, Any, pd.DataFrame]]:
    """Per task: its contract (with an id column), a model fitted on 800 rows, and 40 other rows to score."""
    models = {}
    for task in Task:
        schema = task_schema(task, ids=["rid"])
        models[task] = (schema, fitted_model(schema, task_rows(schema, 800, seed=1)), task_rows(schema, 40, seed=2))
    return models


def test_a_binary_answer_is_the_label_by_the_threshold_and_the_positive_probability(task_models: Any) -> None:
    schema, model, frame = task_models[Task.BINARY]
    expected = score_frame(model, frame, schema)
    for threshold in (0.5, 0.3):
        predictions = served(schema, frame, model, threshold)["predictions"]
        assert [set(p) for p in predictions] == [{"label", "probability", "rid"}] * len(frame)
        assert np.allclose([p["probability"] for p in predictions], expected, rtol=0, atol=1e-12)
        assert [p["label"] for p in predictions] == (expected >= threshold).astype(int).tolist()
    assert 0 < sum(p["label"] for p in predictions) < len(frame)  # both classes occur: the check above can fail


def test_a_multiclass_answer_is_the_most_probable_class_and_every_probability(task_models: Any) -> None:
    schema, model, frame = task_models[Task.MULTICLASS]
    expected = score_frame(model, frame, schema)
    predictions = served(schema, frame, model)["predictions"]
    assert [set(p) for p in predictions] == [{"label", "probabilities", "rid"}] * len(frame)
    assert [list(p["probabilities"]) for p in predictions] == [CLASSES] * len(frame)  # in schema.classes order
    probabilities = np.array([list(p["probabilities"].values()) for p in predictions])
    assert np.allclose(probabilities, expected, rtol=0, atol=1e-12)
    assert np.allclose(probabilities.sum(axis=1), 1)
    assert [p["label"] for p in predictions] == [CLASSES[i] for i in expected.argmax(axis=1)]
    assert len({p["label"] for p in predictions}) >= 2


def test_a_regression_answer_is_the_value(task_models: Any) -> None:
    schema, model, frame = task_models[Task.REGRESSION]
    predictions = served(schema, frame, model)["predictions"]
    assert [set(p) for p in predictions] == [{"value", "rid"}] * len(frame)
    assert np.allclose([p["value"] for p in predictions], score_frame(model, frame, schema), rtol=0, atol=1e-9)


def test_the_openapi_document_describes_each_tasks_answer() -> None:
    def prediction_schema(schema: SchemaParams) -> dict[str, Any]:
        document = response_model(schema)[1].model_json_schema()
        return {"prediction": document["$defs"]["Prediction"], "defs": document["$defs"]}

    binary = prediction_schema(task_schema(Task.BINARY))["prediction"]
    assert binary["required"] == ["label", "probability"] and binary["properties"]["label"]["type"] == "integer"
    multiclass = prediction_schema(task_schema(Task.MULTICLASS, classes=[3, 7, 9], ids=["rid"]))
    properties = multiclass["prediction"]["properties"]
    assert set(properties) == {"label", "probabilities", "rid"}
    assert properties["label"]["enum"] == [3, 7, 9]
    probabilities = multiclass["defs"]["ClassProbabilities"]
    assert probabilities["required"] == ["3", "7", "9"]
    assert all(p["minimum"] == 0 and p["maximum"] == 1 for p in probabilities["properties"].values())
    regression = prediction_schema(task_schema(Task.REGRESSION))["prediction"]
    assert regression["required"] == ["value"] and regression["properties"]["value"]["type"] == "number"


def test_a_multiclass_answer_refuses_a_prediction_of_another_shape() -> None:
    schema = task_schema(Task.MULTICLASS)
    responder = Responder.of(schema, 0.5, {})
    with pytest.raises(ValueError, match=r"one probability per class \(3\), got shape \(2, 2\)"):
        responder.respond(np.array([[0.5, 0.5], [0.1, 0.9]]), {}, "v")
    answer = responder.respond(np.array([[0.2, 0.2, 0.6]]), {}, "v")
    assert json.loads(answer.model_dump_json())["predictions"] == [
        {"label": "high", "probabilities": {"low": 0.2, "mid": 0.2, "high": 0.6}}
    ]


# --- datetime columns ---


def test_a_datetime_column_takes_an_iso_8601_string_and_nothing_else() -> None:
    schema = SchemaParams.model_validate(
        {"target": "y", "columns": {"x": {"type": "float"}, "signup": {"type": "datetime", "nullable": True}}}
    )
    record = record_model(schema)
    example = example_record(schema)
    assert record.model_validate_json(json.dumps(example)).model_dump(by_alias=True) == example
    for value in ("2026-05-31", "2026-05-31T13:45:00", "2026-05-31 13:45:00", "2026-05-31T13:45:00.250+02:00",
                  "2026-05-31T13:45:00Z", None):  # fmt: skip
        assert record.model_validate_json(json.dumps(example | {"signup": value})).model_dump(by_alias=True) == (
            example | {"signup": value}
        )  # kept as sent: the model turns it into calendar features
    for value in ("31/05/2026", "yesterday", "2026-13-01", ""):
        assert errors_of(record, example | {"signup": value}) == [(("signup",), "datetime_iso")]
    for value in (1_780_000_000, 2026.5, True):
        assert errors_of(record, example | {"signup": value}) == [(("signup",), "string_type")]
    field = record.model_json_schema(by_alias=True)["properties"]["signup"]
    assert "ISO 8601" in field["description"]


def test_a_smoke_test_checks_the_answer_of_each_task() -> None:
    binary = {"predictions": [{"label": 1, "probability": 0.99812}], "model_version": "model-v2"}
    assert describe_answer(task_schema(Task.BINARY), binary) == "probability 0.9981"
    multiclass = {"predictions": [{"label": "mid", "probabilities": {"low": 0.2, "mid": 0.61, "high": 0.19}}],
                  "model_version": "v"}  # fmt: skip
    assert describe_answer(task_schema(Task.MULTICLASS), multiclass) == "label mid (0.6100)"
    regression = {"predictions": [{"value": 12.5}], "model_version": "v"}
    assert describe_answer(task_schema(Task.REGRESSION), regression) == "value 12.5"
    with pytest.raises(ValueError, match="not the answer of a regression model"):
        describe_answer(task_schema(Task.REGRESSION), binary)
    with pytest.raises(ValueError, match="not the answer of a multiclass model"):
        describe_answer(task_schema(Task.MULTICLASS), multiclass | {"predictions": [{"label": "top"}]})
    with pytest.raises(ValueError, match=r"1 prediction\(s\) for 2 record\(s\)"):
        describe_answer(task_schema(Task.BINARY), binary, records=2)
