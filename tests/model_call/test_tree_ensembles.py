"""Boosted trees converted in double (model_call/tree_ensembles.py), estimator by estimator, outside any Pipeline:
each link (identity, log, logit, softmax) and one-leaf trees give the library's own predictions to 1e-12 in ONNX
Runtime, and what the converter does not cover is refused by name (the compiled path then serves generically).

The same converters inside the template's Pipeline, on every task's data and at every threshold:
tests/model_call/test_compiled.py.
"""

from __future__ import annotations

from typing import Any

import lightgbm
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from gitops_ml.model_call import tree_ensembles
from gitops_ml.model_call.onnx_converters import ONNX_OPSET, register_estimator

ROWS = 400


def data(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, 4)).round(1)  # one decimal: many values sit right at the thresholds
    return x, x[:, 0] + 0.5 * x[:, 1] ** 2 + rng.normal(0, 0.3, ROWS)


def compiled(estimator: Any, x: np.ndarray) -> np.ndarray:
    """``estimator`` converted on its own with double inputs and run in ONNX Runtime: the probabilities of a
    classifier, else the prediction."""
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    register_estimator(estimator)
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    graph = convert_sklearn(estimator, initial_types=[("x", DoubleTensorType([None, x.shape[1]]))],
                            target_opset=ONNX_OPSET, options=options)  # fmt: skip
    session = ort.InferenceSession(tree_ensembles.with_tree_ensemble_opset(graph).SerializeToString(),
                                   providers=["CPUExecutionProvider"])  # fmt: skip
    outputs = session.run(None, {"x": x})
    return np.asarray(outputs[-1] if hasattr(estimator, "predict_proba") else outputs[0], dtype=np.float64)


def expected(estimator: Any, x: np.ndarray) -> np.ndarray:
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(x), dtype=np.float64)
    return np.asarray(estimator.predict(x), dtype=np.float64).reshape(-1, 1)


def models() -> list[tuple[str, Any, np.ndarray]]:
    _, value = data()
    positive = np.abs(value) + 0.1
    binary, classes = (value > 0.5).astype(int), np.digitize(value, [-0.5, 0.5, 1.5])
    small = {"n_estimators": 15, "verbose": -1}
    return [
        ("hgb-identity", HistGradientBoostingRegressor(max_iter=15), value),
        ("hgb-log", HistGradientBoostingRegressor(max_iter=15, loss="poisson"), positive),
        ("hgb-logit", HistGradientBoostingClassifier(max_iter=15), binary),
        ("hgb-softmax", HistGradientBoostingClassifier(max_iter=15), classes),
        ("lgbm-identity", lightgbm.LGBMRegressor(**small), value),
        ("lgbm-log", lightgbm.LGBMRegressor(objective="poisson", **small), positive),
        ("lgbm-logit", lightgbm.LGBMClassifier(**small), binary),
        ("lgbm-softmax", lightgbm.LGBMClassifier(**small), classes),
        ("lgbm-one-leaf", lightgbm.LGBMRegressor(min_child_samples=ROWS, **small), value),  # no split is allowed
    ]


@pytest.mark.parametrize(("label", "estimator", "target"), models(), ids=[m[0] for m in models()])
def test_each_link_gives_the_librarys_predictions_in_double(label: str, estimator: Any, target: np.ndarray) -> None:
    x, _ = data()
    estimator.fit(x, target)
    held_out = np.vstack([data(seed=9)[0], x[:50] + 1e-15, np.full((1, 4), np.nan)])  # unseen rows, gaps
    got, want = compiled(estimator, held_out), expected(estimator, held_out)
    assert got.shape == want.shape
    assert float(np.max(np.abs(got - want))) <= 1e-12, label


def test_native_categorical_splits_are_refused_by_name() -> None:
    x, value = data()
    x[:, 3] = np.abs(x[:, 3] * 3).round() % 4  # a small integer code
    model = HistGradientBoostingRegressor(max_iter=5, categorical_features=[3]).fit(x, value + x[:, 3])
    with pytest.raises(NotImplementedError, match="native categorical splits"):
        tree_ensembles.hist_gradient_boosting(model)


def test_lightgbm_categorical_splits_and_other_objectives_are_refused_by_name() -> None:
    x, value = data()
    x[:, 3] = np.abs(x[:, 3] * 3).round() % 4
    categorical = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1, min_data_per_group=5, cat_smooth=1)
    categorical.fit(x, value + 3 * x[:, 3], categorical_feature=[3])
    with pytest.raises(NotImplementedError, match="categorical"):
        tree_ensembles.lightgbm(categorical)
    ranking_like = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1, objective="cross_entropy")
    ranking_like.fit(x, (value > 0).astype(float))
    with pytest.raises(NotImplementedError, match="objective 'cross_entropy'"):
        tree_ensembles.lightgbm(ranking_like)
