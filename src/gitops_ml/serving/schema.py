"""Request and response models of the service, generated from the data contract in ``params.yaml``.

Nothing here names a column: :func:`record_model` turns ``schema.columns`` into a strict pydantic model, so a team
that changes its columns, ranges or categories gets a matching ``/predict`` (and OpenAPI document) with no code
change. Every feature is required; a nullable column accepts ``null``. Types are strict (``"5"`` is not a number,
``1`` is not a boolean, ``2.5`` is not an integer), unknown fields are refused, and numbers must be finite. The
contract is the one ``validate`` applies to the training data: a whole-number float such as ``1175.0`` is an
integer (pandas holds an integer column with missing values as floats), ``1175.5`` is refused naming the column.
A ``datetime`` column takes an ISO 8601 string (``2026-05-31`` or ``2026-05-31T13:45:00``). Id columns
(``schema.ids``) are optional in a record and echoed in its prediction.

The response follows ``schema.task`` (:func:`prediction_model`; docs/serving.md): binary ``label`` (1 or 0) and
``probability`` (of the positive class); multiclass ``label`` (a class of ``schema.classes``) and ``probabilities``
(one per class, keyed by the class); regression ``value``. :class:`Responder` makes it from the scorer's
task-shaped prediction, deciding the class through :class:`~gitops_ml.serving.outputs.TaskOutput`.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from gitops_ml.config import ColumnSpec, ColumnType, Params, SchemaParams
from gitops_ml.serving.outputs import TaskOutput, class_name
from gitops_ml.tasks import Task

RECORD_CONFIG = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def whole_number(value: Any) -> Any:
    """A float with no fractional part as an ``int`` (``1175.0`` -> ``1175``); a fraction is refused.

    Runs before pydantic's strict integer check, which would refuse every float: training data read by pandas
    holds an integer column with missing values as floats, and ``validate`` accepts whole floats there too.
    """
    if type(value) is float:
        if value.is_integer():
            return int(value)
        raise PydanticCustomError(
            "int_from_float", "Input should be a valid integer, got a number with a fractional part"
        )
    return value


WholeInt = Annotated[int, BeforeValidator(whole_number)]
IdValue = WholeInt | str | None


def iso_datetime(value: str) -> str:
    """``value`` unchanged when it is an ISO 8601 date or date and time (``2026-05-31``, ``2026-05-31T13:45:00Z``,
    ``2026-05-31 13:45:00`` as pandas writes it); anything else is refused. The model turns it into calendar
    features, as it did the training data's."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "datetime_iso",
            "Input should be an ISO 8601 date or date and time, such as 2026-05-31 or 2026-05-31T13:45:00",
        ) from None
    return value


IsoDateTime = Annotated[str, AfterValidator(iso_datetime)]
EXAMPLE_DATETIME = "2026-05-31T12:00:00"


def _field_type(spec: ColumnSpec) -> Any:
    """The Python type of one column, with its range as constraints and ``None`` allowed when nullable."""
    base: Any
    if spec.type is ColumnType.CATEGORY:
        base = Literal[tuple(spec.categories or ())]
    elif spec.type is ColumnType.BOOL:
        base = bool
    elif spec.type is ColumnType.DATETIME:
        base = IsoDateTime
    elif spec.type is ColumnType.FLOAT:
        base = Annotated[float, Field(ge=spec.min, le=spec.max)]
    else:
        base = Annotated[WholeInt, Field(ge=spec.min, le=spec.max)]
    return base | None if spec.nullable else base


def example_value(spec: ColumnSpec) -> Any:
    """A plausible value of a column, used for the OpenAPI example."""
    if spec.type is ColumnType.CATEGORY:
        return spec.categories[0] if spec.categories else None
    if spec.type is ColumnType.BOOL:
        return True
    if spec.type is ColumnType.DATETIME:
        return EXAMPLE_DATETIME
    value: float = 12 if spec.type is ColumnType.INT else 42.5
    if spec.max is not None:
        value = min(value, spec.max)
    if spec.min is not None:
        value = max(value, spec.min)
    return int(value) if spec.type is ColumnType.INT else float(value)


def example_record(schema: SchemaParams) -> dict[str, Any]:
    """One valid record for the schema (every column set)."""
    return {name: example_value(spec) for name, spec in schema.columns.items()}


def _python_name(index: int, column: str, prefix: str = "col") -> str:
    """A safe attribute name for a column; the JSON name is always the column name itself (an alias)."""
    if column.isidentifier() and not keyword.iskeyword(column) and not column.startswith("_"):
        return f"col_{column}"
    return f"{prefix}_{index}"


def id_fields(schema: SchemaParams) -> dict[str, Any]:
    """Optional fields for the id columns (an integer or a string, default null), by safe attribute name."""
    return {
        _python_name(index, name, prefix="id"): (
            IdValue,
            Field(default=None, alias=name, description=f"Identifier ({name}), echoed in the prediction; not used."),
        )
        for index, name in enumerate(schema.ids)
    }


def record_model(schema: SchemaParams) -> type[BaseModel]:
    """A strict pydantic model of one input record, built from ``schema.columns`` (and ``schema.ids``)."""
    fields: dict[str, Any] = id_fields(schema)
    for index, (name, spec) in enumerate(schema.columns.items()):
        description = spec.description or name
        if spec.type is ColumnType.DATETIME:
            description += " An ISO 8601 date or date and time."
        if spec.nullable:
            description += " May be null."
        fields[_python_name(index, name)] = (
            _field_type(spec),
            Field(alias=name, description=description, json_schema_extra={"example": example_value(spec)}),
        )
    return create_model("Record", __config__=RECORD_CONFIG, __doc__="One record to score.", **fields)


class Prediction(BaseModel):
    """The model's answer for one record (binary: the predicted class and the positive class's probability)."""

    # Id fields (added by prediction_model) are set by attribute name and written under their column names.
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    label: int = Field(description="Predicted class: 1 when the probability reaches the threshold, else 0.")
    probability: float = Field(description="Predicted probability of the positive class.", ge=0, le=1)


PREDICTION_CONFIG = Prediction.model_config


def _class_type(classes: Sequence[Any]) -> Any:
    return Literal[tuple(classes)]


def _probabilities_model(classes: Sequence[Any]) -> type[BaseModel]:
    """One required probability per class, under the class's name (:func:`~outputs.class_name`)."""
    fields: dict[str, Any] = {
        _python_name(index, name, prefix="class"): (
            Annotated[float, Field(ge=0, le=1)],
            Field(alias=name, description=f"Probability of class {name}."),
        )
        for index, name in enumerate(class_name(value) for value in classes)
    }
    return create_model(
        "ClassProbabilities",
        __config__=PREDICTION_CONFIG,
        __doc__="One probability per class of schema.classes (they sum to 1).",
        **fields,
    )


def _prediction_base(schema: SchemaParams) -> type[BaseModel]:
    """The prediction's own fields for ``schema.task`` (the contract in docs/serving.md)."""
    if schema.task is Task.BINARY:
        return Prediction
    if schema.task is Task.MULTICLASS:
        classes = schema.class_labels
        return create_model(
            "Prediction",
            __config__=PREDICTION_CONFIG,
            __doc__="The model's answer for one record: the most probable class and every class's probability.",
            label=(_class_type(classes), Field(description="Predicted class: the most probable one.")),
            probabilities=(_probabilities_model(classes), Field(description="Probability of each class.")),
        )
    return create_model(
        "Prediction",
        __config__=PREDICTION_CONFIG,
        __doc__="The model's answer for one record: the predicted value.",
        value=(float, Field(description=f"Predicted {schema.target}.")),
    )


def prediction_model(schema: SchemaParams) -> type[BaseModel]:
    """The prediction of one record for ``schema.task`` plus its id columns (``schema.ids``), echoed.

    Binary: ``label`` and ``probability`` (:class:`Prediction` when there are no ids); multiclass: ``label`` (a
    class of ``schema.classes``) and ``probabilities`` (class name -> probability); regression: ``value``.
    """
    base = _prediction_base(schema)
    if not schema.ids:
        return base
    return create_model(
        "Prediction",
        __base__=base,
        __doc__=f"{(base.__doc__ or '').rstrip('.')}, with the record's ids.",
        **id_fields(schema),
    )


class PredictResponse(BaseModel):
    """Predictions in the order of the request's records, and the model that made them."""

    predictions: list[Prediction]
    model_version: str = Field(description="Version of the released model (a model-vN tag, or dev-<commit>).")


def response_model(schema: SchemaParams) -> tuple[type[BaseModel], type[BaseModel]]:
    """The prediction model (:func:`prediction_model`) and the ``POST /predict`` response model using it."""
    prediction = prediction_model(schema)
    if prediction is Prediction:
        return Prediction, PredictResponse
    response = create_model(
        "PredictResponse",
        __base__=PredictResponse,
        __doc__=PredictResponse.__doc__,
        predictions=(list[prediction], ...),  # type: ignore[valid-type]  # a class made at run time
    )
    return prediction, response


def describe_answer(schema: SchemaParams, body: Any, records: int = 1) -> str:
    """Check a ``POST /predict`` answer (parsed JSON) against the response of ``schema.task``, holding ``records``
    predictions; return its first prediction in words (``probability 0.9981``, ``label b (0.6100)``,
    ``value 12.5``). Raises ``ValueError`` saying what does not match (for smoke tests of a served model)."""
    from pydantic import ValidationError

    _, response = response_model(schema)
    try:
        answer = response.model_validate(body)
    except ValidationError as exc:
        raise ValueError(f"not the answer of a {schema.task.value} model: {exc}") from None
    predictions: list[Any] = getattr(answer, "predictions", [])
    if len(predictions) != records:
        raise ValueError(f"{len(predictions)} prediction(s) for {records} record(s)")
    first = predictions[0]
    if schema.task is Task.BINARY:
        return f"probability {first.probability:.4f}"
    if schema.task is Task.MULTICLASS:
        chosen = first.probabilities.model_dump(by_alias=True)[class_name(first.label)]
        return f"label {class_name(first.label)} ({chosen:.4f})"
    return f"value {first.value:.6g}"


@dataclass(frozen=True)
class Responder:
    """Turns the scorer's task-shaped prediction of a request's records into the ``POST /predict`` response."""

    output: TaskOutput
    prediction: type[BaseModel]
    response: type[BaseModel]
    ids: Mapping[str, str]
    """The prediction's id fields: attribute name -> column name (as :func:`field_columns` gives them)."""

    @classmethod
    def of(cls, schema: SchemaParams, threshold: float, ids: Mapping[str, str]) -> Responder:
        """The responder for a model trained on ``schema`` (``threshold``: ``evaluate.threshold``)."""
        prediction, response = response_model(schema)
        return cls(TaskOutput.of(schema, threshold), prediction, response, dict(ids))

    def fields(self, predicted: np.ndarray) -> list[dict[str, Any]]:
        """The prediction fields of each record (without ids) from the scorer's ``predicted``."""
        output = self.output
        if output.task is Task.BINARY:
            scores = np.asarray(predicted, dtype=np.float64)
            labels = output.class_indices(scores).tolist()
            return [
                {"label": label, "probability": score} for label, score in zip(labels, scores.tolist(), strict=True)
            ]
        if output.task is Task.MULTICLASS:
            matrix = output.probabilities(predicted)
            names = output.class_names
            return [
                {"label": output.classes[index], "probabilities": dict(zip(names, row, strict=True))}
                for index, row in zip(output.class_indices(matrix).tolist(), matrix.tolist(), strict=True)
            ]
        return [{"value": value} for value in np.asarray(predicted, dtype=np.float64).tolist()]

    def respond(self, predicted: np.ndarray, ids: Mapping[str, Sequence[Any]], model_version: str) -> BaseModel:
        """The response to a request: one prediction per record, in order, each with the record's ids.

        Validated in one call of the response model (about five times faster than a model per record for a
        multiclass answer, whose probabilities are a model of their own)."""
        id_fields = self.ids.items()
        predictions = [
            fields | {name: ids[column][i] for name, column in id_fields}
            for i, fields in enumerate(self.fields(predicted))
        ]
        return self.response.model_validate({"predictions": predictions, "model_version": model_version})


def request_model(params: Params) -> tuple[type[BaseModel], type[BaseModel]]:
    """The record model and the ``POST /predict`` request model (``{"records": [...]}``) for ``params``."""
    record = record_model(params.schema)
    limit = params.serving.max_records
    request = create_model(
        "PredictRequest",
        __config__=ConfigDict(
            extra="forbid",
            strict=True,
            json_schema_extra={"example": {"records": [example_record(params.schema)]}},  # OpenAPI 3.0 style
        ),
        __doc__=f"Between 1 and {limit} records to score (serving.max_records).",
        records=(
            list[record],  # type: ignore[valid-type]  # a class made at run time is no type to mypy
            Field(min_length=1, max_length=limit, description=f"Records to score, 1 to {limit}."),
        ),
    )
    return record, request


def field_columns(record: type[BaseModel], schema: SchemaParams) -> tuple[dict[str, str], dict[str, str]]:
    """The record model's attribute name -> column name maps of the features and of the ids, in schema order."""
    columns = {name: field.alias or name for name, field in record.model_fields.items()}
    features = {name: column for name, column in columns.items() if column in schema.columns}
    ids = {name: column for name, column in columns.items() if column in schema.ids}
    return features, ids


def columns_of(records: Sequence[Any], fields: Mapping[str, str]) -> dict[str, list[Any]]:
    """Validated ``records`` as one list per column: ``fields`` maps attribute names to column names."""
    return {column: [getattr(record, name) for record in records] for name, column in fields.items()}
