"""Pipeline benchmark: ``dvc repro`` of the template against a bare one-process script, at several data sizes.

For each size, a temporary copy of the project gets that many rows of the sample data (tracked by DVC and
committed, as a user's own data would be). Then, in the same copy, alternately:

- the bare script (``benchmarks/bare_script.py``): read, split, fit the same sklearn Pipeline, score;
- the whole pipeline from scratch: ``dvc repro --force --no-run-cache`` (validate, split, train, evaluate with
  the MLflow run), its process tree sampled every 50 ms for each stage's wall time and peak memory.

Reported per size: wall time, CPU time and peak memory of both, each stage's wall time and peak memory, the DVC
bookkeeping between stages, and the ratio pipeline / bare. Peak memory is then fitted by a line in rows.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, WORK, Measured, bench_env, copy_project, load_average, measure, use_sample_rows

STAGES = ("validate", "split", "train", "evaluate", "drift_reference")
STAGE_PATTERN = re.compile(r"gitops-ml ([a-z][\w-]*)")
"""A ``gitops-ml`` command in a command line; its stage is the command with ``-`` read as ``_`` (:func:`stage_of`)."""
MLFLOW_RUN = "mlflow_run"
"""The evaluate stage's MLflow process (``python -m gitops_ml.tracking_background``): it runs beside the stage, so
its time is reported apart and not counted in the stages' (nor taken from DVC's share)."""
MEASURED = (*STAGES, MLFLOW_RUN)
"""The processes :func:`stage_breakdown` reports."""


def stage_of(cmdline: str) -> str | None:
    """The ``gitops-ml`` command in ``cmdline`` as a stage name (``drift-reference`` -> ``drift_reference``), or
    :data:`MLFLOW_RUN` for the evaluate stage's MLflow process."""
    if "-m gitops_ml.tracking_background" in cmdline:
        return MLFLOW_RUN
    match = STAGE_PATTERN.search(cmdline)
    return match.group(1).replace("-", "_") if match else None


MB = 2**20


def stage_breakdown(run: Measured) -> dict[str, dict[str, float]]:
    """Wall time and peak RSS of each stage process seen while ``dvc repro`` ran (and of evaluate's MLflow process)."""
    stages: dict[str, dict[str, float]] = {}
    for sample in run.processes.values():
        name = stage_of(sample.cmdline)
        if name not in MEASURED:
            continue
        seen = stages.setdefault(name, {"start_s": sample.first_s, "end_s": sample.last_s, "peak_rss_mb": 0.0})
        seen["start_s"] = min(seen["start_s"], sample.first_s)
        seen["end_s"] = max(seen["end_s"], sample.last_s)
        seen["peak_rss_mb"] = max(seen["peak_rss_mb"], sample.peak_rss / MB)
    return {
        name: {
            "wall_s": round(s["end_s"] - s["start_s"], 2),
            "peak_rss_mb": round(s["peak_rss_mb"], 1),
        }
        for name in MEASURED
        if (s := stages.get(name))
    }


def run_pipeline(project: Path) -> dict[str, Any]:
    """One measured ``dvc repro`` of every stage (no run-cache, so every stage computes)."""
    load = load_average()
    run = measure(["dvc", "repro", "--force", "--no-run-cache"], project)
    stages = stage_breakdown(run)
    missing = [s for s in STAGES if s not in stages]
    if missing:  # a stage shorter than the sampling interval would be missed: say so rather than guess
        raise RuntimeError(f"no process seen for stage(s) {missing} in `dvc repro`; output:\n{run.stdout[-2000:]}")
    return {
        "wall_s": round(run.wall_s, 2),
        "cpu_s": round(run.cpu_s, 2),
        "peak_rss_mb": round(run.peak_rss_bytes / MB, 1),
        "stages": stages,
        "dvc_overhead_s": round(run.wall_s - sum(stages[name]["wall_s"] for name in STAGES), 2),
        "load_average_1m": load,
    }


def run_bare(project: Path) -> dict[str, Any]:
    """One measured run of the bare script in ``project``."""
    load = load_average()
    script = ROOT / "benchmarks" / "bare_script.py"
    # The same OpenMP wait policy the package sets for the pipeline (gitops_ml/__init__.py), so the ratio
    # measures the template's overhead, not the thread policy (docs/performance.md shows that effect).
    env = bench_env({"PYTHONPATH": str(ROOT / "src"), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive")})
    run = measure(["python", str(script)], project, env=env)
    parts = json.loads(run.stdout.strip().splitlines()[-1])
    return {
        "wall_s": round(run.wall_s, 2),
        "cpu_s": round(run.cpu_s, 2),
        "peak_rss_mb": round(run.peak_rss_bytes / MB, 1),
        "parts": {k: round(v, 2) for k, v in parts.items() if k.endswith("_s")},
        "average_precision": parts["metric_average_precision"],
        "load_average_1m": load,
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (an actual run, so its parts add up)."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    return ordered[(len(ordered) - 1) // 2] | {"all_wall_s": [r["wall_s"] for r in runs]}


def bench_size(rows: int, repeats: int, say: Any = print) -> dict[str, Any]:
    """Pipeline and bare script at ``rows`` rows, ``repeats`` times each (interleaved); median runs kept."""
    base = WORK / "pipeline" / f"{rows}"
    project = copy_project(base / "project", base / "dvc-cache")
    say(f"pipeline: {rows} rows: generating data")
    use_sample_rows(project, rows)
    bare_runs, pipeline_runs = [], []
    for i in range(repeats):
        say(f"pipeline: {rows} rows: bare script (run {i + 1}/{repeats})")
        bare_runs.append(run_bare(project))
        say(f"pipeline: {rows} rows: dvc repro (run {i + 1}/{repeats})")
        pipeline_runs.append(run_pipeline(project))
    bare, pipeline = _median_run(bare_runs), _median_run(pipeline_runs)
    return {
        "rows": rows,
        "bare": bare,
        "pipeline": pipeline,
        "ratio_wall": round(pipeline["wall_s"] / bare["wall_s"], 3),
        "ratio_cpu": round(pipeline["cpu_s"] / bare["cpu_s"], 3),
        "overhead_s": round(pipeline["wall_s"] - bare["wall_s"], 2),
    }


def linear_fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least-squares line ``y = intercept + slope * x`` and the largest relative gap of a point from it."""
    if len(xs) < 2:
        return {"intercept": ys[0] if ys else 0.0, "slope": 0.0, "max_relative_gap": 0.0}
    slope, intercept = statistics.linear_regression(xs, ys)
    gap = max(abs(y - (intercept + slope * x)) / y for x, y in zip(xs, ys, strict=True))
    return {"intercept": intercept, "slope": slope, "max_relative_gap": round(gap, 3)}


def bench(sizes: list[int], repeats: int, say: Any = print) -> dict[str, Any]:
    """The whole pipeline benchmark: every size, then the memory-growth fit and the 1.3x target check."""
    results = [bench_size(rows, repeats if rows < 1_000_000 else 1, say) for rows in sizes]
    rows = [r["rows"] for r in results]
    peaks = [r["pipeline"]["peak_rss_mb"] for r in results]
    memory = linear_fit(rows, peaks)
    largest = results[-1]
    return {
        "sizes": results,
        "memory_fit": {
            "fixed_mb": round(memory["intercept"], 1),
            "mb_per_100k_rows": round(memory["slope"] * 100_000, 1),
            "max_relative_gap": memory["max_relative_gap"],
        },
        "target": {
            "rows": largest["rows"],
            "ratio_wall": largest["ratio_wall"],
            "limit": 1.3,
            "met": largest["ratio_wall"] <= 1.3,
            "applies": largest["rows"] >= 1_000_000,
        },
    }
