"""The metrics the project reports and gates on, and which way each one improves: the one place they are named.

Everything else derives from :data:`HIGHER_IS_BETTER` (computing them in :mod:`gitops_ml.scoring`, the gate's
rules, the report's rows, the release notes). No heavy imports: the CLI loads this at start-up.
"""

from __future__ import annotations

HIGHER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "average_precision": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "accuracy": True,
    "log_loss": False,
}
METRIC_NAMES = tuple(HIGHER_IS_BETTER)
