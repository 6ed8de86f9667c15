"""What skl2onnx needs, beyond its own converters, to convert the template's Pipeline to ONNX.

Registered through skl2onnx's public extension point (``update_registered_converter``), once per process, by
:func:`register_converters`:

- ``SimpleImputer`` with NaN as the missing value. skl2onnx's own converter ignores ``add_indicator`` (the numeric
  imputer of ``features.py`` adds one indicator column per feature that had gaps) and refuses strings with NaN as
  the missing value (the category imputer). Numbers: ``IsNaN``, ``Where`` with the learned statistics, then the
  indicator columns (``Gather`` + ``Cast``), in the graph's precision (double where the session runs in double).
  Strings cannot be NaN in ONNX, so the compiled scorer hands a missing category over as :data:`MISSING_LABEL`,
  which the graph replaces by the imputer's fill label. Any other imputer goes to skl2onnx's own converter.
- ``DummyClassifier`` and ``DummyRegressor`` (no skl2onnx converter): their prediction ignores the features, so
  the graph repeats the fitted baseline's row for every input row (strategy ``stratified`` draws at random and is
  refused).
- HistGradientBoosting and LightGBM, which compare in double: :mod:`~gitops_ml.model_call.tree_ensembles` writes
  their trees in double (skl2onnx's and onnxmltools' converters write float32 thresholds).
- XGBoost (``onnxmltools``' converter: XGBoost compares in float32 itself, so float32 thresholds are its own).
  LightGBM's and XGBoost's converters are registered when the fitted model has one (:func:`register_estimator`),
  so neither library is imported for a model without it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from gitops_ml.model_call.tree_ensembles import convert_hist_gradient_boosting, convert_lightgbm, joined_input

MISSING_LABEL = "\x00missing"
"""A missing category as the compiled scorer passes it to the graph (a label no schema lists)."""
ONNX_OPSET = {"": 15, "ai.onnx.ml": 3}
"""Opsets of the converted graph: onnxmltools' LightGBM and XGBoost converters support at most opset 15."""


def _nan_is_missing(imputer: Any) -> bool:
    missing = imputer.missing_values
    return isinstance(missing, float) and bool(np.isnan(missing))


def _imputer_shape(operator: Any) -> None:
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes

    calculate_sklearn_imputer_output_shapes(operator)
    imputer = operator.raw_operator
    rows, width = operator.outputs[0].type.shape
    if imputer.add_indicator and width is not None:
        operator.outputs[0].type.shape = [rows, width + len(imputer.indicator_.features_)]


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer

    imputer = operator.raw_operator
    if not _nan_is_missing(imputer):
        if imputer.add_indicator:
            raise NotImplementedError("a SimpleImputer with add_indicator and a missing value other than NaN")
        convert_sklearn_imputer(scope, operator, container)
        return
    name = scope.get_unique_variable_name
    out = operator.outputs[0].full_name
    x = joined_input(scope, operator, container)
    statistics = imputer.statistics_
    if isinstance(operator.inputs[0].type, StringTensorType):
        if imputer.add_indicator:
            raise NotImplementedError("a SimpleImputer of strings with add_indicator")
        code, missing, fills = name("is_missing_code"), name("is_missing"), name("fill_labels")
        container.add_node(
            "LabelEncoder", [x], [code], op_domain="ai.onnx.ml", op_version=2,
            keys_strings=[MISSING_LABEL], values_int64s=[1], default_int64=0,
        )  # fmt: skip
        container.add_node("Cast", [code], [missing], to=TensorProto.BOOL)
        container.add_initializer(fills, TensorProto.STRING, [1, len(statistics)], [str(s) for s in statistics])
        container.add_node("Where", [missing, fills, x], [out])
        return
    values = np.asarray(statistics, dtype=np.float64)
    if np.isnan(values).any():
        if not imputer.keep_empty_features:
            raise NotImplementedError("a SimpleImputer that drops features with no value")
        values = np.where(np.isnan(values), 0.0, values)  # what scikit-learn fills such a kept feature with
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    onnx_type = TensorProto.DOUBLE if double else TensorProto.FLOAT
    missing, fills = name("is_missing"), name("fill_values")
    container.add_initializer(fills, onnx_type, [1, len(values)], values.astype(np.float64 if double else np.float32))
    container.add_node("IsNaN", [x], [missing])
    if not imputer.add_indicator:
        container.add_node("Where", [missing, fills, x], [out])
        return
    filled, features, picked, indicator = name("filled"), name("indicator_features"), name("picked"), name("indicator")
    container.add_node("Where", [missing, fills, x], [filled])
    indices = [int(i) for i in imputer.indicator_.features_]
    container.add_initializer(features, TensorProto.INT64, [len(indices)], indices)
    container.add_node("Gather", [missing, features], [picked], axis=1)
    container.add_node("Cast", [picked], [indicator], to=onnx_type)
    container.add_node("Concat", [filled, indicator], [out], axis=1)


def _repeat_rows(scope: Any, container: Any, x: str, row: np.ndarray, out: str, onnx_type: int) -> None:
    """``out``: ``row`` (shape (1, k), or (1,) for labels) repeated once per row of ``x``."""
    from onnx import TensorProto

    name = scope.get_unique_variable_name
    shape, rows, constant, start, stop = name("shape"), name("rows"), name("row"), name("start"), name("stop")
    container.add_node("Shape", [x], [shape])
    container.add_initializer(start, TensorProto.INT64, [1], [0])
    container.add_initializer(stop, TensorProto.INT64, [1], [1])
    container.add_node("Slice", [shape, start, stop], [rows])
    container.add_initializer(constant, onnx_type, list(row.shape), row.ravel().tolist())
    target = rows
    if row.ndim == 2:
        one, target = name("one"), name("target")
        container.add_initializer(one, TensorProto.INT64, [1], [1])
        container.add_node("Concat", [rows, one], [target], axis=0)
    container.add_node("Expand", [constant, target], [out])


def _convert_dummy(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    model = operator.raw_operator
    x = joined_input(scope, operator, container)
    zeros = np.zeros((1, model.n_features_in_))
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    onnx_type = TensorProto.DOUBLE if double else TensorProto.FLOAT
    dtype = np.float64 if double else np.float32
    if not hasattr(model, "predict_proba"):
        value = np.asarray(model.predict(zeros), dtype=dtype).reshape(1, -1)
        _repeat_rows(scope, container, x, value, operator.outputs[0].full_name, onnx_type)
        return
    if model.strategy == "stratified":
        raise NotImplementedError("DummyClassifier(strategy='stratified') predicts at random")
    label = np.asarray(model.predict(zeros), dtype=np.int64)
    _repeat_rows(scope, container, x, label, operator.outputs[0].full_name, TensorProto.INT64)
    proba = np.asarray(model.predict_proba(zeros), dtype=dtype)
    _repeat_rows(scope, container, x, proba, operator.outputs[1].full_name, onnx_type)


@functools.cache
def register_converters() -> None:
    """Register the imputer, baseline and HistGradientBoosting converters with skl2onnx (once per process)."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer

    update_registered_converter(SimpleImputer, "SklearnSimpleImputer", _imputer_shape, _convert_imputer)
    update_registered_converter(
        DummyClassifier, "SklearnDummyClassifier", calculate_linear_classifier_output_shapes, _convert_dummy,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )  # fmt: skip
    update_registered_converter(
        DummyRegressor, "SklearnDummyRegressor", calculate_linear_regressor_output_shapes, _convert_dummy
    )
    update_registered_converter(
        HistGradientBoostingClassifier, "SklearnHistGradientBoostingClassifier",
        calculate_linear_classifier_output_shapes, convert_hist_gradient_boosting, options=CLASSIFIER_OPTIONS,
    )  # fmt: skip
    update_registered_converter(
        HistGradientBoostingRegressor, "SklearnHistGradientBoostingRegressor",
        calculate_linear_regressor_output_shapes, convert_hist_gradient_boosting,
    )  # fmt: skip


CLASSIFIER_OPTIONS = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
"""The options skl2onnx may pass a classifier's converter (``zipmap=False``: probabilities as one tensor)."""


@functools.cache
def _register_library(library: str) -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    if library == "lightgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        classifier, regressor, convert = LGBMClassifier, LGBMRegressor, convert_lightgbm
        prefix = "LightGbm"
    else:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier, XGBRegressor

        classifier, regressor, convert = XGBClassifier, XGBRegressor, convert_xgboost
        prefix = "XGBoost"
    update_registered_converter(
        classifier, f"{prefix}{classifier.__name__}", calculate_linear_classifier_output_shapes, convert,
        options=CLASSIFIER_OPTIONS,
    )  # fmt: skip
    update_registered_converter(
        regressor, f"{prefix}{regressor.__name__}", calculate_linear_regressor_output_shapes, convert
    )


def register_estimator(estimator: Any) -> None:
    """Register the converters skl2onnx needs for a Pipeline ending in ``estimator``: the template's imputer and
    baseline, and onnxmltools' for a LightGBM or XGBoost estimator (imported only then)."""
    register_converters()
    library = type(estimator).__module__.partition(".")[0]
    if library in ("lightgbm", "xgboost"):
        _register_library(library)
