"""The request model is generated from the data contract: strict types, ranges, categories, nulls, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from gitops_ml.config import Params, SchemaParams, load_params
from gitops_ml.serving.schema import (
    Prediction,
    PredictResponse,
    example_record,
    record_model,
    request_model,
    response_model,
)
from tests.support.fixture_project import FIXTURE_PARAMS


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
