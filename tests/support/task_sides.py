"""One side of a pull-request comparison for each task: a small real model, evaluated by the real evaluate stage.

:func:`write_side` lays out what a pipeline run leaves in a project (``params.yaml``, ``reports/data_summary.json``
in the agreed format, the evaluate stage's metrics, intervals, predictions and plot tables, the test split), so
``read_outputs`` and the report read it as they read a real run. The data is synthetic and seeded; ``strength``
sets how much the features tell about the target, so a head can be made better or worse than its base.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from gitops_ml import paths
from gitops_ml.config import SchemaParams, parse_params
from gitops_ml.io import write_json
from gitops_ml.pipeline.evaluate import run_evaluate
from gitops_ml.pipeline.features import model_frame, preprocessor
from gitops_ml.tasks import Task

CLASSES = ["sunny", "rain", "snow"]
COLUMNS = {
    "x1": {"type": "float"},
    "x2": {"type": "float"},
    "kind": {"type": "category", "categories": ["a", "b", "c"]},
}
SCHEMAS: dict[Task, dict[str, Any]] = {
    Task.BINARY: {"task": "binary", "target": "y", "columns": COLUMNS},
    Task.MULTICLASS: {"task": "multiclass", "target": "y", "classes": CLASSES, "columns": COLUMNS},
    Task.REGRESSION: {"task": "regression", "target": "y", "columns": COLUMNS},
}


def params_doc(task: Task, **sections: dict[str, Any]) -> dict[str, Any]:
    """A params.yaml document of ``task`` (tracking off, 50 bootstrap draws), with ``sections`` replaced."""
    doc: dict[str, Any] = {
        "project": {"name": "demo", "positive_label": "churned", "negative_label": "stayed"},
        "data": {"path": "data/demo.csv"},
        "schema": copy.deepcopy(SCHEMAS[task]),
        "evaluate": {"bootstrap": {"n_resamples": 50, "seed": 0}},
        "tracking": {"enabled": False},
    }
    return doc | sections


def task_frame(task: Task, rows: int = 800, seed: int = 0) -> pd.DataFrame:
    """Validated rows of ``task`` (the target encoded: class index, or the value)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    kind = rng.choice(["a", "b", "c"], size=rows)
    signal = x1 + 0.5 * x2 + (kind == "a") * 0.5 + rng.normal(scale=0.7, size=rows)
    if task is Task.BINARY:
        y: np.ndarray = (signal > 0.8).astype(np.int64)
    elif task is Task.MULTICLASS:
        y = np.digitize(signal, [-0.4, 0.6]).astype(np.int64)
    else:
        y = 20.0 + 3.0 * signal
    return pd.DataFrame({"x1": x1, "x2": x2, "kind": kind, "y": y})


def fitted(task: Task, schema: SchemaParams, train: pd.DataFrame, strength: float) -> Pipeline:
    """A fitted pipeline; a small ``strength`` regularises it towards knowing nothing."""
    model = Ridge(alpha=1 / strength) if task is Task.REGRESSION else LogisticRegression(C=strength, max_iter=1000)
    pipeline = Pipeline([("preprocess", preprocessor(schema)), ("model", model)])
    return pipeline.fit(model_frame(train, schema), train[schema.target].to_numpy())


def data_summary(task: Task, frame: pd.DataFrame, unlabelled_rows: int = 0) -> dict[str, Any]:
    """``reports/data_summary.json`` as the validate stage writes it (the agreed keys)."""
    y = frame["y"]
    summary: dict[str, Any] = {
        "md5": hashlib.md5(pd.util.hash_pandas_object(frame).to_numpy().tobytes(), usedforsecurity=False).hexdigest(),
        "rows": len(frame),
        "unlabelled_rows": unlabelled_rows,
        "columns": {name: spec["type"] for name, spec in COLUMNS.items()},
        "task": task.value,
    }
    if task is Task.BINARY:
        summary |= {"positives": int(y.sum()), "positive_rate": round(float(y.mean()), 6)}
    elif task is Task.MULTICLASS:
        summary["class_rows"] = {CLASSES[i]: int((y == i).sum()) for i in range(len(CLASSES))}
    else:
        summary |= {"target_min": float(y.min()), "target_max": float(y.max()), "target_mean": float(y.mean())}
    return summary


def write_side(
    root: Path, task: Task, strength: float = 1.0, seed: int = 0, unlabelled_rows: int = 0, **sections: Any
) -> Path:
    """Write one evaluated side of ``task`` under ``root`` (see the module docstring); return ``root``."""
    doc = params_doc(task, **sections)
    params = parse_params(doc)
    frame = task_frame(task, seed=seed)
    train, test = frame.iloc[: len(frame) * 3 // 4], frame.iloc[len(frame) * 3 // 4 :]
    (root / paths.TEST).parent.mkdir(parents=True, exist_ok=True)
    test.to_parquet(root / paths.TEST, index=False)
    (root / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    write_json(root / paths.DATA_SUMMARY, data_summary(task, frame, unlabelled_rows))
    labels = (params.project.negative_label, params.project.positive_label)
    model = fitted(task, params.schema, train, strength)
    run_evaluate(model, root / paths.TEST, params.schema, params.evaluate, 0, root / paths.REPORTS, labels)
    return root
