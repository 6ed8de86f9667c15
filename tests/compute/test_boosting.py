"""LightGBM and XGBoost across Dask workers: which estimators can, and a training that outlives its time-out."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.ensemble import HistGradientBoostingClassifier
from xgboost import XGBClassifier, XGBRegressor

from gitops_ml.compute.boosting import can_distribute, fit_on_cluster
from gitops_ml.errors import ComputeError


def test_only_lightgbm_and_xgboost_estimators_train_across_workers() -> None:
    assert all(can_distribute(e) for e in (LGBMClassifier(), LGBMRegressor(), XGBClassifier(), XGBRegressor()))
    assert not can_distribute(HistGradientBoostingClassifier())


@pytest.mark.slow
def test_a_training_longer_than_its_time_out_stops_with_one_message() -> None:
    import dask.array as da
    from distributed import Client, LocalCluster

    # its own cluster: the abandoned training keeps its workers busy until the cluster is closed
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, memory_limit="1GB", processes=True, host="127.0.0.1",
        dashboard_address=":0", silence_logs=logging.CRITICAL,
    )  # fmt: skip
    client = Client(cluster)
    rng = np.random.default_rng(0)
    X = da.from_array(rng.normal(size=(20_000, 20)).astype(np.float32), chunks=(10_000, 20))
    y = da.from_array((rng.random(20_000) < 0.3).astype(int), chunks=10_000)
    try:
        with pytest.raises(ComputeError) as caught:
            fit_on_cluster(client, XGBClassifier(n_estimators=100_000, max_depth=8), X, y, timeout_s=2)
    finally:
        client.close()
        cluster.close()
    assert str(caught.value).startswith("train: XGBClassifier did not finish on the cluster within 2 s")
    assert "compute.train_timeout_s" in str(caught.value) and "no model was written" in str(caught.value)
