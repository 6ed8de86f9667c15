"""The metrics the project reports and gates on, and which way each one improves: the one place they are named.

Everything else derives from here: :data:`MetricName` types the gate's rules in ``params.yaml`` and the report's
rows, :data:`METRIC_NAMES` orders every table, and :data:`HIGHER_IS_BETTER` gives the direction to the gate, the
report and the release notes. Computing them is :mod:`gitops_ml.scoring`'s job. No heavy imports: the CLI loads
this at start-up.
"""

from __future__ import annotations

from typing import Literal, get_args

MetricName = Literal["roc_auc", "average_precision", "f1", "precision", "recall", "accuracy", "log_loss"]
"""A metric's name, as ``params.yaml`` (``gate:``), ``metrics.json`` and the reports spell it."""

METRIC_NAMES: tuple[MetricName, ...] = get_args(MetricName)
"""Every metric, in the order tables list them."""

HIGHER_IS_BETTER: dict[MetricName, bool] = {
    "roc_auc": True,
    "average_precision": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "accuracy": True,
    "log_loss": False,
}
"""Which way each metric improves (keys typed by :data:`MetricName`; a test checks each has one)."""
