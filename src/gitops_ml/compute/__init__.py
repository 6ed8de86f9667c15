"""The Dask engine (``compute.engine: dask`` in params.yaml; docs/scale-out-dask.md): the template's machinery for data
larger than memory.

- :mod:`~gitops_ml.compute.pieces`: the data as pieces (CSV blocks, groups of parquet row groups), read one at a
  time, and outputs written as directories of parquet parts that appear whole or not at all;
- :mod:`~gitops_ml.compute.cluster`: the cluster (the one ``DASK_SCHEDULER_ADDRESS`` names, else a local one) and
  running one task per piece on it, with a progress bar and one clear message when a piece or a worker fails;
- :mod:`~gitops_ml.compute.boosting`: LightGBM and XGBoost trained through their own Dask interfaces, returned as
  the plain single-machine estimators;
- :mod:`~gitops_ml.compute.scoring`: ``gitops-ml score``, batch scoring of a large file or directory.

The stages' Dask versions live with the stages, in :mod:`gitops_ml.pipeline.distributed`: they reuse the stages'
own contract check, split, model and metrics. Nothing here is imported unless the engine or ``score`` runs.
"""
