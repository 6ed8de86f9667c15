"""LightGBM and XGBoost trained through their own Dask interfaces, handed back as the plain estimators.

Given the unfitted single-machine estimator (``lightgbm.LGBMClassifier``/``LGBMRegressor``,
``xgboost.XGBClassifier``/``XGBRegressor``, as ``train.estimator`` builds it), :func:`fit_on_cluster` trains its
Dask twin with the same hyperparameters on dask arrays held by the workers, and returns a fitted estimator of the
original class (LightGBM: ``to_local()``; XGBoost: the booster loaded into a new ``XGB*`` estimator): saved,
loaded and scored exactly like one trained in memory.

Neither library trains out of core: each worker holds its share of the training matrix and needs several times
that while it trains (docs/scale-out-dask.md#memory). A worker that dies while LightGBM trains leaves the others
waiting for it, so the training runs under ``compute.train_timeout_s``.
"""

from __future__ import annotations

import math
import tempfile
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_ml.errors import ComputeError

if TYPE_CHECKING:
    from distributed import Client

TWINS = {
    "lightgbm.sklearn.LGBMClassifier": ("lightgbm", "DaskLGBMClassifier"),
    "lightgbm.sklearn.LGBMRegressor": ("lightgbm", "DaskLGBMRegressor"),
    "xgboost.sklearn.XGBClassifier": ("xgboost.dask", "DaskXGBClassifier"),
    "xgboost.sklearn.XGBRegressor": ("xgboost.dask", "DaskXGBRegressor"),
}
"""The estimators that can train one model across Dask workers: class (module.name) -> its Dask twin."""


def class_name(estimator: Any) -> str:
    """``module.QualifiedName`` of the estimator's class."""
    kind = type(estimator)
    return f"{kind.__module__}.{kind.__qualname__}"


def can_distribute(estimator: Any) -> bool:
    """True if ``estimator`` has a Dask twin that trains one model across the cluster's workers."""
    return class_name(estimator) in TWINS


def _twin(estimator: Any, client: Client, timeout_s: float) -> Any:
    import importlib

    module, name = TWINS[class_name(estimator)]
    params = estimator.get_params()
    if module == "lightgbm":
        # LightGBM's own socket time-out (minutes, default 120), so its workers give up too.
        params.setdefault("time_out", max(1, math.ceil(timeout_s / 60)))
        return getattr(importlib.import_module(module), name)(**params, client=client)
    twin = getattr(importlib.import_module(module), name)(**params)
    twin.client = client
    return twin


def _local(estimator: Any, twin: Any) -> Any:
    """The fitted single-machine estimator of ``estimator``'s class from its fitted Dask ``twin``."""
    if class_name(estimator).startswith("lightgbm."):
        return twin.to_local()
    local = type(estimator)(**estimator.get_params())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.json"
        twin.save_model(path)  # the booster with the sklearn wrapper's attributes (classes, objective)
        local.load_model(path)
    return local


def fit_on_cluster(client: Client, estimator: Any, X: Any, y: Any, timeout_s: float) -> Any:
    """Train ``estimator``'s Dask twin on the dask arrays ``X``, ``y``; return the fitted plain estimator.

    Raises :class:`ComputeError` when the training fails (a worker died, the scheduler went away) or takes longer
    than ``timeout_s``.
    """
    name = type(estimator).__name__
    twin = _twin(estimator, client, timeout_s)
    outcome: dict[str, BaseException] = {}

    def train() -> None:
        try:
            with warnings.catch_warnings():
                # LightGBM's Dask twin runs as many threads as each worker has, whatever n_jobs says, and says so
                warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
                twin.fit(X, y)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=train, name=f"fit {name}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise ComputeError(
            f"train: {name} did not finish on the cluster within {timeout_s:g} s (compute.train_timeout_s). A worker "
            "that dies while LightGBM trains leaves the others waiting: check the workers (memory: each needs several "
            "times its share of the training data, docs/scale-out-dask.md#memory), or raise the time-out; no model "
            "was written"
        )
    error = outcome.get("error")
    if error is not None:
        raise ComputeError(
            f"train: {name} failed on the cluster: {type(error).__name__}: {error}. If a worker died (its memory "
            "limit, docs/scale-out-dask.md#memory), give the workers more memory or add workers; no model was written"
        ) from None
    return _local(estimator, twin)
