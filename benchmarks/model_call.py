"""Model-call benchmark: the service's model call alone, for every registered estimator x task, fast path vs generic.

Per task (binary: the built-in sample; multiclass: daily weather of 5 classes with a date; regression: cars with a
category and a date-like model year; seeded tables of ``tests/support/task_data.py``) and per estimator the registry
offers for it, a model is fitted with the estimator's default hyperparameters (200 trees for HistGradientBoosting,
LightGBM, XGBoost and the random forest), saved and loaded back through skops as the service loads it, and
``scorer.column_scorer`` builds the service's scorer (the compiled path, or the generic one, saying why). Then, on
one thread, calls of 1 and of 20 held-out records, handed over as the service's batcher hands them (plain Python
values per column, None for missing), are timed through that scorer ("fast") and through the generic path
(``score_frame`` on a DataFrame per call, what the service does without the compiled path).

Goal (issue #23): a one-record model call of at most 0.3 ms p50 for every estimator and task. No test asserts a
timing; the tests check the harness on fake results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import WORK
from gitops_ml.config import Estimator, Params, SchemaParams, TrainParams, load_params
from gitops_ml.tasks import Task

GOAL_MS = 0.3
RECORD_SIZES = (1, 20)
HELD_OUT = 200
"""Held-out rows the timed calls cycle through."""


def task_tables(rows: int, directory: Path) -> dict[Task, tuple[SchemaParams, pd.DataFrame]]:
    """Per task: its contract and ``rows`` training rows plus :data:`HELD_OUT` more, the target encoded."""
    from tests.support.fixture_project import FIXTURE_PARAMS
    from tests.support.task_data import cars_schema, encoded_weather, labelled_cars, weather_schema

    from gitops_ml.pipeline.interface import sample_writer

    binary: Params = load_params(FIXTURE_PARAMS)
    size = rows + HELD_OUT
    sample = pd.read_csv(sample_writer()(directory / "sample.csv", size, 7))
    return {
        Task.BINARY: (binary.schema, sample),
        Task.MULTICLASS: (weather_schema(), encoded_weather(rows=size + size // 50)),
        Task.REGRESSION: (cars_schema(), labelled_cars(rows=size + size // 20)),
    }


def served_columns(frame: pd.DataFrame, schema: SchemaParams) -> dict[str, list[Any]]:
    """The rows' features as the service's batcher hands them over: JSON-like values per column, None for missing."""
    from tests.support.serving import to_records

    records = to_records(frame, schema)
    return {name: [record[name] for record in records] for name in schema.feature_names}


def times_ms(call: Callable[[int], Any], repeats: int) -> dict[str, float]:
    """p50 and p99 milliseconds of ``call(0)``, ``call(1)``, ... after a warm-up."""
    for i in range(min(20, repeats)):
        call(i)
    ms = []
    for i in range(repeats):
        started = time.perf_counter()
        call(i)
        ms.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4)}


def measure(
    name: str, schema: SchemaParams, frame: pd.DataFrame, rows: int, repeats: int, directory: Path
) -> dict[str, Any]:
    """Fit estimator ``name`` on the first ``rows`` rows, load it back as the service does, time both paths."""
    from threadpoolctl import threadpool_limits

    from gitops_ml.model_call.scorer import column_scorer
    from gitops_ml.model_io import load_model, save_model
    from gitops_ml.pipeline.interface import build_model, model_frame, score_frame

    train, held_out = frame.iloc[:rows], frame.iloc[rows : rows + HELD_OUT]
    model = build_model(schema, TrainParams.model_validate({"estimator": name}))
    model.fit(model_frame(train, schema), train[schema.target].to_numpy())
    model = load_model(save_model(model, directory / f"{name}-{schema.task.value}.skops"))
    started = time.perf_counter()
    scorer = column_scorer(model, schema)
    cell: dict[str, Any] = {
        "task": schema.task.value,
        "estimator": name,
        "path": scorer.path,
        "scorer_build_s": round(time.perf_counter() - started, 2),
        "fast": {},
        "generic": {},
    }
    with threadpool_limits(1):
        for size in RECORD_SIZES:
            batches = [served_columns(held_out.iloc[i : i + size], schema) for i in range(0, HELD_OUT, size)]

            def fast(i: int, b: list[dict[str, list[Any]]] = batches) -> Any:
                return scorer(b[i % len(b)])

            def generic(i: int, b: list[dict[str, list[Any]]] = batches) -> Any:
                return score_frame(model, pd.DataFrame(b[i % len(b)]), schema)

            cell["fast"][str(size)] = times_ms(fast, repeats)
            cell["generic"][str(size)] = times_ms(generic, max(20, repeats // 10))  # milliseconds each
    one = cell["fast"]["1"]["p50_ms"]
    cell["goal_met"] = scorer.path.startswith("fast: ") and one <= GOAL_MS
    return cell


def targets(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's goal: every estimator x task's one-record call at most :data:`GOAL_MS` ms p50, on the fast path."""
    missed = [f"{c['estimator']} {c['task']}" for c in cells if not c["goal_met"]]
    worst = max(cells, key=lambda c: c["fast"]["1"]["p50_ms"])
    return {
        "model_call_1_record_p50_ms": {
            "limit": GOAL_MS,
            "worst": {"estimator": worst["estimator"], "task": worst["task"], "p50_ms": worst["fast"]["1"]["p50_ms"]},
            "missed": missed,
            "met": not missed,
        }
    }


def estimator_names(task: Task) -> list[str]:
    """The estimators ``train.estimator`` may name for ``task``, in the registry's order."""
    return [e.value for e in Estimator if task in TrainParams(estimator=e).estimator_params.tasks]


def bench(quick: bool, say: Callable[[str], None] = print, rows: int = 10_000) -> dict[str, Any]:
    """Every registered estimator x task it supports: fit, build the service's scorer, time 1 and 20 records."""
    repeats = 300 if quick else 3000
    directory = WORK / "model_call"
    directory.mkdir(parents=True, exist_ok=True)
    cells = []
    for task, (schema, frame) in task_tables(rows, directory).items():
        for name in estimator_names(task):
            say(f"model_call: {name} {task.value}: fitting on {rows} rows, compiling, timing")
            cell = measure(name, schema, frame, rows, repeats, directory)
            say(
                f"model_call: {name} {task.value}: 1 record p50 {cell['fast']['1']['p50_ms']:.3f} ms "
                f"(generic {cell['generic']['1']['p50_ms']:.2f} ms); {cell['path']}"
            )
            cells.append(cell)
    return {"model_rows": rows, "repeats": repeats, "goal_ms": GOAL_MS, "cells": cells, "targets": targets(cells)}
