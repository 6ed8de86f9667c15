"""Materialise BASE's pipeline outputs without touching the working tree, and read them as the PR report needs them.

:func:`base_outputs` makes BASE's outputs in a temporary worktree with
:func:`~gitops_ml.gitops.commit_worktree.materialised` (shared DVC cache and run-cache, data from the cache, the
remote or BASE's own sample, in-process ``dvc repro``) and reads them with :func:`read_outputs`, which also reads
the working tree's side. An unchanged base is restored from the run-cache in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
class Outputs:
    """What one pipeline run wrote, as the report needs it."""

    params: dict[str, Any]
    data_summary: dict[str, Any]
    side: Side
    roc: pd.DataFrame
    precision_recall: pd.DataFrame
    confusion: dict[str, int]  # tn, fp, fn, tp


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


def read_confusion(path: Path, labels: tuple[str, str]) -> dict[str, int]:
    """Counts (tn, fp, fn, tp) of the confusion plot table, whose classes are named by ``labels`` (negative, positive).

    Read as text, so labels such as ``1``, ``true`` or ``NA`` stay themselves. A value that is neither label means
    the table was written under other labels: :class:`CompareError`.
    """
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    negative, positive = labels
    for column in ("actual", "predicted"):
        unknown = sorted(set(table[column]) - {negative, positive})
        if unknown:
            raise CompareError(
                f"{path}: {column} holds {unknown[:3]}, neither project.negative_label ({negative!r}) nor "
                f"project.positive_label ({positive!r}); rerun the evaluate stage (`dvc repro`)"
            )
    actual, predicted = table["actual"] == positive, table["predicted"] == positive
    return {
        "tn": int((~actual & ~predicted).sum()),
        "fp": int((~actual & predicted).sum()),
        "fn": int((actual & ~predicted).sum()),
        "tp": int((actual & predicted).sum()),
    }


def read_outputs(root: Path) -> Outputs:
    """Read the outputs of the pipeline run in ``root``; a missing one raises :class:`CompareError`."""
    needed = [
        root / "params.yaml",
        root / paths.DATA_SUMMARY,
        root / paths.METRICS,
        root / paths.METRICS_CI,
        root / paths.PREDICTIONS,
        root / paths.PLOTS / "roc.csv",
        root / paths.PLOTS / "precision_recall.csv",
        root / paths.PLOTS / "confusion.csv",
    ]
    missing = [str(p.relative_to(root)) for p in needed if not p.exists()]
    if missing:
        raise CompareError(f"{root}: pipeline outputs missing ({', '.join(missing)}); run `make repro` first")
    params = load_yaml((root / "params.yaml").read_text(encoding="utf-8")) or {}
    metrics = read_json(root / paths.METRICS)
    try:
        outcome = read_predictions(root / paths.PREDICTIONS, task_of(params), float(metrics.get("threshold", 0.5)))
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
        roc=pd.read_csv(root / paths.PLOTS / "roc.csv"),
        precision_recall=pd.read_csv(root / paths.PLOTS / "precision_recall.csv"),
        confusion=read_confusion(root / paths.PLOTS / "confusion.csv", class_labels(params)),
    )


def base_outputs(repo: Path, commit: str, say: Callable[[str], None] = print) -> Outputs:
    """Run (or restore) BASE's pipeline in a temporary worktree sharing this repo's DVC cache; read its outputs."""
    try:
        with materialised(repo, commit, label="the base side", say=say) as path:
            return read_outputs(path)
    except MaterialiseError as exc:
        raise CompareError(str(exc)) from None
