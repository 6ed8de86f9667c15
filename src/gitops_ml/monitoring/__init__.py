"""Monitoring after release: the training reference (a DVC stage) and the drift check of a window of predictions.

- :mod:`~gitops_ml.monitoring.reference`: the stage ``drift_reference``, the training split's features and the model's
  predictions;
- :mod:`~gitops_ml.monitoring.window`: reading a window (prediction-log JSON Lines, CSV or parquet) and checking it
  against the schema;
- :mod:`~gitops_ml.monitoring.statistics`: the distances between two samples of one feature (scipy);
- :mod:`~gitops_ml.monitoring.drift`: the whole comparison against the thresholds in ``monitor:``, as a report;
- :mod:`~gitops_ml.monitoring.render`: the report as Markdown with Mermaid charts;
- :mod:`~gitops_ml.monitoring.commands`: the CLI commands ``drift-reference`` and ``drift``.
"""
