"""``reports/predictions.parquet``: each test row's true target and the model's prediction, for paired comparisons.

The ``evaluate`` stage writes it; the pull-request report reads both sides' to bootstrap the difference on the
same rows. Columns: ``label`` (the validated target: class index, or the value for regression) and the prediction:
``score`` (binary: the positive class's probability), ``score_0`` ... ``score_<k-1>`` (multiclass: one probability
per class, in ``schema.classes`` order) or ``prediction`` (regression: the predicted value).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gitops_ml.io import atomic_write
from gitops_ml.model_metrics import Outcome
from gitops_ml.tasks import Task

LABEL = "label"


def prediction_columns(task: Task, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """The prediction's columns of the predictions file, named as the module docstring says."""
    if task is Task.MULTICLASS:
        return {f"score_{i}": predicted[:, i] for i in range(predicted.shape[1])}
    return {"prediction" if task is Task.REGRESSION else "score": predicted}


def write_predictions(path: Path, outcome: Outcome) -> None:
    """Write ``outcome``'s targets and predictions to ``path`` (atomically)."""
    frame = pd.DataFrame({LABEL: outcome.y, **prediction_columns(outcome.task, outcome.predicted)})
    with atomic_write(path) as tmp:
        frame.to_parquet(tmp, index=False)


def read_predictions(path: Path, task: Task, threshold: float = 0.5) -> Outcome:
    """Read a predictions file written for ``task``; raise ValueError naming the columns a file of it lacks."""
    frame = pd.read_parquet(path)
    predicted: np.ndarray | None
    if task is Task.MULTICLASS:
        names = sorted((c for c in frame.columns if c.startswith("score_")), key=lambda c: int(c.split("_")[1]))
        predicted = frame[names].to_numpy(dtype=np.float64) if names else None
    else:
        name = "prediction" if task is Task.REGRESSION else "score"
        predicted = frame[name].to_numpy(dtype=np.float64) if name in frame.columns else None
    if predicted is None or LABEL not in frame.columns:
        raise ValueError(
            f"{path}: not a predictions file of a {task.value} model (columns: {', '.join(frame.columns)})"
        )
    return Outcome.of(task, frame[LABEL].to_numpy(), predicted, threshold)
