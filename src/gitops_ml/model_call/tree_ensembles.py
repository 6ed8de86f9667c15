"""Boosted trees that compare in double, converted to ONNX in double: HistGradientBoosting and LightGBM.

Both libraries send a row left when ``x <= threshold`` with ``x`` and ``threshold`` in double. skl2onnx's and
onnxmltools' converters write the thresholds in float32 (``TreeEnsembleClassifier``/``-Regressor`` hold no other),
so a value a float32 cannot tell from a threshold (15.4 against a threshold of 15.4, or 15.400000000000002) took
the other branch: a 5-class model of 2026-12-07 differed by 8.1e-4 on the probe rows, and one double step beside
a threshold moved a probability by up to 0.92. Here the trees become one ``TreeEnsemble`` of ai.onnx.ml 5, whose
thresholds and leaf values are in the graph's precision, so in double the graph takes the library's own branch at
every value. The trees are read from HistGradientBoosting's private attributes (behind
:mod:`gitops_ml.adapters.sklearn_hist_gradient_boosting`) and from LightGBM's public ``Booster.dump_model()``.

Written here because neither converter library offers double trees (skl2onnx declares ai.onnx.ml 3 at most;
onnxmltools writes LightGBM's thresholds as float32), and the operator itself is a few arrays. What a model needs
and this does not cover (HistGradientBoosting's native categorical splits, LightGBM's categorical or linear trees,
zero-as-missing, an objective without a link below) raises ``NotImplementedError``; the compiled path then refuses
the model with that reason and the generic path serves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

TREE_ENSEMBLE_OPSET = 5
"""ai.onnx.ml's opset of ``TreeEnsemble`` (thresholds and leaf values in any float type; ai.onnx.ml 5 retires the
older float32-only tree operators)."""
DECLARED_ML_OPSET = 3
"""The ai.onnx.ml opset skl2onnx lets a converter declare; :func:`with_tree_ensemble_opset` raises it afterwards."""
BRANCH_LEQ = 0
AGGREGATE_SUM = 1
POST_TRANSFORM_NONE = 0
INVERSE_LINKS = {"identity": "Identity", "log": "Exp"}
"""A regressor's link -> the ONNX operator that turns the summed raw score into its prediction."""


@dataclass
class Tree:
    """One tree: its splits (the root first) and its leaves' values, added to target ``target``'s raw score.

    A split is ``(feature, threshold, left, right, missing_left)``; ``left``/``right`` are ``("split", i)`` or
    ``("leaf", i)`` within this tree; a row goes left when ``x <= threshold``, and a missing value (NaN) goes left
    when ``missing_left``."""

    target: int
    splits: list[tuple[int, float, tuple[str, int], tuple[str, int], bool]] = field(default_factory=list)
    leaves: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Ensemble:
    """What a boosted model predicts with: ``link^-1(baseline + the sum of its trees per target)``."""

    trees: list[Tree]
    baseline: np.ndarray
    """The raw score before any tree, one per target (zeros when the trees hold it)."""
    link: str
    """``identity``, ``log`` (regression), ``logit`` (binary, with :attr:`logit_scale`) or ``softmax``."""
    logit_scale: float = 1.0
    zero_within: float | None = None
    """Inputs this close to 0 are read as 0 before the trees (LightGBM's ``kZeroThreshold``)."""


def with_tree_ensemble_opset(graph: Any) -> Any:
    """``graph`` importing ai.onnx.ml at :data:`TREE_ENSEMBLE_OPSET` when it holds a ``TreeEnsemble`` node.

    skl2onnx declares ai.onnx.ml 3 at most, so the converters here add their node under that version and the import
    is raised after conversion; the graph's other ai.onnx.ml operators (the one-hot encoder, the label encoder)
    mean the same in 5."""
    if any(node.op_type == "TreeEnsemble" and node.domain == "ai.onnx.ml" for node in graph.graph.node):
        for opset in graph.opset_import:
            if opset.domain == "ai.onnx.ml":
                opset.version = max(opset.version, TREE_ENSEMBLE_OPSET)
    return graph


def attributes(ensemble: Ensemble, onnx_type: int) -> dict[str, Any]:
    """The attributes of one ai.onnx.ml ``TreeEnsemble`` node summing ``ensemble``'s trees per target, with every
    threshold and leaf value in ``onnx_type``."""
    from onnx import TensorProto, helper

    columns: dict[str, list[Any]] = {key: [] for key in ("feature", "split", "true", "true_leaf", "false",
                                                         "false_leaf", "missing_true")}  # fmt: skip
    roots: list[int] = []
    leaf_targets: list[int] = []
    leaf_weights: list[float] = []
    for tree in ensemble.trees:
        first_split, first_leaf = len(columns["feature"]), len(leaf_weights)

        def at(ref: tuple[str, int]) -> tuple[int, int]:
            kind, index = ref
            return (first_leaf + index, 1) if kind == "leaf" else (first_split + index, 0)  # noqa: B023

        roots.append(first_split)
        splits = tree.splits or [(0, 0.0, ("leaf", 0), ("leaf", 0), True)]  # one leaf: both branches reach it
        for feature, threshold, left, right, missing_left in splits:
            (true, true_leaf), (false, false_leaf) = at(left), at(right)
            row = (feature, threshold, true, true_leaf, false, false_leaf, int(missing_left))
            for key, value in zip(columns, row, strict=True):
                columns[key].append(value)
        leaf_targets += [tree.target] * len(tree.leaves)
        leaf_weights += tree.leaves
    count = len(columns["feature"])
    return {
        "n_targets": len(ensemble.baseline),
        "aggregate_function": AGGREGATE_SUM,
        "post_transform": POST_TRANSFORM_NONE,
        "tree_roots": roots,
        "nodes_featureids": columns["feature"],
        "nodes_modes": helper.make_tensor("nodes_modes", TensorProto.UINT8, [count], [BRANCH_LEQ] * count),
        "nodes_splits": helper.make_tensor("nodes_splits", onnx_type, [count], columns["split"]),
        "nodes_truenodeids": columns["true"],
        "nodes_trueleafs": columns["true_leaf"],
        "nodes_falsenodeids": columns["false"],
        "nodes_falseleafs": columns["false_leaf"],
        "nodes_missing_value_tracks_true": columns["missing_true"],
        "leaf_targetids": leaf_targets,
        "leaf_weights": helper.make_tensor("leaf_weights", onnx_type, [len(leaf_weights)], leaf_weights),
    }


def hist_gradient_boosting(model: Any) -> Ensemble:
    """The fitted HistGradientBoostingClassifier or -Regressor ``model`` as an :class:`Ensemble`."""
    from gitops_ml.adapters.sklearn_hist_gradient_boosting import trees as read_trees

    found = read_trees(model)
    trees = []
    for iteration in found.iterations:
        for target, nodes in enumerate(iteration):
            if nodes["is_categorical"].any():
                raise NotImplementedError("HistGradientBoosting's native categorical splits")
            is_leaf = nodes["is_leaf"].astype(bool)
            ranks = np.cumsum(is_leaf) - 1, np.cumsum(~is_leaf) - 1  # each node's index among leaves, splits

            def ref(i: int) -> tuple[str, int]:
                return ("leaf", int(ranks[0][i])) if is_leaf[i] else ("split", int(ranks[1][i]))  # noqa: B023

            tree = Tree(target, leaves=[float(v) for v in nodes["value"][is_leaf]])
            for node in nodes[~is_leaf]:  # the root is node 0, so it comes first
                tree.splits.append((int(node["feature_idx"]), float(node["num_threshold"]), ref(int(node["left"])),
                                    ref(int(node["right"])), bool(node["missing_go_to_left"])))  # fmt: skip
            trees.append(tree)
    return Ensemble(trees, found.baseline, found.link)


LIGHTGBM_ZERO = float(np.float32(1e-35))
"""LightGBM reads a value within this of 0 (``kZeroThreshold``, a float 1e-35) as 0 before any split."""
LIGHTGBM_LINKS = {
    "regression": "identity", "regression_l1": "identity", "huber": "identity", "fair": "identity",
    "quantile": "identity", "mape": "identity", "poisson": "log", "gamma": "log", "tweedie": "log",
    "binary": "logit", "multiclass": "softmax",
}  # fmt: skip
"""LightGBM's objectives (the first word of ``dump_model()['objective']``) -> their link."""


def _lightgbm_nodes(node: dict[str, Any], tree: Tree) -> tuple[str, int]:
    """Add ``node`` and everything below it to ``tree`` (splits in preorder); return its reference."""
    if "leaf_value" in node:
        if "leaf_coeff" in node:
            raise NotImplementedError("LightGBM's linear trees")
        tree.leaves.append(float(node["leaf_value"]))
        return ("leaf", len(tree.leaves) - 1)
    if node.get("decision_type") != "<=":
        raise NotImplementedError(f"LightGBM's {node.get('decision_type')!r} (categorical) splits")
    missing = node.get("missing_type", "None")
    threshold = float(node["threshold"])
    if missing == "NaN":
        missing_left = bool(node["default_left"])
    elif missing == "None":
        missing_left = threshold >= 0.0  # LightGBM reads a NaN as 0 here
    else:
        raise NotImplementedError(f"LightGBM's missing_type {missing!r} (zero_as_missing)")
    index = len(tree.splits)
    tree.splits.append((int(node["split_feature"]), threshold, ("leaf", -1), ("leaf", -1), missing_left))
    left, right = _lightgbm_nodes(node["left_child"], tree), _lightgbm_nodes(node["right_child"], tree)
    tree.splits[index] = (int(node["split_feature"]), threshold, left, right, missing_left)
    return ("split", index)


def lightgbm(model: Any) -> Ensemble:
    """The fitted LGBMClassifier or LGBMRegressor ``model`` as an :class:`Ensemble`, from ``Booster.dump_model()``
    (its thresholds and leaf values printed with 17 significant digits: the doubles exactly)."""
    dump = model.booster_.dump_model()
    words = str(dump.get("objective", "")).split()
    objective = words[0] if words else ""
    if objective not in LIGHTGBM_LINKS or dump.get("average_output") or "sqrt" in words:
        raise NotImplementedError(f"LightGBM's objective {dump.get('objective')!r}")
    per_iteration = int(dump["num_tree_per_iteration"])
    trees = []
    for position, info in enumerate(dump["tree_info"]):
        tree = Tree(position % per_iteration)
        _lightgbm_nodes(info["tree_structure"], tree)
        trees.append(tree)
    scale = next((float(w.partition(":")[2]) for w in words[1:] if w.startswith("sigmoid:")), 1.0)
    return Ensemble(trees, np.zeros(per_iteration), LIGHTGBM_LINKS[objective], scale, LIGHTGBM_ZERO)


def joined_input(scope: Any, operator: Any, container: Any) -> str:
    """The operator's inputs as one (rows, columns) tensor (skl2onnx may hand a step one input per column)."""
    names = [str(variable.full_name) for variable in operator.inputs]
    if len(names) == 1:
        return names[0]
    joined = str(scope.get_unique_variable_name("joined"))
    container.add_node("Concat", names, [joined], axis=1)
    return joined


def convert(scope: Any, operator: Any, container: Any, ensemble: Ensemble) -> None:
    """Write ``ensemble`` into the graph as ``operator``'s outputs: the regressor's value, or the classifier's label
    and probabilities (binary ``[1 - p, p]``), in the precision of the operator's input."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    model = operator.raw_operator
    onnx_type = TensorProto.DOUBLE if isinstance(operator.inputs[0].type, DoubleTensorType) else TensorProto.FLOAT
    name = scope.get_unique_variable_name
    x = joined_input(scope, operator, container)
    if ensemble.zero_within is not None:
        size, limit, small, zero, read = (name(n) for n in ("magnitude", "zero_within", "near_zero", "zero", "read"))
        container.add_initializer(limit, onnx_type, [], [ensemble.zero_within])
        container.add_initializer(zero, onnx_type, [], [0.0])
        container.add_node("Abs", [x], [size])
        container.add_node("LessOrEqual", [size, limit], [small])
        container.add_node("Where", [small, zero, x], [read])
        x = read
    summed, baseline, raw = name("tree_sum"), name("baseline"), name("raw")
    container.add_node(
        "TreeEnsemble", [x], [summed], op_domain="ai.onnx.ml", op_version=DECLARED_ML_OPSET,
        name=scope.get_unique_operator_name("TreeEnsemble"), **attributes(ensemble, onnx_type),
    )  # fmt: skip
    container.add_initializer(baseline, onnx_type, [1, len(ensemble.baseline)], ensemble.baseline.tolist())
    container.add_node("Add", [summed, baseline], [raw])
    if not hasattr(model, "predict_proba"):
        if ensemble.link not in INVERSE_LINKS:
            raise NotImplementedError(f"a regressor with the {ensemble.link} link")
        container.add_node(INVERSE_LINKS[ensemble.link], [raw], [operator.outputs[0].full_name])
        return
    classes = np.asarray(model.classes_)
    if classes.dtype.kind not in "iu":
        raise NotImplementedError("a classifier of classes that are not integers")
    proba = operator.outputs[1].full_name
    if ensemble.link == "logit":  # binary: [1 - p, p]
        scaled, factor, positive, one, negative = (name(n) for n in ("scaled", "scale", "positive", "one", "neg"))
        container.add_initializer(factor, onnx_type, [1, 1], [ensemble.logit_scale])
        container.add_node("Mul", [raw, factor], [scaled])
        container.add_node("Sigmoid", [scaled], [positive])
        container.add_initializer(one, onnx_type, [1, 1], [1.0])
        container.add_node("Sub", [one, positive], [negative])
        container.add_node("Concat", [negative, positive], [proba], axis=1)
    elif ensemble.link == "softmax":
        container.add_node("Softmax", [raw], [proba], axis=1)
    else:
        raise NotImplementedError(f"a classifier with the {ensemble.link} link")
    index, labels = name("class_index"), name("classes")
    container.add_node("ArgMax", [proba], [index], axis=1, keepdims=0)
    container.add_initializer(labels, TensorProto.INT64, [len(classes)], [int(c) for c in classes])
    container.add_node("Gather", [labels, index], [operator.outputs[0].full_name], axis=0)


def convert_hist_gradient_boosting(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter of HistGradientBoostingClassifier and -Regressor (:func:`convert`)."""
    convert(scope, operator, container, hist_gradient_boosting(operator.raw_operator))


def convert_lightgbm(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter of LGBMClassifier and LGBMRegressor (:func:`convert`)."""
    convert(scope, operator, container, lightgbm(operator.raw_operator))
