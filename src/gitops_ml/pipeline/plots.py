"""The DVC plots of each task: which tables ``evaluate`` writes under ``reports/plots/`` and how DVC draws them.

:data:`PLOTS` is the one list: the evaluate stage writes exactly these files for the project's task, and
``dvc.yaml``'s top-level ``plots:`` section is :func:`dvc_plots` of that task. DVC 3.67 reports a plot whose file is
absent as an error (``dvc plots show`` and ``dvc plots diff`` still exit 0, but warn "DVC failed to load some
plots" on every call, and the ``--json`` output lists the error), and its ``dvc.yaml`` templating cannot choose
plots by ``schema.task``. So ``dvc.yaml`` lists the plots of one task: the template ships the binary ones, and
:func:`write_dvc_plots` rewrites the section for another task (when a project adopts multiclass or regression data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml.tasks import Task

PLOTS_DIR = "reports/plots"


@dataclass(frozen=True)
class Plot:
    """One plot: its table ``<PLOTS_DIR>/<name>.csv`` and the DVC template and columns that draw it."""

    name: str
    title: str
    template: str
    x: str
    y: str

    @property
    def path(self) -> str:
        """The table's path from the repository root, as ``dvc.yaml`` names it."""
        return f"{PLOTS_DIR}/{self.name}.csv"


_IMPORTANCE_MEASURE = {Task.BINARY: "average precision", Task.MULTICLASS: "macro F1", Task.REGRESSION: "R²"}
"""What evaluate's permutation importance measures the drop of (its ``IMPORTANCE_SCORING``), in words."""


def _importance(task: Task) -> Plot:
    words = _IMPORTANCE_MEASURE[task]
    return Plot(
        "feature_importance", f"Feature importance (permutation, drop in {words})", "bar_horizontal", "importance",
        "feature",
    )  # fmt: skip


_CONFUSION = Plot("confusion", "Confusion matrix", "confusion", "actual", "predicted")

PLOTS: dict[Task, tuple[Plot, ...]] = {
    Task.BINARY: (
        Plot("roc", "ROC curve", "simple", "fpr", "tpr"),
        Plot("precision_recall", "Precision-recall curve", "simple", "recall", "precision"),
        _CONFUSION,
        Plot("calibration", "Calibration", "simple", "mean_predicted", "fraction_positive"),
        _importance(Task.BINARY),
    ),
    Task.MULTICLASS: (
        _CONFUSION,
        Plot("per_class_f1", "F1 per class", "bar_horizontal", "f1", "class"),
        _importance(Task.MULTICLASS),
    ),
    Task.REGRESSION: (
        Plot("predicted_actual", "Predicted vs actual", "scatter", "actual", "predicted"),
        Plot("residuals", "Residuals (actual - predicted) vs predicted", "scatter", "predicted", "residual"),
        _importance(Task.REGRESSION),
    ),
}
"""Task -> the plots the evaluate stage writes, in the order ``dvc.yaml`` lists them."""


def dvc_plots(task: Task) -> list[dict[str, Any]]:
    """The top-level ``plots:`` section of ``dvc.yaml`` for ``task``."""
    return [{p.title: {"template": p.template, "x": p.x, "y": {p.path: p.y}}} for p in PLOTS[task]]


def write_dvc_plots(dvc_yaml: Path, task: Task) -> bool:
    """Make ``dvc_yaml``'s ``plots:`` section the plots of ``task``, keeping the rest of the file and its comments.

    Returns whether the file changed. The stages (and so ``dvc.lock``) are untouched: DVC keeps top-level plots
    out of the lock.
    """
    from gitops_ml import params_yaml
    from gitops_ml.io import atomic_write

    text = dvc_yaml.read_text(encoding="utf-8")
    doc = params_yaml.load(text)
    if doc.get("plots") == dvc_plots(task):
        return False
    params_yaml.set_value(doc, "plots", dvc_plots(task))
    with atomic_write(dvc_yaml) as tmp:
        tmp.write_text(params_yaml.dump(doc), encoding="utf-8")
    return True
