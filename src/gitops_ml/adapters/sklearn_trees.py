"""The fitted trees of a HistGradientBoostingClassifier and the encoder's infrequent-category flag.

``pipeline/fast_scoring.py`` walks a small batch through all trees at once with numpy, which needs what
scikit-learn keeps in private attributes: the per-iteration ``TreePredictor`` list (``_predictors``, each with a
structured ``nodes`` array), the starting raw score (``_baseline_prediction``), the loss that maps raw scores to
probabilities (``_loss.predict_proba``) and the binning preprocessor of categorical features (``_preprocessor``).
OneHotEncoder's grouping of infrequent categories is ``_infrequent_enabled``. All are unchanged since
scikit-learn 1.2. A release that renames them must not break serving: :func:`hgb_trees` then returns None and the
fast path falls back to the classifier's own ``predict_proba``; :func:`check` (run by tests/adapters) fails naming
the installed version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gitops_ml.adapters import broken

DISTRIBUTION = "scikit-learn"
ADAPTER = "src/gitops_ml/adapters/sklearn_trees.py"
NODE_FIELDS = (
    "value",
    "feature_idx",
    "num_threshold",
    "missing_go_to_left",
    "left",
    "right",
    "is_leaf",
    "depth",
    "is_categorical",
)
"""The fields of a tree's structured ``nodes`` array that the tree walk reads."""


@dataclass(frozen=True)
class HgbTrees:
    """A fitted binary classifier's trees (one per boosting iteration), starting raw score and probability map."""

    nodes: list[NDArray[Any]]
    baseline: float
    predict_proba: Callable[[NDArray[np.float64]], NDArray[np.float64]]


def hgb_trees(classifier: Any) -> HgbTrees | None:
    """The trees of a fitted binary HistGradientBoostingClassifier without categorical features, else None.

    None also when scikit-learn keeps them elsewhere than this module expects (the caller then uses the
    classifier's own ``predict_proba``).
    """
    try:
        if classifier.n_trees_per_iteration_ != 1 or classifier._preprocessor is not None:
            return None
        nodes = [iteration[0].nodes for iteration in classifier._predictors]
        baseline = np.asarray(classifier._baseline_prediction, dtype=np.float64).ravel()
        predict_proba = classifier._loss.predict_proba
    except AttributeError:
        return None
    if not nodes or baseline.size != 1 or not callable(predict_proba):
        return None
    if any(node.dtype.names is None or not set(NODE_FIELDS) <= set(node.dtype.names) for node in nodes):
        return None
    return HgbTrees(nodes=nodes, baseline=float(baseline[0]), predict_proba=predict_proba)


def groups_infrequent(encoder: Any) -> bool:
    """Whether a fitted OneHotEncoder groups infrequent categories (True, the safe answer, if it cannot tell)."""
    return bool(getattr(encoder, "_infrequent_enabled", True))


def check() -> None:
    """Raise :class:`~gitops_ml.errors.PrivateApiError` unless a freshly fitted model exposes what this reads."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2))
    classifier = HistGradientBoostingClassifier(max_iter=3).fit(x, (x[:, 0] > 0).astype(int))
    if hgb_trees(classifier) is None:
        raise broken(
            DISTRIBUTION,
            "HistGradientBoostingClassifier._predictors/_baseline_prediction/_loss/_preprocessor",
            ADAPTER,
            f"not found, or tree nodes without the fields {', '.join(NODE_FIELDS)}",
        )
    if not hasattr(OneHotEncoder().fit([["a"], ["b"]]), "_infrequent_enabled"):
        raise broken(DISTRIBUTION, "OneHotEncoder._infrequent_enabled", ADAPTER, "not found")
