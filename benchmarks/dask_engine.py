"""Dask engine benchmark: each stage in memory against the same stage on a local Dask cluster of 2 workers.

For each size (1M and 10M rows; the quick run: a few thousand), a temporary project copy gets that many rows of the
sample (a CSV, as the pipeline benchmark), ``train.estimator: lightgbm`` and no MLflow. Then each stage command
(validate, split, train, evaluate, and ``score`` of the raw data) runs twice, ``compute.engine: local`` then
``dask`` (a ``LocalCluster`` of 2 workers with ``WORKER_MEMORY`` each, started by the stage), its process tree
sampled every 50 ms (:func:`benchmarks.common.measure`).

Reported per size, engine and stage: wall time, rows per second (the stage's input rows over its wall time, the
cluster's start included), the peak memory of the command's own process (the client) and of the largest worker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import WORK, Measured, bench_env, copy_project, load_average, measure, sh, use_sample_rows
from gitops_ml import params_yaml

STAGES = ("validate", "split", "train", "evaluate", "score")
ENGINES = ("local", "dask")
WORKERS = 2
WORKER_MEMORY = "4GiB"
"""Each worker's limit: LightGBM holds each worker's share of the training matrix several times over while it
trains (10M rows: about 0.55 GB of float32 per worker)."""
MB = 2**20
WORKER_MARK = "spawn_main"
"""In a command line: a worker process of the local cluster (started by multiprocessing's spawn)."""


def configure(project: Path, engine: str) -> None:
    """Set the engine (2 workers, :data:`WORKER_MEMORY` each), LightGBM and no MLflow in the copy's params.yaml."""
    path = project / "params.yaml"
    doc = params_yaml.load(path.read_text())
    params_yaml.set_value(doc["compute"], "engine", engine)
    params_yaml.set_value(doc["compute"], "workers", WORKERS)
    params_yaml.set_value(doc["compute"], "memory_limit", WORKER_MEMORY)
    params_yaml.set_value(doc["train"], "estimator", "lightgbm")
    params_yaml.set_value(doc["tracking"], "enabled", False)
    path.write_text(params_yaml.dump(doc))


def peaks(run: Measured) -> dict[str, float]:
    """Peak RSS (MB) of the command's own process and of its largest worker process (0 without workers)."""
    workers = [p.peak_rss for p in run.processes.values() if WORKER_MARK in p.cmdline]
    clients = [p.peak_rss for p in run.processes.values() if "gitops-ml" in p.cmdline and WORKER_MARK not in p.cmdline]
    return {
        "client_peak_mb": round(max(clients, default=0) / MB, 1),
        "worker_peak_mb": round(max(workers, default=0) / MB, 1),
    }


def stage_command(stage: str, project: Path) -> list[str]:
    """The command of one stage (``score`` scores the raw data into a scratch directory)."""
    if stage == "score":
        return ["gitops-ml", "score", "--in", "data/transactions.csv", "--out", str(project / "scored"), "--model",
                "current"]  # fmt: skip
    return ["gitops-ml", stage]


def bench_size(rows: int, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Every stage with each engine at ``rows`` rows."""
    base = WORK / "dask_engine" / f"{rows}"
    project = copy_project(base / "project", base / "dvc-cache")
    say(f"dask_engine: {rows} rows: generating data")
    use_sample_rows(project, rows)
    engines: dict[str, Any] = {}
    for engine in ENGINES:
        configure(project, engine)
        stages: dict[str, Any] = {}
        for stage in STAGES:
            say(f"dask_engine: {rows} rows: {engine}: {stage}")
            load = load_average()
            run = measure(stage_command(stage, project), project, env=bench_env())
            stages[stage] = {
                "wall_s": round(run.wall_s, 2),
                "rows_per_s": round(rows / run.wall_s),
                **peaks(run),
                "load_average_1m": load,
            }
        engines[engine] = stages
        sh(["rm", "-rf", "artifacts", "models", "reports", "scored"], project)
    return {"rows": rows, "engines": engines}


def bench(sizes: list[int], say: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole benchmark: every size; plus how the cluster was set up."""
    return {
        "workers": WORKERS,
        "worker_memory": WORKER_MEMORY,
        "estimator": "lightgbm",
        "sizes": [bench_size(rows, say) for rows in sizes],
    }
