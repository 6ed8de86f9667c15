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
- ``HistGradientBoostingClassifier`` and ``-Regressor``: skl2onnx's converter writes the thresholds in float32,
  so a value a float32 cannot tell from a threshold (15.4 against a threshold of 15.4 in double) took the other
  branch, and the probe check refused the model. Here the trees become one ``TreeEnsemble`` (ai.onnx.ml 5) in the
  graph's precision, and the graph runs in double: scikit-learn's own comparisons, exactly.
- LightGBM and XGBoost (``onnxmltools``' converters), registered when the fitted model has one
  (:func:`register_estimator`), so neither library is imported for a model without it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

MISSING_LABEL = "\x00missing"
"""A missing category as the compiled scorer passes it to the graph (a label no schema lists)."""
ONNX_OPSET = {"": 15, "ai.onnx.ml": 3}
"""Opsets of the converted graph: onnxmltools' LightGBM and XGBoost converters support at most opset 15."""
TREE_ENSEMBLE_OPSET = 5
"""ai.onnx.ml's opset of ``TreeEnsemble``, whose thresholds and leaf values may be double (the older
``TreeEnsembleClassifier``/``-Regressor`` keep float32 thresholds, and ai.onnx.ml 5 retires them)."""
BRANCH_LEQ = 0
AGGREGATE_SUM = 1
POST_TRANSFORM_NONE = 0


def with_tree_ensemble_opset(graph: Any) -> Any:
    """``graph`` importing ai.onnx.ml at :data:`TREE_ENSEMBLE_OPSET` when it holds a ``TreeEnsemble`` node.

    skl2onnx declares ai.onnx.ml 3 at most, so the HistGradientBoosting converter adds its node under that version
    and the import is raised here, after conversion; the graph's other ai.onnx.ml operators (the one-hot encoder,
    the label encoder) mean the same in 5."""
    if any(node.op_type == "TreeEnsemble" and node.domain == "ai.onnx.ml" for node in graph.graph.node):
        for opset in graph.opset_import:
            if opset.domain == "ai.onnx.ml":
                opset.version = max(opset.version, TREE_ENSEMBLE_OPSET)
    return graph


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
    x = _joined_input(scope, operator, container)
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


def _joined_input(scope: Any, operator: Any, container: Any) -> str:
    """The operator's inputs as one (rows, columns) tensor (skl2onnx may hand a step one input per column)."""
    names = [variable.full_name for variable in operator.inputs]
    if len(names) == 1:
        return str(names[0])
    joined = scope.get_unique_variable_name("joined")
    container.add_node("Concat", names, [joined], axis=1)
    return str(joined)


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
    x = _joined_input(scope, operator, container)
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


def _tree_ensemble(trees: Any, onnx_type: int) -> dict[str, Any]:
    """The attributes of one ai.onnx.ml ``TreeEnsemble`` node that sums the trees' leaf values per target, with
    every threshold and leaf value in ``onnx_type`` (double: exactly scikit-learn's ``x <= threshold``)."""
    from onnx import TensorProto, helper

    node: dict[str, list[Any]] = {key: [] for key in ("feature", "split", "true", "true_leaf", "false", "false_leaf",
                                                      "missing_true")}  # fmt: skip
    roots: list[int] = []
    leaf_targets: list[int] = []
    leaf_weights: list[float] = []
    for iteration in trees.iterations:
        for target, nodes in enumerate(iteration):
            if nodes["is_categorical"].any():
                raise NotImplementedError("HistGradientBoosting's native categorical splits")
            is_leaf = nodes["is_leaf"].astype(bool)
            # Each node's position in the ensemble's arrays: interior nodes in `node`, leaves in the leaf arrays.
            interior = {i: len(node["feature"]) + k for k, i in enumerate(np.flatnonzero(~is_leaf).tolist())}
            leaves = {i: len(leaf_weights) + k for k, i in enumerate(np.flatnonzero(is_leaf).tolist())}

            def child(i: int) -> tuple[int, int]:
                return (leaves[i], 1) if is_leaf[i] else (interior[i], 0)  # noqa: B023 (called in this loop only)

            roots.append(len(node["feature"]))
            splits = [(int(n["feature_idx"]), float(n["num_threshold"]), int(n["left"]), int(n["right"]),
                       int(n["missing_go_to_left"])) for n in nodes[~is_leaf]]  # fmt: skip
            if not splits:  # one leaf: a split whose two branches both reach it
                splits = [(0, 0.0, 0, 0, 1)]
            for feature, threshold, left, right, missing_left in splits:
                (true, true_leaf), (false, false_leaf) = child(left), child(right)
                for key, value in zip(node, (feature, threshold, true, true_leaf, false, false_leaf, missing_left),
                                      strict=True):  # fmt: skip
                    node[key].append(value)
            leaf_targets += [target] * int(is_leaf.sum())
            leaf_weights += [float(v) for v in nodes["value"][is_leaf]]
    count = len(node["feature"])
    return {
        "n_targets": len(trees.baseline),
        "aggregate_function": AGGREGATE_SUM,
        "post_transform": POST_TRANSFORM_NONE,
        "tree_roots": roots,
        "nodes_featureids": node["feature"],
        "nodes_modes": helper.make_tensor("nodes_modes", TensorProto.UINT8, [count], [BRANCH_LEQ] * count),
        "nodes_splits": helper.make_tensor("nodes_splits", onnx_type, [count], node["split"]),
        "nodes_truenodeids": node["true"],
        "nodes_trueleafs": node["true_leaf"],
        "nodes_falsenodeids": node["false"],
        "nodes_falseleafs": node["false_leaf"],
        "nodes_missing_value_tracks_true": node["missing_true"],
        "leaf_targetids": leaf_targets,
        "leaf_weights": helper.make_tensor("leaf_weights", onnx_type, [len(leaf_weights)], leaf_weights),
    }


def _convert_hist_gradient_boosting(scope: Any, operator: Any, container: Any) -> None:
    """scikit-learn's HistGradientBoosting as one ``TreeEnsemble`` (ai.onnx.ml 5, declared by
    :func:`with_tree_ensemble_opset`) in the graph's precision, then the baseline and the inverse link: in double it
    compares ``x <= threshold`` exactly as scikit-learn does, where skl2onnx's own converter rounds thresholds to
    float32 (a value such as 15.4 then took the other branch)."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    from gitops_ml.adapters.sklearn_hist_gradient_boosting import trees as read_trees

    model = operator.raw_operator
    trees = read_trees(model)
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    onnx_type = TensorProto.DOUBLE if double else TensorProto.FLOAT
    name = scope.get_unique_variable_name
    x = _joined_input(scope, operator, container)
    summed, baseline, raw = name("tree_sum"), name("baseline"), name("raw")
    container.add_node(
        "TreeEnsemble", [x], [summed], op_domain="ai.onnx.ml", op_version=ONNX_OPSET["ai.onnx.ml"],
        name=scope.get_unique_operator_name("TreeEnsemble"), **_tree_ensemble(trees, onnx_type),
    )  # fmt: skip
    container.add_initializer(baseline, onnx_type, [1, len(trees.baseline)], trees.baseline.tolist())
    container.add_node("Add", [summed, baseline], [raw])
    if not hasattr(model, "predict_proba"):
        inverse = {"identity": "Identity", "log": "Exp"}.get(trees.link)
        if inverse is None:
            raise NotImplementedError(f"a HistGradientBoostingRegressor with the {trees.link} link")
        container.add_node(inverse, [raw], [operator.outputs[0].full_name])
        return
    classes = np.asarray(model.classes_)
    if classes.dtype.kind not in "iu":
        raise NotImplementedError("a HistGradientBoostingClassifier of classes that are not integers")
    proba = operator.outputs[1].full_name
    if trees.link == "logit":  # binary: [1 - p, p]
        positive, one, negative = name("positive"), name("one"), name("negative")
        container.add_node("Sigmoid", [raw], [positive])
        container.add_initializer(one, onnx_type, [1, 1], [1.0])
        container.add_node("Sub", [one, positive], [negative])
        container.add_node("Concat", [negative, positive], [proba], axis=1)
    elif trees.link == "softmax":
        container.add_node("Softmax", [raw], [proba], axis=1)
    else:
        raise NotImplementedError(f"a HistGradientBoostingClassifier with the {trees.link} link")
    index, labels = name("class_index"), name("classes")
    container.add_node("ArgMax", [proba], [index], axis=1, keepdims=0)
    container.add_initializer(labels, TensorProto.INT64, [len(classes)], [int(c) for c in classes])
    container.add_node("Gather", [labels, index], [operator.outputs[0].full_name], axis=0)


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
        calculate_linear_classifier_output_shapes, _convert_hist_gradient_boosting, options=CLASSIFIER_OPTIONS,
    )  # fmt: skip
    update_registered_converter(
        HistGradientBoostingRegressor, "SklearnHistGradientBoostingRegressor",
        calculate_linear_regressor_output_shapes, _convert_hist_gradient_boosting,
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
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

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
