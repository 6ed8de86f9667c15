"""Materialise BASE's pipeline outputs without touching the working tree, and read them as the PR report needs them.

:func:`base_outputs` makes BASE's outputs in a temporary worktree with
:func:`~gitops_ml.gitops.commit_worktree.materialised` (shared DVC cache and run-cache, data from the cache, the
remote or BASE's own sample, in-process ``dvc repro``) and reads them with :func:`read_outputs`, which also reads
the working tree's side. An unchanged base is restored from the run-cache in seconds.

Each side is read as its own task (``schema.task`` of its params.yaml), so a pull request that changes the task
still gets a report. The plot tables the report draws (:data:`REPORT_PLOTS`) hold every test row: binary ROC,
precision-recall and confusion; multiclass confusion and F1 per class. A regression model's plot tables are a
sample, so its charts are drawn from ``predictions.parquet`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml import paths
from gitops_ml.config import ProjectParams
from gitops_ml.errors import CompareError, MaterialiseError
from gitops_ml.gitops.commit_worktree import materialised
from gitops_ml.gitops.compare import Side
from gitops_ml.io import load_yaml, read_json
from gitops_ml.predictions import read_predictions
from gitops_ml.tasks import DEFAULT_TASK, Task
from gitops_ml.vcs import file_md5


@dataclass(frozen=True)
class BinaryPlots:
    """A binary model's plot tables, as the report draws them."""

    roc: pd.DataFrame
    precision_recall: pd.DataFrame
    confusion: dict[str, int]  # tn, fp, fn, tp


@dataclass(frozen=True)
class ClassPlots:
    """A multiclass model's plot tables, as the report draws them, in the order of its classes."""

    classes: list[str]
    confusion: list[list[int]]  # rows: actual class, columns: predicted class
    f1: list[float]


@dataclass(frozen=True)
class Outputs:
    """What one pipeline run wrote, as the report needs it."""

    params: dict[str, Any]
    data_summary: dict[str, Any]
    side: Side
    plots: BinaryPlots | ClassPlots | None
    """The plot tables the report draws; None for regression (its charts come from the predictions)."""

    @property
    def task(self) -> Task:
        """The task of the side's model."""
        return self.side.outcome.task


REPORT_PLOTS: dict[Task, tuple[str, ...]] = {
    Task.BINARY: ("roc", "precision_recall", "confusion"),
    Task.MULTICLASS: ("confusion", "per_class_f1"),
    Task.REGRESSION: (),
}
"""Per task, the evaluate stage's plot tables (``reports/plots/<name>.csv``) the report reads."""


def _test_set_id(root: Path) -> str:
    lock = root / "dvc.lock"
    if lock.exists():
        stages = (load_yaml(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
        for out in stages.get("split", {}).get("outs", []):
            if out.get("path") == str(paths.TEST) and out.get("md5"):
                return str(out["md5"])
    test = root / paths.TEST
    if test.exists():
        return file_md5(test)
    return "unknown"


def task_of(params: Any) -> Task:
    """The task of a side's raw params.yaml (``schema.task``; binary when it names none, as before tasks)."""
    schema = params.get("schema") if isinstance(params, dict) else None
    name = schema.get("task", DEFAULT_TASK.value) if isinstance(schema, dict) else DEFAULT_TASK.value
    try:
        return Task(name)
    except ValueError:
        raise CompareError(f"params.yaml: schema.task {name!r} is not one of {', '.join(Task)}") from None


def class_labels(params: Any) -> tuple[str, str]:
    """(negative, positive) label of a side's raw params.yaml (``project:``), as its evaluate named the classes."""
    project = params.get("project") if isinstance(params, dict) else None
    project = project if isinstance(project, dict) else {}
    defaults = ProjectParams()
    negative = project.get("negative_label", defaults.negative_label)
    positive = project.get("positive_label", defaults.positive_label)
    return str(negative), str(positive)


def class_names(params: Any) -> list[str]:
    """A multiclass side's classes as text, in class index order (``schema.classes`` of its raw params.yaml)."""
    schema = params.get("schema") if isinstance(params, dict) else None
    classes = schema.get("classes") if isinstance(schema, dict) else None
    if not isinstance(classes, list) or not classes:
        raise CompareError("params.yaml: a multiclass schema needs a list of classes under schema.classes")
    return [str(c) for c in classes]


def read_confusion_matrix(path: Path, classes: Sequence[str], named: str = "schema.classes") -> list[list[int]]:
    """Counts of the confusion plot table (one row per test row): rows the actual class, columns the predicted one,
    in the order of ``classes`` (the class names the table uses, which ``named`` says where they come from).

    Read as text, so names such as ``1``, ``true`` or ``NA`` stay themselves. A name not among ``classes`` means
    the table was written under other names: :class:`CompareError`.
    """
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    index = {name: i for i, name in enumerate(classes)}
    for column in ("actual", "predicted"):
        unknown = sorted(set(table[column]) - index.keys())
        if unknown:
            raise CompareError(
                f"{path}: {column} holds {unknown[:3]}, not one of {named} ({', '.join(map(repr, classes))}); "
                "rerun the evaluate stage (`dvc repro`)"
            )
    k = len(classes)
    cells = table["actual"].map(index).to_numpy(dtype=np.int64) * k + table["predicted"].map(index).to_numpy(
        dtype=np.int64
    )
    counts = np.bincount(cells, minlength=k * k).reshape(k, k)
    return [[int(v) for v in row] for row in counts]


def read_confusion(path: Path, labels: tuple[str, str]) -> dict[str, int]:
    """Counts (tn, fp, fn, tp) of a binary confusion plot table, whose classes are named by ``labels`` (negative,
    positive: ``project.negative_label`` and ``project.positive_label``)."""
    (tn, fp), (fn, tp) = read_confusion_matrix(path, labels, "project.negative_label and project.positive_label")
    return {"tn": tn, "fp": fp, "fn": fn, "tp": tp}


def read_class_f1(path: Path, classes: Sequence[str]) -> list[float]:
    """F1 of each of ``classes`` (in that order) from the ``per_class_f1`` plot table."""
    table = pd.read_csv(path, dtype={"class": str}, keep_default_na=False)
    f1 = dict(zip(table["class"], pd.to_numeric(table["f1"], errors="coerce"), strict=True))
    values = [float(f1.get(name, np.nan)) for name in classes]
    if set(f1) != set(classes) or not all(0 <= v <= 1 for v in values):  # NaN fails the range check too
        raise CompareError(
            f"{path}: does not give an F1 between 0 and 1 to each of schema.classes ({', '.join(map(repr, classes))})"
            "; rerun the evaluate stage (`dvc repro`)"
        )
    return values


def _read_plots(root: Path, task: Task, params: Any) -> BinaryPlots | ClassPlots | None:
    plots = root / paths.PLOTS
    if task is Task.BINARY:
        return BinaryPlots(
            roc=pd.read_csv(plots / "roc.csv"),
            precision_recall=pd.read_csv(plots / "precision_recall.csv"),
            confusion=read_confusion(plots / "confusion.csv", class_labels(params)),
        )
    if task is Task.MULTICLASS:
        classes = class_names(params)
        confusion = read_confusion_matrix(plots / "confusion.csv", classes)
        return ClassPlots(classes, confusion, read_class_f1(plots / "per_class_f1.csv", classes))
    return None


def read_outputs(root: Path) -> Outputs:
    """Read the outputs of the pipeline run in ``root``; a missing one raises :class:`CompareError`."""
    params_file = root / "params.yaml"
    params = (load_yaml(params_file.read_text(encoding="utf-8")) or {}) if params_file.exists() else {}
    task = task_of(params)  # the plot tables needed depend on it; a missing params.yaml is named below
    needed = [
        params_file,
        root / paths.DATA_SUMMARY,
        root / paths.METRICS,
        root / paths.METRICS_CI,
        root / paths.PREDICTIONS,
        *(root / paths.PLOTS / f"{name}.csv" for name in REPORT_PLOTS[task]),
    ]
    missing = [str(p.relative_to(root)) for p in needed if not p.exists()]
    if missing:
        raise CompareError(f"{root}: pipeline outputs missing ({', '.join(missing)}); run `make repro` first")
    metrics = read_json(root / paths.METRICS)
    try:
        outcome = read_predictions(root / paths.PREDICTIONS, task, float(metrics.get("threshold", 0.5)))
    except ValueError as exc:
        raise CompareError(f"{exc}; rerun the evaluate stage (`dvc repro`)") from None
    side = Side(
        metrics=metrics,
        intervals=read_json(root / paths.METRICS_CI).get("metrics", {}),
        outcome=outcome,
        test_set_id=_test_set_id(root),
    )
    return Outputs(
        params=params,
        data_summary=read_json(root / paths.DATA_SUMMARY),
        side=side,
        plots=_read_plots(root, task, params),
    )


def base_outputs(repo: Path, commit: str, say: Callable[[str], None] = print) -> Outputs:
    """Run (or restore) BASE's pipeline in a temporary worktree sharing this repo's DVC cache; read its outputs."""
    try:
        with materialised(repo, commit, label="the base side", say=say) as path:
            return read_outputs(path)
    except MaterialiseError as exc:
        raise CompareError(str(exc)) from None
