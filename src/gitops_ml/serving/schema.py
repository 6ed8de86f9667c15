"""Request and response models of the service, generated from the data contract in ``params.yaml``.

Nothing here names a column: :func:`record_model` turns ``schema.columns`` into a strict pydantic model, so a team
that changes its columns, ranges or categories gets a matching ``/predict`` (and OpenAPI document) with no code
change. Every feature is required; a nullable column accepts ``null``. Types are strict (``"5"`` is not a number,
``1`` is not a boolean, ``2.5`` is not an integer), unknown fields are refused, and numbers must be finite. The
contract is the one ``validate`` applies to the training data: a whole-number float such as ``1175.0`` is an
integer (pandas holds an integer column with missing values as floats), ``1175.5`` is refused naming the column.
Id columns (``schema.ids``) are optional in a record and echoed in its prediction.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from gitops_ml.config import ColumnSpec, ColumnType, Params, SchemaParams

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


def _field_type(spec: ColumnSpec) -> Any:
    """The Python type of one column, with its range as constraints and ``None`` allowed when nullable."""
    base: Any
    if spec.type is ColumnType.CATEGORY:
        base = Literal[tuple(spec.categories or ())]
    elif spec.type is ColumnType.BOOL:
        base = bool
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
        if spec.nullable:
            description += " May be null."
        fields[_python_name(index, name)] = (
            _field_type(spec),
            Field(alias=name, description=description, json_schema_extra={"example": example_value(spec)}),
        )
    return create_model("Record", __config__=RECORD_CONFIG, __doc__="One record to score.", **fields)


class Prediction(BaseModel):
    """The model's answer for one record."""

    # Id fields (added by prediction_model) are set by attribute name and written under their column names.
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    label: int = Field(description="Predicted class: 1 when the probability reaches the threshold, else 0.")
    probability: float = Field(description="Predicted probability of the positive class.", ge=0, le=1)


def prediction_model(schema: SchemaParams) -> type[Prediction]:
    """:class:`Prediction` plus the record's id columns (``schema.ids``), echoed; :class:`Prediction` if none."""
    if not schema.ids:
        return Prediction
    return create_model(
        "Prediction",
        __base__=Prediction,
        __doc__="The model's answer for one record, with the record's ids.",
        **id_fields(schema),
    )


class PredictResponse(BaseModel):
    """Predictions in the order of the request's records, and the model that made them."""

    predictions: list[Prediction]
    model_version: str = Field(description="Version of the released model (a model-vN tag, or dev-<commit>).")


def response_model(schema: SchemaParams) -> tuple[type[Prediction], type[PredictResponse]]:
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
