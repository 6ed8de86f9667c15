"""The stages on a Dask cluster (``compute.engine: dask``; docs/scale-out-dask.md), one module per stage.

Each reuses its in-memory stage's own code on every partition: ``validate.check_rows`` (the contract),
``split.split_frame`` (the split), ``train.build_model`` (the model), ``evaluate``'s metrics, tables and outputs,
so a change there is a change here. They write the same outputs, as directories of parquet parts where the
in-memory stages write one parquet file (``pandas.read_parquet`` reads both).
"""
