"""The trees of a fitted HistGradientBoosting model, as the compiled model call converts them to ONNX.

scikit-learn keeps them in private attributes: ``_predictors`` (per boosting iteration, one ``TreePredictor`` per
target, whose ``nodes`` is a structured array), ``_baseline_prediction`` (the raw score before any tree) and
``_loss.link`` (how raw scores become predictions). skl2onnx reads the same attributes but writes the thresholds
in float32, where a value a float32 cannot tell from a threshold takes the other branch; reading them here lets
``model_call/onnx_converters.py`` keep them in double. :func:`trees` checks them before use and raises
:class:`~gitops_ml.errors.PrivateApiError` naming the installed version when they changed (the compiled path then
refuses the model and the generic path serves it); :func:`check` runs that on a small fitted model
(tests/adapters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gitops_ml.adapters import broken

DISTRIBUTION = "scikit-learn"
ADAPTER = "src/gitops_ml/adapters/sklearn_hist_gradient_boosting.py"
NODE_FIELDS = ("value", "feature_idx", "num_threshold", "missing_go_to_left", "left", "right", "is_leaf",
               "is_categorical")  # fmt: skip
LINKS = {"IdentityLink": "identity", "LogLink": "log", "LogitLink": "logit", "MultinomialLogit": "softmax"}
"""scikit-learn's link classes -> how a raw score becomes the prediction (the inverse link)."""


@dataclass(frozen=True)
class Trees:
    """What a fitted HistGradientBoosting model predicts with: ``inverse_link(baseline + sum of the trees)``."""

    iterations: list[list[np.ndarray]]
    """Per boosting iteration, per target (class, or the one value), the tree's nodes (a structured array with
    :data:`NODE_FIELDS`; ``left``/``right`` index that array; a leaf's ``value`` includes the learning rate)."""
    baseline: np.ndarray
    """The raw score before any tree, shape (targets,)."""
    link: str
    """``identity``, ``log``, ``logit`` (binary) or ``softmax`` (multiclass): :data:`LINKS`."""


def trees(model: Any) -> Trees:
    """The trees of the fitted HistGradientBoostingClassifier or -Regressor ``model``; :class:`PrivateApiError` when
    scikit-learn keeps them differently."""
    api = f"{type(model).__name__}._predictors/_baseline_prediction/_loss.link"
    predictors = getattr(model, "_predictors", None)
    baseline = getattr(model, "_baseline_prediction", None)
    link = type(getattr(getattr(model, "_loss", None), "link", None)).__name__
    if not isinstance(predictors, list) or baseline is None:
        raise broken(DISTRIBUTION, api, ADAPTER, "not found on a fitted model")
    if link not in LINKS:
        raise broken(DISTRIBUTION, api, ADAPTER, f"the link {link} is none of {', '.join(LINKS)}")
    iterations: list[list[np.ndarray]] = []
    for iteration in predictors:
        iterations.append([])
        for tree in iteration:
            nodes = getattr(tree, "nodes", None)
            fields = getattr(getattr(nodes, "dtype", None), "names", None) or ()
            missing = [name for name in NODE_FIELDS if name not in fields]
            if not isinstance(nodes, np.ndarray) or missing:
                raise broken(DISTRIBUTION, api, ADAPTER, f"tree nodes without the field(s) {', '.join(missing)}")
            iterations[-1].append(nodes)
    return Trees(iterations, np.asarray(baseline, dtype=np.float64).reshape(-1), LINKS[link])


def check() -> None:
    """Raise :class:`~gitops_ml.errors.PrivateApiError` unless a small fitted model still keeps its trees as
    expected, for each kind of model the registry offers (regression, binary, multiclass)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    x = np.arange(60, dtype=np.float64).reshape(30, 2)
    for model, y in (
        (HistGradientBoostingRegressor(max_iter=2), x[:, 0]),
        (HistGradientBoostingClassifier(max_iter=2), (x[:, 0] > 20).astype(int)),
        (HistGradientBoostingClassifier(max_iter=2), (x[:, 0] // 20).astype(int)),
    ):
        found = trees(model.fit(x, y))
        if len(found.baseline) != model.n_trees_per_iteration_:
            raise broken(DISTRIBUTION, "_baseline_prediction", ADAPTER, f"shape {found.baseline.shape}")
